import { join } from 'node:path';
import pino from 'pino';
import { Broker } from '@squadron/broker';

export const silent = pino({ level: 'silent' });

export interface TestSites {
  brokers: Map<string, Broker>;
  /** The broker address of a site. */
  address(site: string): string;
  stop(): Promise<void>;
}

/** Real brokers for the given sites (in failover order), on free ports, linked to each other. */
export async function startSites(names: string[] = ['sto', 'gcp-eu'], options: { heartbeatMs?: number; dataDir?: string } = {}): Promise<TestSites> {
  const brokers = new Map<string, Broker>();
  for (const site of names) {
    const b = new Broker({
      site, sites: names, logger: silent,
      ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
      ...(options.dataDir ? { dataDir: join(options.dataDir, site) } : {}),
    });
    await b.start();
    brokers.set(site, b);
  }
  for (const [site, b] of brokers) {
    b.setPeers(Object.fromEntries(names.filter((n) => n !== site).map((n) => [n, brokers.get(n)!.address])), names);
  }
  return {
    brokers,
    address: (site) => {
      const b = brokers.get(site);
      if (!b) throw new Error(`no test site '${site}'`);
      return b.address;
    },
    stop: async () => {
      await Promise.all([...brokers.values()].map((b) => b.stop()));
    },
  };
}
