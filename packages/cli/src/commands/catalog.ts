import type { Command } from 'commander';
import { action, parseIntFlag, printJson, printTable } from '../output.ts';
import { api } from '../platform-client.ts';
import { registerLogin } from './login.ts';

interface Flags { json?: boolean; dataDir?: string }
interface ServiceFlags extends Flags { squad: string; repo?: string; description?: string }

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

/** `squads`, `services`, `audit`, and (login.ts) `login`, `logout`, `whoami`: who owns what, who changed it, who acts. */
export function registerCatalog(program: Command): void {
  const squads = program.command('squads').description('squads: the teams that own services');
  squads
    .command('create')
    .description('create a squad (admin); prints its token, shown this once')
    .argument('<name>')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (name: string, flags: Flags) => {
      const squad = await api(flags).createSquad(name);
      if (flags.json) return printJson(squad);
      process.stdout.write(`squad ${squad.name} created. Its token, shown this once; keep it secret:\n\n  ${squad.token}\n\nUse it: export SQUADRON_TOKEN=<token>, or: squadron login --token <token>\n`);
    }));
  squads
    .command('list')
    .description('list squads')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (flags: Flags) => {
      const { squads: list } = await api(flags).squads();
      if (flags.json) return printJson({ squads: list });
      printTable(['SQUAD', 'CREATED', 'BY'], list.map((s) => [s.name, when(s.createdAt), s.createdBy]));
    }));

  const services = program.command('services').description('services: who owns them, where their code is, what they declare');
  services
    .command('create')
    .description('create a service owned by a squad')
    .argument('<name>')
    .requiredOption('--squad <squad>', 'the owner squad')
    .option('--repo <url>', 'where its code lives')
    .option('--description <text>', 'what it does')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (name: string, flags: ServiceFlags) => {
      const svc = await api(flags).createService({ name, squad: flags.squad, ...(flags.repo ? { repo: flags.repo } : {}), ...(flags.description ? { description: flags.description } : {}) });
      if (flags.json) return printJson(svc);
      process.stdout.write(`service ${svc.name} created, owned by squad ${svc.squad}. Deploy it: squadron deploy ${svc.name} --path DIR --sites SITE\n`);
    }));
  services
    .command('list')
    .description('list services with their owners and releases')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (flags: Flags) => {
      const { services: list } = await api(flags).services();
      if (flags.json) return printJson({ services: list });
      printTable(['SERVICE', 'SQUAD', 'RELEASE', 'INSTANCES', 'REPO'], list.map((s) => [
        s.name, s.squad, s.release ?? '-', Object.entries(s.desired).map(([site, n]) => `${site}:${n}`).join(' ') || '-', s.repo ?? '-',
      ]));
    }));
  services
    .command('show')
    .description('one service: owner, repository, and the methods, the topics it publishes and subscribes to, and the queues its code declares')
    .argument('<name>')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (name: string, flags: Flags) => {
      const s = await api(flags).service(name);
      if (flags.json) return printJson(s);
      const lines = [
        `service      ${s.name}`,
        `squad        ${s.squad}`,
        `repository   ${s.repo ?? '-'}`,
        `description  ${s.description ?? '-'}`,
        `release      ${s.release ?? 'not deployed'}`,
        `instances    ${Object.entries(s.desired).map(([site, n]) => `${site}:${n}`).join(' ') || '-'}`,
        // What the code declares, each line saying which way: a bare 'topics' read as "publishes none".
        ...(s.interface ? [
          `methods      ${s.interface.methods.join(', ') || '-'}`,
          `publishes    ${(s.interface.publishes ?? []).join(', ') || '-'}`,
          `subscribes   ${s.interface.topics.join(', ') || '-'}`,
          `consumes     ${s.interface.queues.join(', ') || '-'}`,
        ] : ['methods      (these, and the topics and queues it uses, are known once an instance of the release runs)']),
        `owns         ${s.claims.owned.map((c) => `${c.kind} ${c.name}`).join(', ') || '-'}`,
        ...s.claims.shared.map((c) => `shares       ${c.kind} ${c.name} (owned by ${c.owner}, of the same squad)`),
      ];
      process.stdout.write(`${lines.map((l) => l.trimEnd()).join('\n')}\n`);
      // A claim of another squad's topic or queue grants nothing: say so, and what to do.
      for (const r of s.claims.refused) process.stdout.write(`refused      ${r.kind} ${r.name}: ${r.message}\n`);
    }));

  registerLogin(program);

  program
    .command('audit')
    .description('every change: who made it, what it was, and when (newest first)')
    .option('--target <target>', 'only changes to this service (NAME), or to anything as KIND:NAME, e.g. squad:radio, storage:ledger')
    .option('--limit <n>', 'at most this many entries (default 100)')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (flags: Flags & { target?: string; limit?: string }) => {
      const limit = flags.limit === undefined ? undefined : parseIntFlag(flags.limit, '--limit', 1, 1000);
      const { entries } = await api(flags).audit({ ...(flags.target ? { target: flags.target } : {}), ...(limit !== undefined ? { limit } : {}) });
      if (flags.json) return printJson({ entries });
      printTable(['WHEN', 'WHO', 'ACTION', 'TARGET', 'DETAIL'], entries.map((e) => [when(e.at), e.actor, e.action, e.target, JSON.stringify(e.detail)]));
    }));
}
