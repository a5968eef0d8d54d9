import type { Command } from 'commander';
import type { ControlClient, StorageBody, StorageKindName } from '@squadron/client';
import { SquadronError } from '@squadron/protocol';
import { action, parseIntFlag, printJson, printTable, UsageError } from '../output.ts';
import { api } from '../platform-client.ts';

interface Flags { json?: boolean; dataDir?: string }
interface CreateFlags extends Flags { kind: string; service: string; sites: string; primary?: string; sync?: boolean; wait: boolean; timeout: string }
interface WaitFlags extends Flags { wait: boolean; timeout: string }

const KINDS: StorageKindName[] = ['kv', 'postgres', 'memcached', 'cassandra'];
const POLL_MS = 250;

/** Wait for a resource to reach `want` (or be gone, for null), printing each change of status. */
async function follow(client: ControlClient, name: string, want: 'ready' | null, timeoutMs: number, say: (line: string) => void): Promise<StorageBody | null> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const now = await client.storage(name).catch((err: unknown) => {
      if (want === null && (err as { code?: string }).code === 'NOT_FOUND') return null;
      throw err;
    });
    if (now === null) return null;
    if (now.status === 'failed') throw new SquadronError('STORAGE_FAILED', `storage '${name}' failed: ${now.error ?? 'no reason given'}; destroy it (squadron storage destroy ${name}) and create it again once the cause is fixed`);
    const picture = now.status === 'ready' && now.description
      ? `${now.status}: ${now.description.sites.map((s) => `${s.site} ${s.role}${s.up ? '' : ' (down)'}`).join(', ')}`
      : now.status;
    if (picture !== last) say(`  ${name}: ${picture}`);
    last = picture;
    if (want !== null && now.status === want) return now;
    if (Date.now() > deadline) throw new SquadronError('TIMEOUT', `storage '${name}' is still ${now.status} after ${timeoutMs / 1000} s; see squadron storage show ${name}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function waiting(c: Command): Command {
  return c
    .option('--no-wait', 'return once the request is recorded')
    .option('--timeout <seconds>', 'how long to wait', '120')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory');
}

/** `storage create|list|show|credentials|failover|destroy`: storage, self-served. */
export function registerStorage(program: Command): void {
  const storage = program.command('storage').description('storage for a service: kv, postgres (multi-site), memcached, cassandra');
  waiting(storage
    .command('create')
    .description('create a storage resource owned by a service, in the sites it names')
    .argument('<name>')
    .requiredOption('--kind <kind>', KINDS.join(', '))
    .requiredOption('--service <service>', 'the service that owns it')
    .requiredOption('--sites <list>', 'comma-separated sites, e.g. sto,gcp-eu')
    .option('--primary <site>', 'postgres: the primary\'s site (default the first)')
    .option('--sync', 'postgres: a commit waits for the standbys (no committed row lost on failover)'))
    .action(action(async (name: string, flags: CreateFlags) => {
      if (!KINDS.includes(flags.kind as StorageKindName)) throw new UsageError(`--kind must be one of ${KINDS.join(', ')}, got '${flags.kind}'`);
      const sites = flags.sites.split(',').map((s) => s.trim()).filter(Boolean);
      if (sites.length === 0) throw new UsageError('--sites needs at least one site, e.g. --sites sto');
      const client = api(flags);
      const created = await client.createStorage({
        name, kind: flags.kind as StorageKindName, service: flags.service, sites, ...(flags.primary ? { primary: flags.primary } : {}), ...(flags.sync ? { sync: true } : {}),
      });
      const timeoutMs = parseIntFlag(flags.timeout, '--timeout', 1, 86_400) * 1000;
      const done = flags.wait ? await follow(client, name, 'ready', timeoutMs, flags.json ? () => {} : (l) => process.stderr.write(`${l}\n`)) : created;
      if (flags.json) return printJson(done);
      process.stdout.write(flags.wait
        ? `storage ${name} (${flags.kind}) is ready in ${sites.join(', ')}. Its instances get it with ctx.storage('${name}'); credentials: squadron storage credentials ${name}\n`
        : `storage ${name} is being created; follow it with: squadron storage show ${name}\n`);
    }));

  storage
    .command('list')
    .description('storage resources')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (flags: Flags) => {
      const { storage: list } = await api(flags).storageList();
      if (flags.json) return printJson({ storage: list });
      if (list.length === 0) return void process.stdout.write('no storage yet; create some: squadron storage create NAME --kind kv --service S --sites sto\n');
      printTable(['NAME', 'KIND', 'SERVICE', 'SQUAD', 'SITES', 'PRIMARY', 'STATUS'], list.map((s) => [
        s.name, s.kind, s.service, s.squad, s.sites.join(','), s.kind === 'postgres' ? `${s.primary}${s.sync ? ' (sync)' : ''}` : '-', s.status,
      ]));
    }));

  storage
    .command('show')
    .description('a storage resource and each site\'s part: role, endpoint, up, lag')
    .argument('<name>')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (name: string, flags: Flags) => {
      const s = await api(flags).storage(name);
      if (flags.json) return printJson(s);
      process.stdout.write(`${s.name}: ${s.kind} for ${s.service} (squad ${s.squad}), ${s.status}${s.error ? ` — ${s.error}` : ''}\n`);
      if (s.description) {
        printTable(['SITE', 'ROLE', 'ENDPOINT', 'UP', 'LAG', 'DETAIL'], s.description.sites.map((x) => [x.site, x.role, x.endpoint ?? '-', x.up ? 'yes' : 'no', x.lag ?? '-', x.detail ?? '']));
        for (const [k, v] of Object.entries(s.description.facts)) process.stdout.write(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}\n`);
      }
    }));

  storage
    .command('credentials')
    .description('what a client needs to connect, secrets included (owner squad)')
    .argument('<name>')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (name: string, flags: Flags) => {
      const c = await api(flags).storageCredentials(name);
      if (flags.json) return printJson(c);
      for (const [k, v] of Object.entries(c.credentials)) process.stdout.write(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}\n`);
    }));

  storage
    .command('failover')
    .description('move the primary to another site (postgres)')
    .argument('<name>')
    .option('--to <site>', 'the new primary\'s site (default: the next healthy one)')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (name: string, flags: Flags & { to?: string }) => {
      const t0 = Date.now();
      const s = await api(flags).failoverStorage(name, flags.to);
      if (flags.json) return printJson(s);
      process.stdout.write(`storage ${name}: the primary is now in ${s.primary} (took ${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
    }));

  const apps = program.command('apps').description('API apps: clients outside the platform that use a squad\'s kv store over HTTP with a key of their own');
  apps
    .command('create')
    .description('make an app with a key for one of your squad\'s kv stores; prints the key once')
    .argument('<name>')
    .requiredOption('--storage <kv>', 'the kv store its keys live in')
    .option('--max-keys <n>', 'its quota of keys')
    .option('--max-bytes <n>', 'its quota of bytes (keys and values)')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (name: string, flags: Flags & { storage: string; maxKeys?: string; maxBytes?: string }) => {
      const app = await api(flags).createApp({
        name, storage: flags.storage,
        ...(flags.maxKeys !== undefined ? { maxKeys: parseIntFlag(flags.maxKeys, '--max-keys', 1) } : {}),
        ...(flags.maxBytes !== undefined ? { maxBytes: parseIntFlag(flags.maxBytes, '--max-bytes', 1) } : {}),
      });
      if (flags.json) return printJson(app);
      process.stdout.write(`app ${app.name} created on ${app.storage}. Its key, shown this once; keep it secret:\n\n  ${app.token}\n\nUse it: curl -H 'Authorization: Bearer <key>' -X PUT -H 'content-type: application/json' -d '{"value":1}' <platform>/v1/kv/some/key\n`);
    }));
  apps
    .command('list')
    .description('API apps and the kv store each uses')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (flags: Flags) => {
      const { apps: list } = await api(flags).apps();
      if (flags.json) return printJson({ apps: list });
      printTable(['APP', 'SQUAD', 'STORAGE', 'CREATED BY'], list.map((a) => [a.name, a.squad, a.storage, a.createdBy]));
    }));

  waiting(storage
    .command('destroy')
    .description('stop a storage resource and delete its data (owner squad)')
    .argument('<name>'))
    .action(action(async (name: string, flags: WaitFlags) => {
      const client = api(flags);
      const s = await client.destroyStorage(name);
      if (flags.wait) await follow(client, name, null, parseIntFlag(flags.timeout, '--timeout', 1, 86_400) * 1000, flags.json ? () => {} : (l) => process.stderr.write(`${l}\n`));
      if (flags.json) return printJson(s);
      process.stdout.write(flags.wait ? `storage ${name} destroyed, its data deleted\n` : `storage ${name} is being destroyed\n`);
    }));
}
