import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameKind, decode, asDelivery, encode, type ConsumeBody } from '@squadron/protocol';
import { Connection, connectHandshake, dial } from '@squadron/transport';
import { connect, type Client } from '@squadron/sdk';
import { askBroker } from '@squadron/control';
import { silent, waitFor } from '@squadron/testkit';
import { KillableBroker, freePort } from './broker-process.ts';

export interface ConsumerKillReport {
  kills: number;
  messages: number;
  /** Messages a healthy consumer then acknowledged. */
  acknowledged: number;
  /** Messages never delivered again after their consumer died. */
  lost: number;
  poisonDeadLettered: boolean;
  seconds: number;
}

/** How long a doomed consumer waits for its delivery before the check fails (not hangs). */
const DELIVERY_WAIT_MS = 30_000;

/** A consumer that takes one delivery and dies before acknowledging it (its socket just goes). */
async function dieHoldingOne(address: string, spec: ConsumeBody, kill: number): Promise<string> {
  const conn = new Connection(await dial(address));
  await connectHandshake(conn, { role: 'client', site: 'chaos', name: 'doomed-consumer' });
  let timer: NodeJS.Timeout | undefined;
  const taken = new Promise<string>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`kill ${kill + 1}: no delivery within ${DELIVERY_WAIT_MS / 1000} s`)), DELIVERY_WAIT_MS);
    conn.onFrame = (kind, _id, body) => {
      if (kind === FrameKind.Delivery) resolve(asDelivery(decode(body))[1]);
      if (kind === FrameKind.Ping) conn.send(FrameKind.Pong, 0);
    };
  });
  conn.send(FrameKind.Consume, 1, encode(spec));
  try {
    return await taken;
  } finally {
    clearTimeout(timer);
    conn.destroy(); // killed before its ack
  }
}

/**
 * Consumers die holding a delivery, `kills` times: every message must still be delivered and
 * acknowledged in the end. A poison message (its handler always throws) must reach the
 * dead-letter queue after `maxDeliveries`.
 */
export async function consumerKillCheck(options: { kills: number; messages: number }): Promise<ConsumerKillReport> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'squadron-consumer-chaos-'));
  const address = `tcp://127.0.0.1:${await freePort()}`;
  const broker = new KillableBroker(address, dir, false);
  await broker.start();
  let client: Client | null = null;
  try {
    client = await connect({ site: 'chaos', broker: address, logger: silent });
    const ids = Array.from({ length: options.messages }, (_, i) => `m-${i}`);
    await Promise.all(ids.map((id) => client!.enqueue('work', { id }, { id })));
    // Each death costs its message one delivery: allow them all before dead-lettering.
    const spec: ConsumeBody = { queue: 'work', concurrency: 1, maxDeliveries: options.kills + 10, visibilityTimeoutMs: 30_000 };
    for (let k = 0; k < options.kills; k++) {
      await dieHoldingOne(address, spec, k).catch(async (err: Error) => {
        const stats = await askBroker(address, { what: 'queues' }).catch(() => null);
        throw new Error(`${err.message}; the broker's queues: ${JSON.stringify(stats)}`);
      });
    }

    const acknowledged = new Set<string>();
    const healthy = client.consume<{ id: string }>('work', (m) => { acknowledged.add(m.id); }, { concurrency: 64, maxDeliveries: spec.maxDeliveries });
    await waitFor(() => acknowledged.size === ids.length, 'every message acknowledged', 60_000, 20).catch(() => {});
    healthy.stop();

    await client.enqueue('poison', { bad: true }, { id: 'poison-1' });
    const poison = client.consume('poison', () => { throw new Error('cannot handle this'); }, { maxDeliveries: 3 });
    const dead = await waitFor(async () => (await askBroker<unknown[]>(address, { what: 'dlq', queue: 'poison' })).length === 1, 'the poison message in the dead-letter queue', 30_000, 50)
      .then(() => true, () => false);
    poison.stop();
    return {
      kills: options.kills, messages: ids.length, acknowledged: acknowledged.size, lost: ids.length - acknowledged.size,
      poisonDeadLettered: dead, seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await client?.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
