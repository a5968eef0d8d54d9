import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export type SiteKind = 'datacenter' | 'cloud';

export interface SiteConfig {
  name: string;
  kind: SiteKind;
  /** Where the site's broker listens (default tcp://127.0.0.1:0, a free port). */
  broker: { listen: string };
}

export interface PlatformConfig {
  /** Sites in failover order. */
  sites: SiteConfig[];
  api: { host: string; port: number };
}

/** The embedded default: two sites, one datacenter and one cloud, on this machine. */
export const DEFAULT_CONFIG: PlatformConfig = {
  sites: [
    { name: 'sto', kind: 'datacenter', broker: { listen: 'tcp://127.0.0.1:0' } },
    { name: 'gcp-eu', kind: 'cloud', broker: { listen: 'tcp://127.0.0.1:0' } },
  ],
  api: { host: '127.0.0.1', port: 7700 },
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
  const r = raw as { sites?: unknown; api?: unknown };
  if (!Array.isArray(r.sites) || r.sites.length === 0) throw new ConfigError(`${source}: 'sites' must list at least one site`);
  const seen = new Set<string>();
  const sites = r.sites.map((s: unknown, i: number): SiteConfig => {
    const site = (s ?? {}) as { name?: unknown; kind?: unknown; broker?: { listen?: unknown } };
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
    return { name: site.name, kind: site.kind, broker: { listen } };
  });
  const api = (r.api ?? {}) as { host?: unknown; port?: unknown };
  if (api.host !== undefined && (typeof api.host !== 'string' || api.host.length === 0)) throw new ConfigError(`${source}: api.host must be a host name or address`);
  const host = api.host ?? DEFAULT_CONFIG.api.host;
  const port = api.port === undefined ? DEFAULT_CONFIG.api.port : api.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${source}: api.port must be a port number`);
  }
  return { sites, api: { host, port } };
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
