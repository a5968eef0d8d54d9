import memjs from 'memjs';
import { StorageError } from '../provisioner.ts';
import { splitAddress } from './addresses.ts';
import type { SaslLogin } from './binary-protocol.ts';
import { DEFAULT_VIRTUAL_NODES, HashRing } from './hash-ring.ts';
import type { MemcachedCredentials } from './provisioner.ts';

export interface MemcachedClientOptions {
  /** The resource's credentials, or a function that reads them afresh (a port changes if it had to). */
  credentials: MemcachedCredentials | (() => MemcachedCredentials);
  /** The caller's site: its servers are used first. */
  site: string;
  /** How long one server may take to answer one operation. Default 500 ms. */
  timeoutMs?: number;
  /** How long a server that failed is passed over before it is tried again. Default 2 s. */
  downForMs?: number;
  /** Points of each server on its site's ring. Default 160. */
  virtualNodes?: number;
}

export interface SetOptions {
  /** Seconds until the value expires, at most 30 days; 0 (the default) keeps it until evicted. */
  ttlSeconds?: number;
}

/** memcached's limit on a key, in bytes. */
const MAX_KEY_BYTES = 250;
/** Beyond 30 days memcached reads an expiry as a Unix time, so longer TTLs are refused. */
const MAX_TTL_SECONDS = 30 * 24 * 3600;
const quiet = { log: () => {} };
/** How memjs reports a refused login: a bare string, not an Error. */
const LOGIN_REFUSED = 'Memcached server authentication failed!';

/**
 * The client a handler gets for a memcached resource. Keys are spread over the servers of the
 * caller's own site by consistent hashing; a key whose server is down goes to the next server of
 * the ring, and only when no server of the site answers does it go to the other sites, in the
 * resource's site order. Each site is a separate cache: nothing is copied between sites. Every
 * connection logs in with the resource's credentials (SASL PLAIN) before its first command.
 *
 * @example
 * const cache = new MemcachedClient({ credentials, site: 'sto' });
 * await cache.set('user:7', JSON.stringify(user), { ttlSeconds: 60 });
 * const hit = await cache.get('user:7'); // Buffer | null
 */
export class MemcachedClient {
  readonly site: string;
  /** Rings of the caller's site first, then of the others in the resource's order. */
  private rings: Array<{ site: string; ring: HashRing }> = [];
  /** The servers and login the rings were built from, to notice when the credentials change. */
  private built = '';
  private login: SaslLogin = { username: '', password: '' };
  private readonly connections = new Map<string, memjs.Client>();
  private readonly downUntil = new Map<string, number>();
  private readonly timeoutMs: number;
  private readonly downForMs: number;
  private readonly virtualNodes: number;

  constructor(private readonly options: MemcachedClientOptions) {
    this.site = options.site;
    this.timeoutMs = options.timeoutMs ?? 500;
    this.downForMs = options.downForMs ?? 2_000;
    this.virtualNodes = options.virtualNodes ?? DEFAULT_VIRTUAL_NODES;
    this.refresh();
  }

  /** The value of `key`, or null when it is not cached. */
  async get(key: string): Promise<Buffer | null> {
    checkKey(key);
    const { value } = await this.run(key, 'get', (c) => c.get(key));
    return value;
  }

  /** Cache `value` under `key`. */
  async set(key: string, value: string | Buffer, options: SetOptions = {}): Promise<void> {
    checkKey(key);
    const ttl = options.ttlSeconds ?? 0;
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL_SECONDS) {
      throw new StorageError('BAD_REQUEST', `ttlSeconds must be a whole number of seconds from 0 to ${MAX_TTL_SECONDS} (30 days), not ${ttl}`);
    }
    await this.run(key, 'set', (c) => c.set(key, value, { expires: ttl }));
  }

  /** Remove `key`; resolves true when it was cached. */
  async delete(key: string): Promise<boolean> {
    checkKey(key);
    return this.run(key, 'delete', (c) => c.delete(key));
  }

  /** The server `key` goes to now: the first in its fallback order that is not passed over. */
  serverFor(key: string): string | null {
    this.refresh();
    return this.candidates(key)[0] ?? null;
  }

  /** Close every connection; the client can no longer be used. */
  close(): void {
    for (const c of this.connections.values()) c.close();
    this.connections.clear();
  }

  /** Build the rings again when the credentials list other servers than last time. */
  private refresh(): void {
    const { credentials } = this.options;
    const given: Partial<MemcachedCredentials> = (typeof credentials === 'function' ? credentials() : credentials) ?? {};
    const servers = given.servers ?? {};
    const login = { username: given.username, password: given.password };
    const json = JSON.stringify([servers, login]);
    if (json === this.built) return;
    if (typeof login.username !== 'string' || !login.username || typeof login.password !== 'string' || !login.password) {
      throw new StorageError('BAD_REQUEST', 'memcached credentials must carry the resource\'s username and password (every server requires them): pass the credentials as `squadron storage credentials NAME` gives them; a resource made before servers required a login gets them at the platform\'s next start');
    }
    const sites = Object.keys(servers);
    if (sites.some((site) => !Array.isArray(servers[site]) || !servers[site].every((a) => typeof a === 'string' && /:\d+$/.test(a)))) {
      throw new StorageError('BAD_REQUEST', `memcached credentials must be { servers: { SITE: ['host:port', ...] } }, not ${json.slice(0, 200)}`);
    }
    const ordered = [...sites.filter((s) => s === this.site), ...sites.filter((s) => s !== this.site)];
    const rings = ordered
      .map((site) => ({ site, ring: new HashRing(servers[site] ?? [], this.virtualNodes) }))
      .filter((r) => r.ring.servers.length > 0);
    if (rings.length === 0) {
      throw new StorageError('BAD_REQUEST', 'memcached credentials list no servers: pass the credentials of the resource as `squadron storage show` gives them ({ servers: { SITE: [host:port, ...] } })');
    }
    const listed = new Set(rings.flatMap((r) => r.ring.servers));
    const loginChanged = login.username !== this.login.username || login.password !== this.login.password;
    for (const [server, c] of this.connections) {
      if (listed.has(server) && !loginChanged) continue;
      c.close();
      this.connections.delete(server);
    }
    this.login = { username: login.username, password: login.password };
    this.rings = rings;
    this.built = json;
  }

  private async run<T>(key: string, op: string, fn: (c: memjs.Client) => Promise<T>): Promise<T> {
    this.refresh();
    const tried: string[] = [];
    let last: unknown = null;
    for (const server of this.candidates(key)) {
      tried.push(server);
      try {
        const result = await fn(this.connection(server));
        this.downUntil.delete(server);
        return result;
      } catch (err) {
        if (isReply(err)) throw replyError(err, op, key, server);
        // Every server of a resource takes the same login: another would refuse it too.
        if (err === LOGIN_REFUSED) throw loginRefused(op, key, server, this.login.username);
        // The server did not answer: pass it over for a while, and try the next one.
        this.downUntil.set(server, Date.now() + this.downForMs);
        last = err;
      }
    }
    throw new StorageError(
      'STORAGE_UNAVAILABLE',
      `no memcached server answered ${op} '${key}' (tried ${tried.join(', ')}: ${(last as Error | null)?.message ?? 'none'}); ` +
        'check the resource with `squadron storage show`, and treat this as a cache miss if the caller can',
      { cause: last },
    );
  }

  /** The key's servers in order: its site's ring, then each other site's; passed-over ones last. */
  private candidates(key: string): string[] {
    const now = Date.now();
    const all = this.rings.flatMap((r) => [...r.ring.walk(key)]);
    const up = all.filter((s) => (this.downUntil.get(s) ?? 0) <= now);
    // With every server passed over, try them all anyway rather than fail without asking.
    return up.length > 0 ? up : all;
  }

  private connection(server: string): memjs.Client {
    let c = this.connections.get(server);
    if (!c) {
      const seconds = this.timeoutMs / 1000;
      const { host, port } = splitAddress(server);
      // One client per server: this class chooses the server, memjs speaks to it, once (retries 1),
      // logging in on every connection it opens (the login is given here, never read from the environment).
      const connection = new memjs.Server(host, port, this.login.username, this.login.password, { timeout: seconds, conntimeout: seconds });
      c = new memjs.Client([connection], { retries: 1, failover: false, logger: quiet });
      this.connections.set(server, c);
    }
    return c;
  }
}

function checkKey(key: string): void {
  const bytes = Buffer.byteLength(key);
  if (bytes === 0 || bytes > MAX_KEY_BYTES || /[\s\x00-\x1f\x7f]/.test(key)) {
    throw new StorageError('BAD_REQUEST', `memcached keys are 1 to ${MAX_KEY_BYTES} bytes without spaces or control characters; '${key.slice(0, 40)}' (${bytes} bytes) is not: hash long keys first`);
  }
}

/** memjs reports the server's own refusals as `MemJS <OP>: <reason>`; anything else is the connection. */
function isReply(err: unknown): err is Error {
  return err instanceof Error && err.message.startsWith('MemJS ');
}

function loginRefused(op: string, key: string, server: string, username: string): StorageError {
  return new StorageError(
    'STORAGE_UNAVAILABLE',
    `memcached at ${server} refused the credentials of ${username} to ${op} '${key}': they are not this resource's; ` +
      'fetch them again (`squadron storage credentials NAME`), and restart the service\'s instances if they hold old ones',
  );
}

function replyError(err: Error, op: string, key: string, server: string): StorageError {
  if (/too large/i.test(err.message)) {
    return new StorageError('BAD_REQUEST', `memcached at ${server} refused to ${op} '${key}': the value is larger than an item may be (1 MiB by default); store it elsewhere or split it`, { cause: err });
  }
  return new StorageError('STORAGE_UNAVAILABLE', `memcached at ${server} refused to ${op} '${key}': ${err.message.replace(/^MemJS \w+: /, '')}`, { cause: err });
}
