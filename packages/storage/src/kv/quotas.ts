import { KvQuotaError } from './kv-errors.ts';

/** How much one namespace (an app or a service) may keep. */
export interface KvQuota {
  maxKeys: number;
  maxBytes: number;
}

/** A namespace's use: live keys, and the bytes of their keys and values (JSON). */
export interface KvUsage {
  keys: number;
  bytes: number;
}

/** The quota of a namespace nobody set one for. */
export const DEFAULT_QUOTA: KvQuota = { maxKeys: 100_000, maxBytes: 256 * 1024 * 1024 };

/**
 * Refuse a write that would take the namespace over a limit. A write that adds no key and does
 * not grow it is let through even over quota (a quota lowered below the use, or use above it
 * after concurrent writes at two sites), so that a full namespace can still be shrunk.
 */
export function checkQuota(namespace: string, key: string, quota: KvQuota, before: KvUsage, after: KvUsage): void {
  if (after.keys > before.keys && after.keys > quota.maxKeys) {
    throw new KvQuotaError(
      namespace, 'maxKeys', quota.maxKeys, before.keys,
      `namespace '${namespace}' holds ${before.keys} keys and its quota is ${quota.maxKeys} (maxKeys), so key '${key}' cannot be added: ` +
        'delete keys, give them a TTL, or raise the quota (PUT /quotas/NAMESPACE on each site)',
    );
  }
  if (after.bytes > before.bytes && after.bytes > quota.maxBytes) {
    throw new KvQuotaError(
      namespace, 'maxBytes', quota.maxBytes, before.bytes,
      `writing key '${key}' would bring namespace '${namespace}' to ${after.bytes} bytes, over its quota of ${quota.maxBytes} (maxBytes; ` +
        `${before.bytes} in use): delete keys, store smaller values, or raise the quota (PUT /quotas/NAMESPACE on each site)`,
    );
  }
}
