import type { Command } from 'commander';
import { basename, join, resolve } from 'node:path';
import { SquadronError } from '@squadron/protocol';
import type { ControlClient, InstanceRecordBody } from '@squadron/client';
import { action, parseIntFlag } from '../output.ts';
import { dataDir } from '../env.ts';
import { onShutdown } from '../shutdown.ts';
import type { Seed } from '../platform/demo.ts';
import { prepareDataDir, privateFileMode } from '../platform/data-dir.ts';

interface UpFlags { config?: string; dataDir?: string; port?: string; state?: string; demo?: boolean; service: string[] }

/** Said at start where the platform is not root: what keeps squads apart, and what does not. */
const UNPRIVILEGED_WARNING = 'warning: not running as root, so every squad\'s instances run as this user: Node\'s permission model keeps a handler from ' +
  'reading the data directory or other squads\' folders, but a child process it starts can, and can signal other squads\' instances. Run as root for an OS user per squad';

/** Services given with --service belong to this squad. */
const LOCAL_SQUAD = 'local';

/** `squadron up`: the whole platform on this machine, in the foreground, until Ctrl-C. */
export function registerUp(program: Command): void {
  program
    .command('up')
    .description('run the whole platform on this machine: control plane, a broker and an agent per site, and services')
    .option('--config <file>', 'platform config (YAML); default: sites sto (datacenter) and gcp-eu (cloud)')
    .option('--data-dir <dir>', 'where logs, the admin token and local state go (default .squadron or SQUADRON_DATA_DIR)')
    .option('--port <n>', 'API port (default 7700; 0 picks a free one)')
    .option('--state <where>', 'state store: a SQLite file (default <data-dir>/state.db) or postgres://…')
    .option('--demo', 'also deploy the demo squads\' services of examples/ to every site')
    .option('--service <dir>', `also deploy this service folder (named after the folder, squad '${LOCAL_SQUAD}') to every site (repeatable)`, (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action(action(async (flags: UpFlags) => {
      const began = Date.now();
      // Before anything is written: the data directory holds the platform's secrets.
      privateFileMode();
      prepareDataDir(dataDir(flags.dataDir));
      // Loaded here, not at the top: the other commands start faster without the server's modules.
      const [{ loadConfig }, { LocalPlatform }, { demoSeeds }] = await Promise.all([
        import('@squadron/control'), import('../platform/platform.ts'), import('../platform/demo.ts'),
      ]);
      const config = loadConfig(flags.config);
      if (flags.port !== undefined) config.api = { ...config.api, port: parseIntFlag(flags.port, '--port', 0, 65535) };
      const seeds: Seed[] = [
        ...(flags.demo ? demoSeeds() : []),
        ...flags.service.map((dir) => ({ squad: LOCAL_SQUAD, service: basename(resolve(dir)), path: resolve(dir) })),
      ];
      const say = (line: string) => process.stdout.write(`squadron: ${line}\n`);
      if (process.getuid?.() !== 0) say(UNPRIVILEGED_WARNING);
      const platform = new LocalPlatform({ config, dataDir: dataDir(flags.dataDir), seeds, say, ...(flags.state ? { state: flags.state } : {}) });
      let started = false;
      const stopped = onShutdown(async () => {
        say('stopping');
        await platform.stop();
        say('stopped');
      });
      try {
        await platform.start();
        const ready = await allReady(platform.client(), new Set(seeds.map((s) => s.service)), say, join(dataDir(flags.dataDir), 'logs'));
        started = true;
        process.stdout.write(`squadron ready: ${ready} instances in ${config.sites.length} sites, API ${platform.url} (${((Date.now() - began) / 1000).toFixed(1)} s). Try: npx squadron status\n`);
      } catch (err) {
        await platform.stop();
        throw err;
      }
      if (started) await stopped;
      process.exit(process.exitCode ?? 0);
    }));
}

/**
 * Wait until every instance the platform runs is ready, saying how far along it is: those of the
 * services just deployed, and those deployed before (a data directory used again). An instance of
 * a service just deployed that crash-loops stops the wait with its name and where its log is; one
 * of a service deployed before is said once and not waited for, since the platform is not
 * this service's to refuse.
 */
async function allReady(api: ControlClient, seeded: ReadonlySet<string>, say: (line: string) => void, logs: string): Promise<number> {
  let shown = -1;
  const logOf = (i: InstanceRecordBody) => join(logs, `agent-${i.site}`, `${i.id}.log`);
  // What is deployed does not change while it starts: count it once.
  const deployed = (await api.services()).services.filter((s) => s.release !== null);
  const wanted = deployed.reduce((n, s) => n + Object.values(s.desired).reduce((a, b) => a + b, 0), 0);
  const given = new Set<string>();
  for (;;) {
    const lists = await Promise.all(deployed.map((s) => api.instances(s.name)));
    const all = lists.flatMap((l) => l.instances).filter((i) => i.state !== 'draining');
    for (const looping of all.filter((i) => i.crashLoop && !given.has(i.id))) {
      if (seeded.has(looping.service)) {
        throw new SquadronError('CRASH_LOOP', `instance ${looping.id} of ${looping.service} keeps exiting before it is ready; its log is ${logOf(looping)}`);
      }
      given.add(looping.id);
      say(`warning: instance ${looping.id} of ${looping.service} keeps exiting before it is ready (its log is ${logOf(looping)}); not waiting for it`);
    }
    const ready = all.filter((i) => i.state === 'ready').length;
    if (ready >= wanted - given.size) return ready;
    if (ready !== shown) say(`${ready} of ${wanted} instances ready`);
    shown = ready;
    await new Promise((r) => setTimeout(r, 100));
  }
}
