import type { Command } from 'commander';
import { resolve } from 'node:path';
import type { ControlClient, InstanceRecordBody } from '@squadron/client';
import { action, parseIntFlag, printJson, printTable, UsageError } from '../output.ts';
import { api } from '../platform-client.ts';
import { findEntry } from '../service-loader.ts';
import { parseMemoryFlag } from '../memory-flag.ts';
import { waitForRollout } from './rollout-progress.ts';
import { buildAndUpload, shortDigest } from '../release-artifact.ts';

interface Flags { json?: boolean; dataDir?: string }
interface WaitFlags extends Flags { wait: boolean; timeout: string }

const sites = (desired: Record<string, number>) => Object.entries(desired).map(([s, n]) => `${s}:${n}`).join(' ') || '-';

/** Resident memory against the ceiling, e.g. `95/256 MB`. */
const memory = (i: InstanceRecordBody) => `${i.rssBytes === null ? '-' : (i.rssBytes / 1048576).toFixed(0)}/${i.maxMemoryMb} MB`;

/** A crash loop, and how long until the next try while it backs off. */
function stateOf(i: InstanceRecordBody, now: number): string {
  const state = i.crashLoop ? 'crash-loop' : i.state;
  return i.state === 'crashed' && i.restartAt !== null ? `${state}, restart in ${Math.max(0, (i.restartAt - now) / 1000).toFixed(1)}s` : state;
}

/** Why the last process ended: the agent's reason (memory-limit), else its signal or code. */
function lastExit(i: InstanceRecordBody): string {
  const e = i.lastExit;
  if (!e) return '-';
  return e.reason ?? e.signal ?? `code ${e.code}`;
}

function waitOptions(c: Command): Command {
  return c
    .option('--no-wait', 'return once the change is recorded, without waiting for the rollout')
    .option('--timeout <seconds>', 'how long to wait for the rollout', '120')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory');
}

async function follow(client: ControlClient, service: string, flags: WaitFlags): Promise<void> {
  if (!flags.wait) return;
  const timeoutMs = parseIntFlag(flags.timeout, '--timeout', 1, 86_400) * 1000;
  await waitForRollout(client, service, timeoutMs, flags.json ? () => {} : (line) => process.stderr.write(`${line}\n`));
}

/** `deploy`, `instances`, `scale`, `rollback`, `undeploy`, `releases`, `agents`. */
export function registerDeploy(program: Command): void {
  waitOptions(program
    .command('deploy')
    .description('deploy a service folder: a new release with N instances in each named site, rolled out without downtime')
    .argument('<service>')
    .requiredOption('--path <dir>', 'the service folder: built here into the release\'s artifact, which the platform stores and runs')
    .requiredOption('--sites <list>', 'comma-separated sites, e.g. sto,gcp-eu')
    .option('--instances <n>', 'instances in each site', '1')
    .option('--max-memory <size>', 'each instance\'s memory ceiling, e.g. 512MB or 1GB (default 256MB)'))
    .action(action(async (service: string, flags: WaitFlags & { path: string; sites: string; instances: string; maxMemory?: string }) => {
      const path = resolve(flags.path);
      findEntry(path);
      const siteList = flags.sites.split(',').map((s) => s.trim()).filter(Boolean);
      if (siteList.length === 0) throw new UsageError('--sites needs at least one site, e.g. --sites sto');
      const instances = parseIntFlag(flags.instances, '--instances', 1, 1000);
      const maxMemory = flags.maxMemory === undefined ? {} : { maxMemoryMb: parseMemoryFlag(flags.maxMemory, '--max-memory') };
      const client = api(flags);
      const say = flags.json ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
      const artifact = await buildAndUpload(client, path, say);
      const release = await client.deploy(service, { artifact: artifact.digest, path, sites: siteList, instances, ...maxMemory });
      say(`release ${release.number} of ${service}: ${sites(release.desired)}, artifact ${shortDigest(artifact.digest)}`);
      await follow(client, service, flags);
      if (flags.json) return printJson(release);
      process.stdout.write(`${service} release ${release.number} ${flags.wait ? 'is running' : 'recorded'}: ${sites(release.desired)}, artifact ${release.artifact}\n`);
    }));

  program
    .command('instances')
    .description('a service\'s instances: site, agent, state, pid, memory against its ceiling, CPU (and demotion), restarts, last exit')
    .argument('<service>')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (service: string, flags: Flags) => {
      const { instances } = await api(flags).instances(service);
      if (flags.json) return printJson({ instances });
      if (instances.length === 0) return void process.stdout.write(`no instances of ${service}; deploy it: squadron deploy ${service} --path DIR --sites SITE\n`);
      const now = Date.now();
      printTable(['INSTANCE', 'SITE', 'RELEASE', 'STATE', 'PID', 'MEMORY', 'CPU', 'RESTARTS', 'LAST EXIT', 'AGENT'], instances.map((i: InstanceRecordBody) => [
        i.id, i.site, i.release, stateOf(i, now), i.pid ?? '-', memory(i),
        `${i.cpuPercent === null ? '-' : `${i.cpuPercent.toFixed(0)}%`}${i.demoted ? ' demoted' : ''}`, i.restarts, lastExit(i), i.agent ?? '-',
      ]));
    }));

  waitOptions(program
    .command('scale')
    .description('set a service\'s instances per site (every site it runs in, or one)')
    .argument('<service>')
    .requiredOption('--instances <n>', 'instances per site')
    .option('--site <site>', 'only this site (it may be a new one)'))
    .action(action(async (service: string, flags: WaitFlags & { instances: string; site?: string }) => {
      const client = api(flags);
      const svc = await client.scale(service, { instances: parseIntFlag(flags.instances, '--instances', 0, 1000), ...(flags.site ? { site: flags.site } : {}) });
      await follow(client, service, flags);
      if (flags.json) return printJson(svc);
      process.stdout.write(`${service}: ${sites(svc.desired)}\n`);
    }));

  waitOptions(program
    .command('rollback')
    .description('a new release with the code of an earlier one (default: the previous), at today\'s scale')
    .argument('<service>')
    .option('--to <release>', 'the release whose code to run'))
    .action(action(async (service: string, flags: WaitFlags & { to?: string }) => {
      const client = api(flags);
      const release = await client.rollback(service, flags.to === undefined ? {} : { to: parseIntFlag(flags.to, '--to', 1) });
      await follow(client, service, flags);
      if (flags.json) return printJson(release);
      process.stdout.write(`${service} release ${release.number} runs the code of release ${release.rollbackOf} (artifact ${release.artifact ? shortDigest(release.artifact) : 'none'})\n`);
    }));

  waitOptions(program
    .command('undeploy')
    .description('drain and stop every instance of a service (it stays in the catalog)')
    .argument('<service>'))
    .action(action(async (service: string, flags: WaitFlags) => {
      const client = api(flags);
      const svc = await client.undeploy(service);
      await follow(client, service, flags);
      if (flags.json) return printJson(svc);
      process.stdout.write(`${service} undeployed\n`);
    }));

  program
    .command('releases')
    .description('a service\'s releases, newest first')
    .argument('<service>')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (service: string, flags: Flags) => {
      const { releases } = await api(flags).releases(service);
      if (flags.json) return printJson({ releases });
      printTable(['RELEASE', 'ARTIFACT', 'CREATED', 'BY', 'INSTANCES', 'MEMORY', 'BUILT FROM'], releases.map((r) => [
        `${r.number}${r.rollbackOf !== null ? ` (rollback to ${r.rollbackOf})` : ''}`, r.artifact ? shortDigest(r.artifact) : 'none',
        new Date(r.createdAt).toISOString().slice(0, 19).replace('T', ' '), r.createdBy, sites(r.desired), `${r.maxMemoryMb} MB`, r.path ?? '-',
      ]));
    }));

  program
    .command('agents')
    .description('the agents of every site, their slots and load')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (flags: Flags) => {
      const { agents } = await api(flags).agents();
      if (flags.json) return printJson({ agents });
      printTable(['AGENT', 'SITE', 'HOST', 'SLOTS', 'INSTANCES', 'STATE'], agents.map((a) => [a.id, a.site, a.host, a.slots ?? 'elastic', a.instances, a.up ? 'up' : 'down']));
    }));
}
