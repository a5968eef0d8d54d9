import type { Command } from 'commander';
import type { StatusBody } from '@squadron/client';
import { action, printJson, printTable } from '../output.ts';
import { api } from '../platform-client.ts';

interface ListFlags { json?: boolean; dataDir?: string }

/** `status` and `sites`: what runs where. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('sites, their brokers, and the live instances of every service per site')
    .argument('[service]', 'show only this service')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (service: string | undefined, flags: ListFlags) => {
      const client = api(flags);
      const status = await client.status();
      const all = status.services;
      if (service) {
        status.services = status.services.filter((s) => s.name === service);
        // No live instance: a service the platform knows (created, or undeployed) is shown with
        // none; for one it does not know, the API's NOT_FOUND says so and how to list them.
        if (status.services.length === 0) {
          await client.service(service);
          status.services = [{ name: service, instances: [] }];
        }
      }
      if (flags.json) return printJson(status);
      process.stdout.write('SITES\n');
      printTable(['SITE', 'KIND', 'BROKER', 'STATE', 'CONNECTIONS', 'PEERS'], status.sites.map((s) => [
        s.name, s.kind, s.broker?.address ?? '-', s.brokerStatus.up ? 'up' : `down (${s.brokerStatus.error ?? 'no answer'})`,
        s.brokerStatus.connections, s.brokerStatus.peers.map((p) => `${p.site}:${p.up ? 'up' : 'down'}`).join(' ') || '-',
      ]));
      process.stdout.write('\nINSTANCES\n');
      const rows = status.services.flatMap((svc) => svc.instances.map((i) => [svc.name, i.id, i.site, i.address, i.inFlight, i.pid]));
      if (rows.length === 0 && service) process.stdout.write(`${service} has no live instances; deploy it: squadron deploy ${service} --path DIR --sites SITE\n`);
      else if (rows.length === 0) process.stdout.write('no live instances; start one with: npx squadron run ./my-service --site <site>\n');
      else printTable(['SERVICE', 'INSTANCE', 'SITE', 'ADDRESS', 'IN-FLIGHT', 'PID'], rows);
      // Refused calls per caller-to-service pair, summed over the instances that counted them:
      // callees (their policy) and callers (its mirror, which refuses at once).
      const refused = new Map<string, { rateLimited: number; denied: number }>();
      for (const i of all.flatMap((svc) => svc.instances)) {
        for (const [pair, c] of Object.entries(i.rejections ?? {})) {
          const sum = refused.get(pair) ?? { rateLimited: 0, denied: 0 };
          sum.rateLimited += c.rateLimited;
          sum.denied += c.denied;
          refused.set(pair, sum);
        }
      }
      const pairs = [...refused].map(([pair, c]) => ({ caller: pair.slice(0, pair.lastIndexOf('>')), callee: pair.slice(pair.lastIndexOf('>') + 1), ...c }))
        .filter((p) => !service || p.callee === service || p.caller === `service:${service}`)
        .sort((a, b) => a.callee.localeCompare(b.callee) || a.caller.localeCompare(b.caller));
      if (pairs.length > 0) {
        process.stdout.write('\nREFUSED CALLS (since each instance started)\n');
        printTable(['CALLER', 'SERVICE', 'RATE_LIMITED', 'PERMISSION_DENIED'], pairs.map((p) => [p.caller, p.callee, p.rateLimited, p.denied]));
      }
      const brokerRefusals = status.sites.flatMap((s) => (s.brokerStatus.refusals ?? [])
        .filter((r) => !service || r.caller === `service:${service}`)
        .map((r) => [s.name, r.caller, `${r.permission} ${r.kind} ${r.name}`, r.refused]));
      if (brokerRefusals.length > 0) {
        process.stdout.write('\nREFUSED BY BROKERS\n');
        printTable(['SITE', 'CALLER', 'ASKED', 'REFUSED'], brokerRefusals);
      }
      // A subscriber's private group (`_sub.…`) is shown once the broker dropped some of its messages.
      const subs = status.sites.flatMap((s) => s.brokerStatus.subscriptions
        .filter((x) => (!x.group.startsWith('_sub.') || x.dropped > 0) && (!service || x.group === service))
        .map((x) => [s.name, x.topic, x.group, x.members, x.delivered, x.dropped]));
      if (subs.length > 0) {
        process.stdout.write('\nSUBSCRIPTIONS\n');
        printTable(['SITE', 'TOPIC', 'GROUP', 'MEMBERS', 'DELIVERED', 'DROPPED'], subs);
      }
      printSubscriberDrops(status, service);
    }));

  program
    .command('sites')
    .description('the platform\'s sites in failover order')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (flags: ListFlags) => {
      const client = api(flags);
      const [{ sites }, { agents }] = await Promise.all([client.sites(), client.agents()]);
      if (flags.json) return printJson({ sites });
      printTable(['SITE', 'KIND', 'CAPACITY', 'AGENTS', 'INSTANCES', 'BROKER'], sites.map((s) => {
        const mine = agents.filter((a) => a.site === s.name && a.up);
        const used = mine.reduce((n, a) => n + a.instances, 0);
        const capacity = s.slots === null ? `elastic (+${(s.provisionDelayMs / 1000).toFixed(1)} s to provision)` : `${s.slots} slots per agent (${mine.length * s.slots - used} free)`;
        return [s.name, s.kind, capacity, mine.length, used, s.broker?.address ?? '-'];
      }));
    }));
}

/**
 * Messages subscribers dropped themselves, their handlers behind and their queues full: clients'
 * (by the name they connected with) and instances' (by id), as each last reported to its broker.
 */
function printSubscriberDrops(status: StatusBody, service: string | undefined): void {
  const rows = status.sites.flatMap((s) => (s.brokerStatus.subscriberDrops ?? [])
    .filter((d) => !service || d.group === service)
    .map((d) => [s.name, d.subscriber, d.topic, d.group, d.dropped]));
  if (rows.length === 0) return;
  process.stdout.write('\nDROPPED BY SUBSCRIBERS (their handlers fell behind)\n');
  printTable(['SITE', 'SUBSCRIBER', 'TOPIC', 'GROUP', 'DROPPED'], rows);
}
