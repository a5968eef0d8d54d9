import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { action, UsageError } from '../output.ts';
import { api } from '../platform-client.ts';
import { dataDir } from '../env.ts';
import { onShutdown } from '../shutdown.ts';
import { assertMayReadLogs } from '../logs/log-access.ts';
import { byTime, LogTail, type LogEntry } from '../logs/log-tail.ts';
import { jsonLine, parseSince, textLines } from '../logs/log-format.ts';
import { serviceLogs } from '../logs/service-logs.ts';

interface LogsFlags { site?: string; follow?: boolean; since?: string; grep?: string; json?: boolean; dataDir?: string }

/** How often --follow reads the files again, and asks the platform for instances started since. */
const FOLLOW_POLL_MS = 200;
const INSTANCES_POLL_MS = 1_000;

/**
 * `squadron logs SERVICE`: the log files of a service's instances, as the agents on this machine
 * write them, merged in time order, each line with its instance; `--follow` goes on printing.
 */
export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description('a service\'s instance logs, merged in time order, each line with its instance')
    .argument('<service>')
    .option('--site <site>', 'only the instances in this site')
    .option('-f, --follow', 'go on printing new lines, of instances started later too, until Ctrl-C')
    .option('--since <age>', 'only lines from this long ago on: 30s, 10m, 2h or 1d')
    .option('--grep <text>', 'only lines whose text in the file contains this')
    .option('--json', 'print JSON lines, each with its instance and site')
    .option('--data-dir <dir>', 'the data directory of the platform on this machine (default .squadron or SQUADRON_DATA_DIR)')
    .action(action(async (service: string, flags: LogsFlags) => {
      const from = flags.since === undefined ? null : Date.now() - parseSince(flags.since);
      const client = api(flags);
      const [who, owner, { sites: all }] = await Promise.all([client.whoami(), client.service(service), client.sites()]);
      assertMayReadLogs(who, owner);
      const names = all.map((s) => s.name);
      if (flags.site !== undefined && !names.includes(flags.site)) throw new UsageError(`no site '${flags.site}'; the platform has: ${names.join(', ')}`);
      const sites = flags.site === undefined ? names : [flags.site];
      const logsDir = join(dataDir(flags.dataDir), 'logs');

      const tails = new Map<string, LogTail>();
      const findInstances = async () => {
        for (const l of await serviceLogs(client, service, sites, logsDir)) {
          if (!tails.has(l.instance)) tails.set(l.instance, new LogTail(l.file, l.instance, l.site));
        }
      };
      const wanted = (e: LogEntry) => (from === null || e.time >= from) && (flags.grep === undefined || e.text.includes(flags.grep));
      const printNew = (final: boolean) => {
        const entries = [...tails.values()].flatMap((t) => t.read(final)).filter(wanted).sort(byTime);
        if (entries.length === 0) return;
        const width = Math.max(...[...tails.keys()].map((id) => id.length));
        const lines = entries.flatMap((e) => (flags.json ? [jsonLine(e)] : textLines(e, width)));
        process.stdout.write(`${lines.join('\n')}\n`);
      };

      await findInstances();
      if (!flags.follow) {
        printNew(true);
        if (![...tails.values()].some((t) => existsSync(t.file))) {
          process.stderr.write(`no logs of ${service} in ${logsDir}: none of its instances has run on this machine (squadron logs reads the data directory of the machine its agents run on: --data-dir)\n`);
        }
        return;
      }
      let stopped = false;
      const stop = onShutdown(async () => void (stopped = true));
      printNew(false);
      let lookedAt = Date.now();
      while (!stopped) {
        await Promise.race([stop, new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS))]);
        if (stopped) break;
        if (Date.now() - lookedAt >= INSTANCES_POLL_MS) {
          lookedAt = Date.now();
          // The platform out of reach for a moment: the files already known go on being followed.
          await findInstances().catch(() => {});
        }
        printNew(false);
      }
      process.exit(0);
    }));
}
