import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { HttpPeerLink } from './peer-link.ts';
import { Replicator } from './replication.ts';
import { buildKvServer } from './server.ts';
import type { KvSiteSettings } from './settings.ts';
import { KvStore } from './store.ts';

/** One running site of a kv resource: its store, its replication, its HTTP server. */
export interface KvSite {
  site: string;
  port: number;
  url: string;
  store: KvStore;
  replicator: Replicator;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** How often expired keys turn into tombstones and old tombstones and changes go. */
const HOUSEKEEPING_MS = 1000;

/**
 * Run one site of a kv resource in this process: open (or create) `DIR/kv.db`, serve the HTTP
 * API, pull the peers, and keep house. `kv/server-main.ts` runs it as a process of its own.
 *
 * @example
 * const site = await startKvSite({ ...settings, site: 'sto', port: 0, peers: [{ site: 'gcp-eu', url }] });
 * // ... site.url
 * await site.close();
 */
export async function startKvSite(settings: KvSiteSettings, options: { logger?: Logger; now?: () => number } = {}): Promise<KvSite> {
  mkdirSync(settings.dir, { recursive: true });
  const store = KvStore.open({
    file: join(settings.dir, 'kv.db'), site: settings.site, defaultQuota: settings.defaultQuota, retentionMs: settings.retentionMs,
    ...(options.now ? { now: options.now } : {}),
  });
  const replicator = new Replicator({
    store,
    peers: settings.peers.map((p) => new HttpPeerLink(p.site, p.url, settings.secret)),
    intervalMs: settings.pollMs,
    ...(options.logger ? { log: options.logger } : {}),
  });
  const app = buildKvServer({ store, replicator, secret: settings.secret, ...(options.logger ? { logger: options.logger } : {}) });
  try {
    await app.listen({ host: settings.host, port: settings.port });
  } catch (err) {
    store.close();
    throw err;
  }
  const port = (app.server.address() as { port: number }).port;
  replicator.start();

  const housekeeping = setInterval(() => {
    try {
      // A bounded number of batches per round, so a flood of expiries never blocks requests for long.
      for (let i = 0; i < 10 && store.expire() > 0; i++);
      store.purge(replicator.ackedThrough());
    } catch (err) {
      options.logger?.error({ err }, 'kv housekeeping failed; trying again next round');
    }
  }, HOUSEKEEPING_MS);
  housekeeping.unref();

  let closing: Promise<void> | null = null;
  return {
    site: settings.site, port, url: `http://${settings.host}:${port}`, store, replicator, app,
    close() {
      closing ??= (async () => {
        clearInterval(housekeeping);
        await replicator.stop();
        await app.close();
        store.close();
      })();
      return closing;
    },
  };
}
