import { BadRequestError } from '@squadron/protocol';
import type { Sites } from '../sites.ts';
import { askBroker } from '../broker-admin.ts';
import type { QueueRowBody, DeadLetterBody } from '@squadron/client';

/** The durable queues of every site, as their brokers report them. */
export class Queues {
  constructor(private readonly sites: Sites) {}

  /** Every queue of every site whose broker answers; a broker that does not is left out. */
  async list(): Promise<QueueRowBody[]> {
    const perSite = await Promise.all(this.sites.list().map(async (site) => {
      if (!site.broker) return [];
      try {
        const { queues } = await askBroker<{ queues: Array<Omit<QueueRowBody, 'site'>> }>(site.broker.address, { what: 'queues' }, 2000, this.sites.identity);
        return queues.map((q) => ({ site: site.name, ...q }));
      } catch {
        return [];
      }
    }));
    return perSite.flat();
  }

  deadLetters(queue: string, site?: string): Promise<DeadLetterBody[]> {
    return askBroker<DeadLetterBody[]>(this.brokerOf(site), { what: 'dlq', queue }, 2000, this.sites.identity);
  }

  replay(queue: string, site?: string): Promise<{ revived: number }> {
    return askBroker<{ revived: number }>(this.brokerOf(site), { what: 'replay', queue }, 2000, this.sites.identity);
  }

  private brokerOf(site?: string): string {
    const name = site ?? this.sites.names[0]!;
    if (!this.sites.get(name)) throw new BadRequestError(`no site '${name}'; the platform has: ${this.sites.names.join(', ')}`);
    const address = this.sites.brokerOf(name);
    if (!address) throw new BadRequestError(`site '${name}' has no broker running`);
    return address;
  }
}
