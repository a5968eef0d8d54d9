import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { PlatformConfig, Sites } from '@squadron/control';
import { ControlClient } from '@squadron/client';
import { seed, type Seed } from './demo.ts';
import { startControlPlane, type RunningControlPlane } from './control-plane.ts';
import { brokerScript, BROKER_PROCESS } from './runtime-bundles.ts';
import { ProcessTree } from './process-tree.ts';
import type { BrokerControlMessage } from '../commands/broker.ts';

export interface PlatformOptions {
  config: PlatformConfig;
  dataDir: string;
  /** The state store: a SQLite file (default `<dataDir>/state.db`) or a postgres:// URL. */
  state?: string;
  /** Services to create and deploy (one instance in every site) through the API once it is up. */
  seeds: Seed[];
  /** Progress lines for the terminal. */
  say: (line: string) => void;
}

/**
 * The whole platform on one machine: the control plane in this process, and as children one
 * broker and one agent per site; the agents start the instances the control plane places.
 */
export class LocalPlatform {
  private readonly tree: ProcessTree;
  private control: RunningControlPlane | null = null;

  constructor(private readonly options: PlatformOptions) {
    mkdirSync(join(options.dataDir, 'logs'), { recursive: true });
    this.tree = new ProcessTree(join(options.dataDir, 'logs'), options.say);
  }

  async start(): Promise<void> {
    const { config, dataDir, say } = this.options;
    this.control = await startControlPlane(config, dataDir, this.options.state);
    say(`API ${this.url}`);

    await Promise.all(config.sites.map((s) => this.startBroker(s.name, s.broker.listen)));
    for (const s of config.sites) say(`site ${s.name} (${s.kind}): broker ${this.sites.brokerOf(s.name)}`);
    this.linkBrokers();

    await Promise.all(config.sites.map((s) => this.startAgent(s.name)));
    say(`agents: ${config.sites.map((s) => s.name).join(', ')}`);

    if (this.options.seeds.length > 0) {
      say(`deploying ${this.options.seeds.length} services to ${config.sites.length} sites`);
      await seed(this.client(), this.options.seeds, config.sites.map((s) => s.name), { say });
    }
  }

  get url(): string {
    return this.control?.url ?? '';
  }

  get adminToken(): string {
    return this.control?.adminToken ?? '';
  }

  get sites(): Sites {
    if (!this.control) throw new Error('the platform is not started');
    return this.control.sites;
  }

  /** A client of this platform's API, acting as the admin. */
  client(): ControlClient {
    return new ControlClient({ url: this.url, token: this.adminToken });
  }

  private async startBroker(site: string, listen: string): Promise<unknown> {
    const name = `broker-${site}`;
    const script = await brokerScript();
    const sites = this.options.config.sites.map((s) => s.name).join(',');
    const dataDir = join(this.options.dataDir, `broker-${site}`);
    return this.tree.start({
      name,
      args: ['broker', '--site', site, '--listen', listen, '--sites', sites, '--data-dir', dataDir, '--control', this.url],
      restart: true,
      stage: 0,
      script,
      // The broker joins the control plane with the admin token: its keys, its own credential.
      runtime: { ...BROKER_PROCESS, env: { ...BROKER_PROCESS.env, SQUADRON_TOKEN: this.adminToken } },
      onReady: (msg) => {
        const address = (msg as { address: string }).address;
        const first = this.sites.brokerOf(site) === undefined;
        this.sites.setBroker(site, address);
        // A restarted broker keeps its address, so instances and peers find it again.
        this.tree.setArgs(name, ['broker', '--site', site, '--listen', address, '--sites', sites, '--data-dir', dataDir, '--control', this.url]);
        if (!first) this.linkBrokers();
      },
    });
  }

  /** Tell every broker where the others are. */
  private linkBrokers(): void {
    const all: Record<string, string> = {};
    for (const s of this.options.config.sites) {
      const address = this.sites.brokerOf(s.name);
      if (address) all[s.name] = address;
    }
    const sites = this.options.config.sites.map((s) => s.name);
    for (const site of sites) {
      const peers = Object.fromEntries(Object.entries(all).filter(([name]) => name !== site));
      this.tree.send(`broker-${site}`, { type: 'peers', peers, sites } satisfies BrokerControlMessage);
    }
  }

  /** A site's agent: it registers with the control plane and runs what is placed on it. */
  private startAgent(site: string): Promise<unknown> {
    return this.tree.start({
      name: `agent-${site}`,
      args: ['agent', '--site', site, '--control', this.url, '--data-dir', this.options.dataDir],
      restart: true,
      stage: 1,
      runtime: { env: { SQUADRON_TOKEN: this.adminToken } },
    });
  }

  pids(): number[] {
    return [process.pid, ...this.tree.pids()];
  }

  async stop(): Promise<void> {
    await this.tree.stopAll();
    await this.control?.stop();
  }
}
