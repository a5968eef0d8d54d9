import { StorageError } from '../provisioner.ts';
import { callKv } from './http-call.ts';
import type { KvQuota, KvUsage } from './quotas.ts';

/**
 * Set a namespace's quota on every site of a kv resource (each site keeps and enforces its own;
 * `maxKeys`/`maxBytes` null goes back to the resource's default). Throws STORAGE_UNAVAILABLE
 * naming the sites it could not reach, after setting the others: run it again once they are up.
 *
 * @example
 * await setKvQuota(provisioner.credentials(spec, state), 'app-1', { maxKeys: 10_000, maxBytes: 50 * 1024 * 1024 });
 */
export async function setKvQuota(
  credentials: { endpoints: Record<string, string>; secret: string },
  namespace: string,
  quota: { maxKeys?: number | null; maxBytes?: number | null },
): Promise<Record<string, { quota: KvQuota; usage: KvUsage }>> {
  const results = await Promise.allSettled(Object.entries(credentials.endpoints).map(async ([site, url]) => {
    const r = await callKv<{ quota: KvQuota; usage: KvUsage }>(url, {
      method: 'PUT', path: `/quotas/${encodeURIComponent(namespace)}`, body: quota, secret: credentials.secret, timeoutMs: 2000,
    });
    return [site, { quota: r.quota, usage: r.usage }] as const;
  }));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ site: Object.keys(credentials.endpoints)[i]!, err: r.reason as Error }] : []));
  const refused = failed.find((f) => f.err instanceof StorageError && f.err.code !== 'STORAGE_UNAVAILABLE');
  if (refused) throw refused.err;
  if (failed.length > 0) {
    throw new StorageError('STORAGE_UNAVAILABLE', `the quota of '${namespace}' is not set on ${failed.map((f) => `'${f.site}' (${f.err.message})`).join(', ')}: run it again once they are up`);
  }
  return Object.fromEntries(results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])));
}
