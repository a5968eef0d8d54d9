import type { Command } from 'commander';
import type { GrantRequest, ServicePolicyBody } from '@squadron/client';
import { formatRate, parseRate } from '@squadron/policy';
import { action, parseIntFlag, printJson, printTable, UsageError } from '../output.ts';
import { api } from '../platform-client.ts';

interface Flags { json?: boolean; dataDir?: string }
interface GrantFlags extends Flags { methods?: string; rate?: string; burst?: string; publish?: string; subscribe?: string; consume?: string }
interface DenyFlags extends Flags { methods?: string }

const list = (v: string | undefined): string[] | undefined => (v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean));

function rateFlag(text: string): number {
  try {
    return parseRate(text);
  } catch (err) {
    throw new UsageError(`--rate: ${(err as Error).message}`);
  }
}

/** A policy as people read it: access, then one line per rule. */
function printPolicy(p: ServicePolicyBody): void {
  process.stdout.write(`${p.service} (squad ${p.squad}): ${p.access}`
    + (p.access === 'open' ? `; callers without a grant get ${formatRate(p.defaultRate)}` : '; only granted callers (and squad ' + p.squad + ') may call')
    + '\n');
  if (p.topics.length || p.queues.length) process.stdout.write(`owns topics: ${p.topics.join(', ') || '-'}; queues: ${p.queues.join(', ') || '-'}\n`);
  const rows = [
    ...p.denies.map((d) => ['deny', d.caller, d.methods?.join(',') ?? 'everything', '-', '-']),
    ...p.grants.map((g) => [
      'grant', g.caller, g.methods === null ? 'all' : g.methods.join(',') || '-', g.rate ? formatRate(g.rate) : `default (${formatRate(p.defaultRate)})`,
      [g.publish.length ? `publish ${g.publish.join(',')}` : '', g.subscribe.length ? `subscribe ${g.subscribe.join(',')}` : '', g.consume.length ? `consume ${g.consume.join(',')}` : ''].filter(Boolean).join('; ') || '-',
    ]),
  ];
  process.stdout.write('\n');
  if (rows.length === 0) process.stdout.write(`no rules; grant one: squadron grant CALLER ${p.service} [--methods a,b] [--rate 500/s]\n`);
  else printTable(['RULE', 'CALLER', 'METHODS', 'RATE', 'TOPICS AND QUEUES'], rows);
}

function done(flags: Flags, p: ServicePolicyBody, said: string): void {
  if (flags.json) return printJson(p);
  process.stdout.write(`${said}; in effect within a second\n\n`);
  printPolicy(p);
}

/** `access`, `grant`, `deny`, `revoke`, `policy`: who may call a service, and how much. */
export function registerAccess(program: Command): void {
  program
    .command('access')
    .description('open a service to every authenticated caller (at the default threshold), or restrict it to granted callers')
    .argument('<service>')
    .argument('<access>', 'open or restricted')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (service: string, access: string, flags: Flags) => {
      if (access !== 'open' && access !== 'restricted') throw new UsageError(`access is 'open' or 'restricted', got '${access}'`);
      done(flags, await api(flags).setAccess(service, { access }), `${service} is ${access}`);
    }));

  program
    .command('grant')
    .description('let CALLER (a service, or squad:NAME) call SERVICE, at a higher rate, or use its topics and queues; replaces an earlier grant')
    .argument('<caller>', 'a service, or a whole squad as squad:NAME')
    .argument('<service>')
    .option('--methods <list>', 'only these methods, comma-separated (default: all, unless only topics or queues are granted)')
    .option('--rate <rate>', 'the pair\'s limit, e.g. 500/s or 30/m (default: the platform\'s threshold)')
    .option('--burst <n>', 'calls that may come at once (default: two seconds\' worth of the rate)')
    .option('--publish <list>', 'topics it may publish to, queues it may enqueue to')
    .option('--subscribe <list>', 'topics it may subscribe to')
    .option('--consume <list>', 'queues it may consume')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (caller: string, service: string, flags: GrantFlags) => {
      const body: GrantRequest = {};
      for (const k of ['methods', 'publish', 'subscribe', 'consume'] as const) {
        const names = list(flags[k]);
        if (names !== undefined) {
          if (names.length === 0) throw new UsageError(`--${k} needs at least one name`);
          body[k] = names;
        }
      }
      if (flags.rate !== undefined) body.ratePerSecond = rateFlag(flags.rate);
      if (flags.burst !== undefined) body.burst = parseIntFlag(flags.burst, '--burst', 1);
      done(flags, await api(flags).grant(caller, service, body), `granted ${caller} on ${service}`);
    }));

  program
    .command('deny')
    .description('refuse CALLER some methods of SERVICE, or everything; a deny wins over any grant')
    .argument('<caller>', 'a service, or a whole squad as squad:NAME')
    .argument('<service>')
    .option('--methods <list>', 'only these methods, comma-separated (default: everything, topics and queues included)')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (caller: string, service: string, flags: DenyFlags) => {
      const methods = list(flags.methods);
      if (methods !== undefined && methods.length === 0) throw new UsageError('--methods needs at least one name');
      done(flags, await api(flags).deny(caller, service, methods ? { methods } : {}), `denied ${caller} ${methods ? methods.join(',') : 'everything'} on ${service}`);
    }));

  program
    .command('revoke')
    .description('remove every rule (grant and deny) naming CALLER on SERVICE')
    .argument('<caller>', 'a service, or a whole squad as squad:NAME')
    .argument('<service>')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (caller: string, service: string, flags: Flags) => {
      done(flags, await api(flags).revoke(caller, service), `removed the rules naming ${caller} on ${service}`);
    }));

  program
    .command('policy')
    .description('a service\'s access, grants and deny rules, and the topics and queues it owns')
    .argument('<service>')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (service: string, flags: Flags) => {
      const p = await api(flags).policy(service);
      if (flags.json) return printJson(p);
      printPolicy(p);
    }));
}
