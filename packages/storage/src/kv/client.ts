import { StorageError } from '../provisioner.ts';
import { callKv, KvUnreachableError, type KvCall } from './http-call.ts';
import { checkKey, checkValueDepth, checkWriteOptions, refuse } from './limits.ts';
import { isOwnerNamespace, OWNER_NAMESPACE_PATTERN } from './namespaces.ts';
import type { KvEntry } from './store.ts';

/** Each site's kv server (`endpoints`, in the platform's failover order) and the secret: the resource's credentials. */
export interface KvEndpoints {
  endpoints: Record<string, string>;
  secret: string;
}

export interface KvClientOptions {
  /** The resource's credentials, or a function that reads them afresh (they change if a port had to). */
  credentials: KvEndpoints | (() => KvEndpoints);
  /** The namespace every call of this client works in: a service's or an app's (serviceNamespace, appNamespace). */
  namespace: string;
  /** The caller's site: its server is asked first. */
  site?: string;
  /** How long one request may take before the next site is tried (reads) or it fails (default 2 s). */
  timeoutMs?: number;
}

export interface PutOptions {
  /** The key disappears this many ms after the write. */
  ttlMs?: number;
  /**
   * Compare-and-set: write only if the key is at this version (0: only if it does not exist).
   * Versions are per site; see docs/decisions/0011-kv-storage.md.
   */
  ifVersion?: number;
}

/** After a site failed to answer, others are tried first for this long. */
const DOWN_FOR_MS = 1000;

/**
 * The typed kv client a handler gets, bound to one namespace. It asks the caller's site first
 * and, when that one does not answer, the next site: reads always, writes only when the request
 * surely never reached the first (a refused connection), so no write is applied twice.
 *
 * @example
 * const kv = new KvClient({ credentials: provisioner.credentials(spec, state), namespace: appNamespace('mobile'), site: 'sto' });
 * await kv.put('users/42', { name: 'Ada' }, { ttlMs: 60_000 });
 * const entry = await kv.get<{ name: string }>('users/42');   // null if absent
 * if (entry) await kv.put('users/42', { name: 'Ada L.' }, { ifVersion: entry.version }); // CONFLICT if someone wrote meanwhile
 * const { items, cursor } = await kv.list('users/', { limit: 50 });
 */
export class KvClient {
  readonly namespace: string;
  private readonly credentials: () => KvEndpoints;
  private readonly site: string | undefined;
  private readonly timeoutMs: number;
  private readonly downUntil = new Map<string, number>();
  /** The site that answered the last call. */
  lastSite: string | null = null;

  constructor(options: KvClientOptions) {
    // Only an owner's namespace (svc.NAME, app.NAME): a client never reaches another's by a name that happens to match.
    if (!isOwnerNamespace(options.namespace)) refuse([{ path: 'namespace', message: `must match ${OWNER_NAMESPACE_PATTERN} (serviceNamespace or appNamespace make one)` }]);
    const credentials = options.credentials;
    this.credentials = typeof credentials === 'function' ? credentials : () => credentials;
    this.namespace = options.namespace;
    this.site = options.site;
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.order();
  }

  /** The sites to ask, the caller's first, then the others in the credentials' order. */
  private order(): { sites: Array<{ site: string; url: string }>; secret: string } {
    const { endpoints, secret } = this.credentials();
    const sites = Object.entries(endpoints ?? {}).map(([site, url]) => ({ site, url: String(url).replace(/\/+$/, '') }));
    if (sites.length === 0 || typeof secret !== 'string') {
      throw new StorageError('BAD_REQUEST', 'a kv client needs the resource\'s credentials: { endpoints: { SITE: URL }, secret }');
    }
    return { sites: [...sites.filter((s) => s.site === this.site), ...sites.filter((s) => s.site !== this.site)], secret };
  }

  /** The key's value, version and expiry, or null if it does not exist (or has expired). */
  async get<T = unknown>(key: string): Promise<KvEntry<T> | null> {
    refuse(checkKey(key, 'key'));
    try {
      return await this.call<KvEntry<T>>({ method: 'GET', path: this.keyPath(key), key }, true);
    } catch (err) {
      if (err instanceof StorageError && err.code === 'NOT_FOUND') return null;
      throw err;
    }
  }

  /**
   * Write a value (any JSON but null). Throws KvConflictError (CONFLICT, with `currentVersion`)
   * when `ifVersion` does not match, KvQuotaError (QUOTA_EXCEEDED) when the namespace is full.
   */
  async put<T>(key: string, value: T, options: PutOptions = {}): Promise<{ version: number; expiresAt: number | null }> {
    refuse([
      ...checkKey(key, 'key'),
      ...(value === null || value === undefined ? [{ path: 'value', message: 'must not be null: delete the key instead' }] : checkValueDepth(value, 'value')),
      ...checkWriteOptions(options),
    ]);
    const body = { value, ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}), ...(options.ifVersion !== undefined ? { ifVersion: options.ifVersion } : {}) };
    const r = await this.call<{ version: number; expiresAt: number | null }>({ method: 'PUT', path: this.keyPath(key), body, key }, false);
    return { version: r.version, expiresAt: r.expiresAt };
  }

  /** Delete a key; `deleted` is false if it was not there. With `ifVersion`, only at that version. */
  async delete(key: string, options: { ifVersion?: number } = {}): Promise<{ deleted: boolean }> {
    refuse([...checkKey(key, 'key'), ...checkWriteOptions(options)]);
    const q = options.ifVersion !== undefined ? `?ifVersion=${options.ifVersion}` : '';
    const r = await this.call<{ deleted: boolean }>({ method: 'DELETE', path: `${this.keyPath(key)}${q}`, key }, false);
    return { deleted: r.deleted };
  }

  /** Live keys starting with `prefix`, in key order; pass `cursor` back for the next page (null: the last). */
  async list<T = unknown>(prefix = '', options: { limit?: number; cursor?: string } = {}): Promise<{ items: Array<KvEntry<T>>; cursor: string | null }> {
    const q = new URLSearchParams({ prefix });
    if (options.limit !== undefined) q.set('limit', String(options.limit));
    if (options.cursor !== undefined) q.set('cursor', options.cursor);
    return this.call({ method: 'GET', path: `/kv/${encodeURIComponent(this.namespace)}?${q}` }, true);
  }

  private keyPath(key: string): string {
    return `/kv/${encodeURIComponent(this.namespace)}/${encodeURIComponent(key)}`;
  }

  /** Ask the sites in order; `read` says a request that may have arrived can still go elsewhere. */
  private async call<T>(call: Omit<KvCall, 'secret' | 'timeoutMs'>, read: boolean): Promise<T> {
    const now = Date.now();
    const { sites: order, secret } = this.order();
    const up = order.filter((s) => (this.downUntil.get(s.site) ?? 0) <= now);
    const sites = [...up, ...order.filter((s) => !up.includes(s))];
    let last: KvUnreachableError | null = null;
    for (const s of sites) {
      try {
        const result = await callKv<T>(s.url, { ...call, secret, timeoutMs: this.timeoutMs });
        this.downUntil.delete(s.site);
        this.lastSite = s.site;
        return result;
      } catch (err) {
        if (!(err instanceof KvUnreachableError)) throw err;
        this.downUntil.set(s.site, Date.now() + DOWN_FOR_MS);
        last = err;
        if (!read && err.delivered) {
          throw new StorageError(
            'STORAGE_UNAVAILABLE',
            `the kv server of site '${s.site}' did not answer a ${call.method} of '${call.key}', which it may or may not have applied: read the key, then retry`,
            { cause: err },
          );
        }
      }
    }
    throw new StorageError(
      'STORAGE_UNAVAILABLE',
      `no site of this kv resource answers (${sites.map((s) => s.site).join(', ')}): ${last?.message ?? ''}`,
      { cause: last },
    );
  }
}
