// A Squadron site broker for the benchmark's rows, run as `squadron up` runs it: the bundled
// `broker` command under plain Node, with the broker's flags. What the rows say of it (pub/sub
// drops, the log's group commit) they ask it as any client would: a stats query.
import { connect } from '@squadron/sdk';
import { brokerScript, BROKER_PROCESS } from '@squadron/cli';
import type { BrokerStats } from '@squadron/broker';
import { Child } from './spawn.ts';

export interface BenchBroker {
  child: Child;
  address: string;
}

/** Start a broker (keeping durable queues in `dataDir`, if given); it joins `owned`. */
export async function startSquadronBroker(owned: Array<{ stop(): Promise<void> }>, readyMs: number, dataDir?: string): Promise<BenchBroker> {
  const script = await brokerScript();
  const args = ['broker', '--site', 'bench', ...(dataDir ? ['--data-dir', dataDir] : [])];
  const child = new Child('squadron broker', { script, args }, '', {}, BROKER_PROCESS);
  owned.push(child);
  const { address } = await child.next('ready', readyMs);
  if (!address) throw new Error('broker reported no address');
  return { child, address };
}

export async function brokerStats(address: string): Promise<BrokerStats> {
  const c = await connect({ site: 'bench', broker: address, name: 'bench-stats' });
  try {
    return await c.session.query<BrokerStats>({ what: 'stats' });
  } finally {
    await c.close();
  }
}

/** Pub/sub: what the broker published, and delivered and dropped per subscription. */
export async function pubsubNote(address: string): Promise<string> {
  const s = await brokerStats(address);
  const subs = s.subscriptions.map((g) => `${g.topic}: delivered ${g.delivered}, dropped ${g.dropped}`).join('; ');
  return `broker: published ${s.published}; ${subs}`;
}

/** Durable queues: how many records each fdatasync carried (group commit). */
export async function logNote(address: string): Promise<string> {
  const { log } = await brokerStats(address);
  return log ? `log: ${log.appended} records in ${log.syncs} fdatasyncs` : '';
}
