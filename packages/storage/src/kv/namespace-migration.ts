import { KvClient, type KvEndpoints } from './client.ts';
import { callKv } from './http-call.ts';
import { appNamespace, serviceNamespace } from './namespaces.ts';
import type { KvQuota } from './quotas.ts';
import { setKvQuota } from './quota-admin.ts';

/** One namespace of the old layout and where its keys go. */
export interface NamespaceMove {
  from: string;
  to: string;
  /** Copy its quota override too (apps have one of their own; a service's is the resource's default). */
  quota: boolean;
}

/**
 * The moves that bring a kv resource of the old layout (a service's keys under its bare name,
 * an app's under `app-NAME`) to `svc.NAME` and `app.NAME`. A store belongs to one service, so
 * only its own service and its apps ever wrote to it. Where the old layout had them collide (the
 * service is named `app-X` and an app `X` uses the store), the keys were one set and cannot be
 * told apart: they stay the service's, and the app starts empty.
 */
export function legacyMoves(service: string, apps: readonly string[]): NamespaceMove[] {
  const moves: NamespaceMove[] = [{ from: service, to: serviceNamespace(service), quota: false }];
  for (const app of apps) if (`app-${app}` !== service) moves.push({ from: `app-${app}`, to: appNamespace(app), quota: true });
  return moves;
}

/**
 * Copy each old namespace's live keys (value and remaining TTL) into its new namespace, with its
 * quota override, then delete them from the old one; through one site's server, so replication
 * carries it to the others like any write. A key already in the new namespace is newer and kept
 * (`ifVersion: 0`). Safe to run again after a failure part way: what was moved is gone from the old
 * namespace. Returns how many keys moved. Versions start again at 1 in the new namespace.
 */
export async function moveNamespaces(credentials: KvEndpoints, site: string, moves: readonly NamespaceMove[]): Promise<number> {
  let moved = 0;
  const url = credentials.endpoints[site]!;
  for (const { from, to, quota } of moves) {
    if (quota) {
      const old = await callKv<{ quota: KvQuota }>(url, { method: 'GET', path: `/quotas/${encodeURIComponent(from)}`, secret: credentials.secret, timeoutMs: 5000 });
      await setKvQuota(credentials, to, old.quota);
    }
    const target = new KvClient({ credentials, namespace: to, site });
    for (;;) {
      const page = await callKv<{ items: Array<{ key: string; value: unknown; expiresAt: number | null }>; cursor: string | null }>(url, {
        method: 'GET', path: `/kv/${encodeURIComponent(from)}?limit=1000`, secret: credentials.secret, timeoutMs: 5000,
      });
      if (page.items.length === 0) break;
      for (const item of page.items) {
        const ttlMs = item.expiresAt === null ? undefined : item.expiresAt - Date.now();
        if (ttlMs === undefined || ttlMs > 0) {
          await target.put(item.key, item.value, { ifVersion: 0, ...(ttlMs !== undefined ? { ttlMs: Math.max(1, Math.floor(ttlMs)) } : {}) }).catch((err: unknown) => {
            if ((err as { code?: string }).code !== 'CONFLICT') throw err;
          });
        }
        await callKv(url, { method: 'DELETE', path: `/kv/${encodeURIComponent(from)}/${encodeURIComponent(item.key)}`, secret: credentials.secret, timeoutMs: 5000 });
        moved++;
      }
    }
  }
  return moved;
}
