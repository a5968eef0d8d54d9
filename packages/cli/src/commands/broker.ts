import type { Command } from 'commander';
import pino from 'pino';
import { ControlClient } from '@squadron/client';
import { PolicyWatcher } from '@squadron/policy';
import { action, UsageError } from '../output.ts';
import { onShutdown } from '../shutdown.ts';

interface BrokerFlags { site: string; listen: string; peer: string[]; sites?: string; dataDir?: string; control?: string; token?: string }

/** Messages a parent process (squadron up) sends a broker it started. */
export type BrokerControlMessage = { type: 'peers'; peers: Record<string, string>; sites: string[] };

function parsePeers(values: string[]): Record<string, string> {
  const peers: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i <= 0) throw new UsageError(`--peer takes SITE=ADDRESS, got '${v}'`);
    peers[v.slice(0, i)] = v.slice(i + 1);
  }
  return peers;
}

/** `squadron broker --site S`: one site's broker, on its own (a site on another machine). */
export function registerBroker(program: Command): void {
  program
    .command('broker')
    .description('run one site\'s broker')
    .requiredOption('--site <site>', 'the site this broker serves')
    .option('--listen <address>', 'listen address', 'tcp://127.0.0.1:0')
    .option('--peer <site=address>', 'another site\'s broker (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--sites <list>', 'all sites in failover order, comma-separated')
    .option('--data-dir <dir>', 'where durable queues are kept (without it, the broker refuses them)')
    .option('--control <url>', 'join this control plane: register the broker\'s address, and check every connection\'s credential against its keys')
    .option('--token <token>', 'the admin token for --control (default SQUADRON_TOKEN)')
    .action(action(async (flags: BrokerFlags) => {
      // Its logs and queues are its own: nothing it writes is readable by other users.
      process.umask(0o077);
      // Started by the platform: never outlive it, even while still starting. Once running, a
      // parent that goes away stops this process gracefully (onShutdown) instead.
      const orphaned = () => process.exit(1);
      process.once('disconnect', orphaned);
      const [{ Broker }, { brokerIdentity }] = await Promise.all([import('@squadron/broker'), import('../platform/broker-identity.ts')]);
      const peers = parsePeers(flags.peer);
      const logger = pino({ name: `broker:${flags.site}`, level: process.env.SQUADRON_LOG_LEVEL ?? 'info' });
      const token = flags.token ?? process.env.SQUADRON_TOKEN;
      const control = flags.control ? new ControlClient({ url: flags.control, ...(token ? { token } : {}) }) : null;
      // Under a control plane, every connection proves who it is; a broker on its own trusts claims.
      const identity = control ? await brokerIdentity(control, flags.site, logger) : null;
      const broker = new Broker({
        site: flags.site,
        listen: flags.listen,
        peers,
        ...(flags.sites ? { sites: flags.sites.split(',') } : {}),
        ...(flags.dataDir ? { dataDir: flags.dataDir } : {}),
        ...(process.env.SQUADRON_FAULT_POWER_LOSS === '1' ? { simulatePowerLoss: true } : {}),
        logger,
        ...(identity ? { identity: { verifier: identity.verifier, self: identity.self } } : {}),
      });
      const address = await broker.start();
      // Who may publish, subscribe and consume what: the control plane's policies, kept current.
      const policies = control ? new PolicyWatcher(control, (p) => broker.setPolicies(p), logger) : null;
      await policies?.start();
      await control?.setBroker(flags.site, address);
      if (process.send) {
        process.on('message', (m: BrokerControlMessage) => {
          if (m?.type === 'peers') broker.setPeers(m.peers, m.sites);
        });
        process.send({ type: 'ready', address });
      } else {
        process.stdout.write(`broker of site ${flags.site} listening on ${address}\n`);
      }
      process.removeListener('disconnect', orphaned);
      await onShutdown(async () => {
        identity?.stop();
        policies?.stop();
        await broker.stop();
      });
      process.exit(process.exitCode ?? 0);
    }));
}
