import type { PlatformConfig, SiteConfig } from './config.ts';
import type { SiteBody, SiteStatusBody, StatusBody, InstanceBody } from '@squadron/client';
import { queryBroker } from './broker-admin.ts';
import type { Identity } from '@squadron/identity';

/**
 * The sites of the platform, in failover order, and where each site's broker is. The status view
 * asks every broker at once; a broker that does not answer shows as down, it does not fail the view.
 */
export class Sites {
  private readonly brokers = new Map<string, string>();
  /** The control plane's own identity, proven to brokers that check (set once it has one). */
  identity: Identity | null = null;

  constructor(private readonly config: PlatformConfig) {}

  get names(): string[] {
    return this.config.sites.map((s) => s.name);
  }

  get(name: string): SiteConfig | undefined {
    return this.config.sites.find((s) => s.name === name);
  }

  setBroker(site: string, address: string): void {
    this.brokers.set(site, address);
  }

  brokerOf(site: string): string | undefined {
    return this.brokers.get(site);
  }

  list(): SiteBody[] {
    return this.config.sites.map((s) => {
      const address = this.brokers.get(s.name);
      return { name: s.name, kind: s.kind, broker: address ? { address } : null, slots: s.slots, provisionDelayMs: s.provisionDelayMs };
    });
  }

  async status(): Promise<StatusBody> {
    const sites = await Promise.all(this.list().map((s) => this.siteStatus(s)));
    const services = new Map<string, InstanceBody[]>();
    for (const { instances } of sites) {
      for (const i of instances) {
        let list = services.get(i.service);
        if (!list) services.set(i.service, (list = []));
        list.push(i);
      }
    }
    return {
      sites: sites.map((s) => s.site),
      services: [...services].sort(([a], [b]) => a.localeCompare(b)).map(([name, instances]) => ({ name, instances })),
    };
  }

  private async siteStatus(site: SiteBody): Promise<{ site: SiteStatusBody; instances: InstanceBody[] }> {
    const down = (error: string): { site: SiteStatusBody; instances: InstanceBody[] } => ({
      site: { ...site, brokerStatus: { up: false, connections: 0, published: 0, peers: [], subscriptions: [], error } },
      instances: [],
    });
    if (!site.broker) return down('no broker registered for this site');
    try {
      const stats = await queryBroker(site.broker.address, 2000, this.identity);
      const instances = stats.instances.map((i): InstanceBody => ({
        id: i.id, service: i.service, site: i.site, address: i.address, pid: i.pid, inFlight: i.inFlight,
        startedAt: i.startedAt, methods: i.methods.map((m) => m.name), topics: i.topics, rejections: i.rejections ?? {},
      }));
      return {
        site: {
          ...site,
          brokerStatus: {
            up: true,
            connections: stats.connections,
            published: stats.published,
            peers: stats.peers.map((p) => ({ site: p.site, up: p.up, forwarded: p.forwarded, dropped: p.dropped })),
            subscriptions: stats.subscriptions,
            // A broker of an earlier release reports none.
            subscriberDrops: stats.subscriberDrops ?? [],
            refusals: stats.refusals ?? [],
          },
        },
        instances,
      };
    } catch (err) {
      return down((err as Error).message);
    }
  }
}
