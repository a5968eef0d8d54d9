// One site's kv server as a process of its own: `node --import tsx server-main.ts --dir D --site S ...`
// (settings in settings.ts). With an IPC channel it reports `{ type: 'ready', site, port, url }`
// and exits when its parent goes, so that no server outlives the platform that started it.
import { pino } from 'pino';
import { StorageError } from '../provisioner.ts';
import { parseSettings } from './settings.ts';
import { startKvSite, type KvSite } from './site.ts';

const log = pino({ level: process.env.SQUADRON_LOG_LEVEL ?? 'info', base: { kv: process.env.SQUADRON_KV_SITE ?? undefined } });

let site: KvSite | null = null;
let stopping = false;

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  try {
    await site?.close();
  } catch (err) {
    log.error({ err }, 'kv server did not close cleanly');
  }
  process.exit(code);
}

process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));
process.on('disconnect', () => void shutdown(0));

try {
  const settings = parseSettings(process.argv.slice(2));
  site = await startKvSite(settings, { logger: log.child({ site: settings.site }) });
  log.info({ site: site.site, url: site.url, peers: settings.peers }, 'kv server ready');
  process.send?.({ type: 'ready', site: site.site, port: site.port, url: site.url });
} catch (err) {
  const inUse = (err as { code?: string }).code === 'EADDRINUSE';
  const message = err instanceof StorageError ? err.message
    : inUse ? `the port is taken: ${(err as Error).message}; start with another --port (or 0 for any)`
    : (err as Error).message;
  log.error({ err }, `kv server cannot start: ${message}`);
  process.stderr.write(`kv server cannot start: ${message}\n`);
  process.exit(err instanceof StorageError && err.code === 'BAD_REQUEST' ? 2 : 1);
}
