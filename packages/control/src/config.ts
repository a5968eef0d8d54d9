import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

import type { SiteKind } from '@squadron/client';
import { DEFAULT_QUEUE_QUOTAS, DEFAULT_RATE_LIMIT, parseByteSize, parseRate, type QueueLimit, type QueueQuotas, type RateLimit } from '@squadron/policy';
export type { SiteKind };

export interface SiteConfig {
  name: string;
  kind: SiteKind;
  /** Where the site's broker listens (default tcp://127.0.0.1:0, a free port). */
  broker: { listen: string };
  /** Datacenter sites: instance slots per agent (default 16). Cloud sites are elastic: null. */
  slots: number | null;
  /** Cloud sites: how long an instance waits for capacity before it starts (default 2 s); 0 for datacenters. */
  provisionDelayMs: number;
}

export interface PlatformConfig {
  /** Sites in failover order. */
  sites: SiteConfig[];
  api: { host: string; port: number };
  /**
   * The threshold for every caller-to-service pair without a grant (`rateLimits: { default: 50/s,
   * burst: 100 }` in the file): anyone may try any open service out, and heavy traffic needs a grant.
   */
  defaultRate: RateLimit;
  /** How long the credentials the control plane issues are valid (`credentialTtlSeconds`, default 1 hour); renewed at two thirds. */
  credentialTtlMs: number;
  /**
   * `storage: { postgres: { server: postgres://admin@db:5432/postgres } }`: postgres storage is a
   * database and a role on this existing server, instead of servers the platform runs per site.
   */
  postgresServer: string | null;
  /**
   * Durable queue limits at each site (`queues: { limit, squadTotal, unclaimed }`, each
   * `{ messages, bytes }`): a queue's default, a squad's total unless the admin sets another,
   * and the total of the queues nobody claimed.
   */
  queueQuotas: Pick<QueueQuotas, 'queueDefault' | 'squadDefault' | 'unclaimed'>;
}

const DEFAULT_SLOTS = 16;
const DEFAULT_PROVISION_DELAY_MS = 2000;

/** The embedded default: two sites, one datacenter and one cloud, on this machine. */
export const DEFAULT_CONFIG: PlatformConfig = {
  sites: [
    { name: 'sto', kind: 'datacenter', broker: { listen: 'tcp://127.0.0.1:0' }, slots: 16, provisionDelayMs: 0 },
    { name: 'gcp-eu', kind: 'cloud', broker: { listen: 'tcp://127.0.0.1:0' }, slots: null, provisionDelayMs: 2000 },
  ],
  api: { host: '127.0.0.1', port: 7700 },
  defaultRate: DEFAULT_RATE_LIMIT,
  credentialTtlMs: 3_600_000,
  postgresServer: null,
  queueQuotas: DEFAULT_QUEUE_QUOTAS,
};

/** A config file that does not describe a platform; the message names the field and the fix. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const SITE_NAME = /^[a-z][a-z0-9-]{0,30}$/;

/** Validate a parsed config, filling defaults. */
export function validateConfig(raw: unknown, source = 'config'): PlatformConfig {
  if (raw === null || raw === undefined) return structuredClone(DEFAULT_CONFIG);
  if (typeof raw !== 'object') throw new ConfigError(`${source}: expected a mapping with 'sites'`);
  const r = raw as { sites?: unknown; api?: unknown; rateLimits?: unknown; credentialTtlSeconds?: unknown; storage?: unknown; queues?: unknown };
  if (!Array.isArray(r.sites) || r.sites.length === 0) throw new ConfigError(`${source}: 'sites' must list at least one site`);
  const seen = new Set<string>();
  const sites = r.sites.map((s: unknown, i: number): SiteConfig => {
    const site = (s ?? {}) as { name?: unknown; kind?: unknown; broker?: { listen?: unknown }; slots?: unknown; provisionDelayMs?: unknown };
    if (typeof site.name !== 'string' || !SITE_NAME.test(site.name)) {
      throw new ConfigError(`${source}: sites[${i}].name must be lower-case letters, digits and dashes`);
    }
    if (seen.has(site.name)) throw new ConfigError(`${source}: site '${site.name}' is listed twice`);
    seen.add(site.name);
    if (site.kind !== 'datacenter' && site.kind !== 'cloud') {
      throw new ConfigError(`${source}: sites[${i}].kind must be 'datacenter' or 'cloud'`);
    }
    const listen = site.broker?.listen ?? 'tcp://127.0.0.1:0';
    if (typeof listen !== 'string') throw new ConfigError(`${source}: sites[${i}].broker.listen must be an address`);
    const whole = (v: unknown, field: string, min: number, fallback: number): number => {
      if (v === undefined) return fallback;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(`${source}: sites[${i}].${field} must be a whole number of at least ${min}`);
      return v;
    };
    if (site.kind === 'cloud' && site.slots !== undefined) throw new ConfigError(`${source}: sites[${i}].slots is for datacenter sites; cloud sites are elastic`);
    const slots = site.kind === 'datacenter' ? whole(site.slots, 'slots', 1, DEFAULT_SLOTS) : null;
    const provisionDelayMs = whole(site.provisionDelayMs, 'provisionDelayMs', 0, site.kind === 'cloud' ? DEFAULT_PROVISION_DELAY_MS : 0);
    return { name: site.name, kind: site.kind, broker: { listen }, slots, provisionDelayMs };
  });
  const api = (r.api ?? {}) as { host?: unknown; port?: unknown };
  if (api.host !== undefined && (typeof api.host !== 'string' || api.host.length === 0)) throw new ConfigError(`${source}: api.host must be a host name or address`);
  const host = api.host ?? DEFAULT_CONFIG.api.host;
  const port = api.port === undefined ? DEFAULT_CONFIG.api.port : api.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${source}: api.port must be a port number`);
  }
  const ttl = r.credentialTtlSeconds ?? DEFAULT_CONFIG.credentialTtlMs / 1000;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 3 || ttl > 30 * 86_400) {
    throw new ConfigError(`${source}: credentialTtlSeconds must be a whole number of seconds from 3 to 2592000 (30 days)`);
  }
  return { sites, api: { host, port }, defaultRate: defaultRateOf(r.rateLimits, source), credentialTtlMs: ttl * 1000, postgresServer: postgresServerOf(r.storage, source), queueQuotas: queueQuotasOf(r.queues, source) };
}

function queueQuotasOf(raw: unknown, source: string): PlatformConfig['queueQuotas'] {
  if (raw === undefined) return DEFAULT_QUEUE_QUOTAS;
  if (typeof raw !== 'object' || raw === null) throw new ConfigError(`${source}: queues must be a mapping with limit, squadTotal and unclaimed, each { messages, bytes }`);
  const r = raw as Record<string, unknown>;
  const limit = (key: 'limit' | 'squadTotal' | 'unclaimed', fallback: QueueLimit): QueueLimit => {
    const v = r[key];
    if (v === undefined) return fallback;
    const o = (v ?? {}) as { messages?: unknown; bytes?: unknown };
    const maxMessages = o.messages ?? fallback.maxMessages;
    if (typeof maxMessages !== 'number' || !Number.isInteger(maxMessages) || maxMessages < 1) throw new ConfigError(`${source}: queues.${key}.messages must be a whole number of at least 1`);
    let maxBytes = fallback.maxBytes;
    if (o.bytes !== undefined) {
      try {
        maxBytes = parseByteSize(String(o.bytes));
      } catch (err) {
        throw new ConfigError(`${source}: queues.${key}.bytes: ${(err as Error).message}`);
      }
    }
    return { maxMessages, maxBytes };
  };
  for (const key of Object.keys(r)) if (!['limit', 'squadTotal', 'unclaimed'].includes(key)) throw new ConfigError(`${source}: queues.${key} is not a known setting (limit, squadTotal, unclaimed)`);
  return {
    queueDefault: limit('limit', DEFAULT_QUEUE_QUOTAS.queueDefault),
    squadDefault: limit('squadTotal', DEFAULT_QUEUE_QUOTAS.squadDefault),
    unclaimed: limit('unclaimed', DEFAULT_QUEUE_QUOTAS.unclaimed),
  };
}

function postgresServerOf(raw: unknown, source: string): string | null {
  if (raw === undefined) return null;
  const server = (raw as { postgres?: { server?: unknown } } | null)?.postgres?.server;
  if (server === undefined) return null;
  if (typeof server !== 'string' || !/^postgres(ql)?:\/\//.test(server)) {
    throw new ConfigError(`${source}: storage.postgres.server must be a postgres:// URL of a role that may create databases and roles`);
  }
  return server;
}

function defaultRateOf(raw: unknown, source: string): RateLimit {
  if (raw === undefined) return DEFAULT_RATE_LIMIT;
  const r = (raw ?? {}) as { default?: unknown; burst?: unknown };
  if (typeof raw !== 'object' || raw === null) throw new ConfigError(`${source}: rateLimits must be a mapping with 'default' (e.g. 50/s) and 'burst'`);
  let ratePerSecond = DEFAULT_RATE_LIMIT.ratePerSecond;
  if (r.default !== undefined) {
    try {
      ratePerSecond = parseRate(String(r.default));
    } catch (err) {
      throw new ConfigError(`${source}: rateLimits.default: ${(err as Error).message}`);
    }
  }
  const burst = r.burst ?? (r.default === undefined ? DEFAULT_RATE_LIMIT.burst : Math.max(1, Math.ceil(ratePerSecond * 2)));
  if (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 1) throw new ConfigError(`${source}: rateLimits.burst must be a whole number of at least 1`);
  return { ratePerSecond, burst };
}

/** The config in a file, or a fresh copy of the default (callers may change what they get). */
export function loadConfig(file?: string): PlatformConfig {
  if (!file) return structuredClone(DEFAULT_CONFIG);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parse(text);
  } catch (err) {
    throw new ConfigError(`${file} is not valid YAML: ${(err as Error).message}`);
  }
  return validateConfig(parsed, file);
}
