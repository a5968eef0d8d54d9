import { parseArgs } from 'node:util';
import { StorageError } from '../provisioner.ts';
import { DEFAULT_QUOTA, type KvQuota } from './quotas.ts';

/** What one site's kv server runs with. */
export interface KvSiteSettings {
  /** Its own directory: the SQLite file `kv.db` lives there. */
  dir: string;
  site: string;
  host: string;
  /** 0: any free port (the ready message says which). */
  port: number;
  /** The resource's other sites and their servers' URLs. */
  peers: Array<{ site: string; url: string }>;
  secret: string;
  defaultQuota: KvQuota;
  /** How often each peer is pulled besides wake-ups. */
  pollMs: number;
  /** How long tombstones and unacknowledged changes are kept. */
  retentionMs: number;
}

const SITE = /^[a-z][a-z0-9-]{0,62}$/;

const FLAGS = {
  dir: 'SQUADRON_KV_DIR', site: 'SQUADRON_KV_SITE', host: 'SQUADRON_KV_HOST', port: 'SQUADRON_KV_PORT', peers: 'SQUADRON_KV_PEERS',
  secret: 'SQUADRON_KV_SECRET', 'max-keys': 'SQUADRON_KV_MAX_KEYS', 'max-bytes': 'SQUADRON_KV_MAX_BYTES',
  'poll-ms': 'SQUADRON_KV_POLL_MS', 'retention-ms': 'SQUADRON_KV_RETENTION_MS',
} as const;

/** The usage line, for errors. */
export const USAGE = 'kv server --dir DIR --site SITE [--port N] [--host H] [--peers site=url,...] [--max-keys N] [--max-bytes N] ' +
  '[--poll-ms N] [--retention-ms N], the secret in SQUADRON_KV_SECRET (or --secret); each flag may come from its SQUADRON_KV_* variable';

/**
 * Settings from the command line, each flag falling back to its environment variable. The
 * secret belongs in the environment: the command line is visible to every user of the machine.
 */
export function parseSettings(argv: string[], env: NodeJS.ProcessEnv = process.env): KvSiteSettings {
  let values: Record<string, string | undefined>;
  try {
    const options = Object.fromEntries(Object.keys(FLAGS).map((k) => [k, { type: 'string' as const }]));
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (err) {
    throw bad(`${(err as Error).message}; usage: ${USAGE}`);
  }
  const get = (flag: keyof typeof FLAGS): string | undefined => values[flag] ?? env[FLAGS[flag]];
  const dir = get('dir');
  const site = get('site');
  const secret = get('secret');
  if (!dir) throw bad(`--dir (or ${FLAGS.dir}) is required: the site's own data directory; usage: ${USAGE}`);
  if (!site || !SITE.test(site)) throw bad(`--site (or ${FLAGS.site}) must be a site name (lower-case letters, digits, dashes); usage: ${USAGE}`);
  if (!secret) throw bad(`the resource's secret is required in ${FLAGS.secret} (or --secret); usage: ${USAGE}`);
  return {
    dir, site, secret,
    host: get('host') ?? '127.0.0.1',
    port: integer('port', get('port') ?? '0', 0, 65535),
    peers: parsePeers(get('peers') ?? '', site),
    defaultQuota: {
      maxKeys: integer('max-keys', get('max-keys') ?? String(DEFAULT_QUOTA.maxKeys), 0, Number.MAX_SAFE_INTEGER),
      maxBytes: integer('max-bytes', get('max-bytes') ?? String(DEFAULT_QUOTA.maxBytes), 0, Number.MAX_SAFE_INTEGER),
    },
    pollMs: integer('poll-ms', get('poll-ms') ?? '150', 10, 60_000),
    retentionMs: integer('retention-ms', get('retention-ms') ?? String(24 * 3600 * 1000), 1000, Number.MAX_SAFE_INTEGER),
  };
}

/** `sto=http://127.0.0.1:7001,gcp-eu=http://127.0.0.1:7002`: the other sites and their URLs. */
export function parsePeers(text: string, self: string): Array<{ site: string; url: string }> {
  const peers = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((item) => {
    const eq = item.indexOf('=');
    const site = item.slice(0, Math.max(eq, 0)).trim();
    const url = item.slice(eq + 1).trim().replace(/\/+$/, '');
    if (eq < 1 || !SITE.test(site) || !/^https?:\/\/[^/]+$/.test(url)) {
      throw bad(`--peers: '${item}' is not SITE=URL (such as gcp-eu=http://127.0.0.1:7002)`);
    }
    if (site === self) throw bad(`--peers names this site ('${self}') itself: list only the other sites`);
    return { site, url };
  });
  if (new Set(peers.map((p) => p.site)).size !== peers.length) throw bad('--peers names a site twice');
  return peers;
}

/** The flags and environment that give `settings` to a server process (the secret in the environment). */
export function settingsToArgs(settings: KvSiteSettings): { args: string[]; env: Record<string, string> } {
  return {
    args: [
      '--dir', settings.dir, '--site', settings.site, '--host', settings.host, '--port', String(settings.port),
      '--peers', settings.peers.map((p) => `${p.site}=${p.url}`).join(','),
      '--max-keys', String(settings.defaultQuota.maxKeys), '--max-bytes', String(settings.defaultQuota.maxBytes),
      '--poll-ms', String(settings.pollMs), '--retention-ms', String(settings.retentionMs),
    ],
    env: { [FLAGS.secret]: settings.secret },
  };
}

function integer(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || n < min || n > max) throw bad(`--${flag} must be an integer from ${min} to ${max}, not '${text}'`);
  return n;
}

function bad(message: string): StorageError {
  return new StorageError('BAD_REQUEST', message);
}
