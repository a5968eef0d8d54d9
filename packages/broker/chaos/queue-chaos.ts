import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Client } from '@squadron/sdk';
import { silent, waitFor } from '@squadron/testkit';
import { KillableBroker, freePort } from './broker-process.ts';

export interface CrashCheckOptions {
  /** Acknowledged enqueues to reach, across all producers. */
  messages: number;
  producers: number;
  /** Broker kills spread over the run. */
  kills: number;
  /** Simulate a power loss at each kill: writes not yet synced are discarded. */
  powerLoss: boolean;
  progress?: (line: string) => void;
}

export interface CrashCheckReport {
  attempted: number;
  acknowledged: number;
  delivered: number;
  lost: number;
  duplicated: number;
  unexpected: number;
  kills: number;
  seconds: number;
}

/**
 * Producers enqueue unique sequence numbers while the broker is killed again and again; then
 * everything is consumed and checked: every acknowledged message must come out (lost = 0) and
 * nothing that was never sent (unexpected = 0). Duplicates are allowed, and counted.
 */
export async function crashCheck(options: CrashCheckOptions): Promise<CrashCheckReport> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'squadron-chaos-'));
  const address = `tcp://127.0.0.1:${await freePort()}`;
  const broker = new KillableBroker(address, dir, options.powerLoss);
  await broker.start();
  const clients: Client[] = [];
  const attempted = new Set<string>();
  const acknowledged = new Set<string>();
  let stop = false;
  try {
    for (let p = 0; p < options.producers; p++) clients.push(await connect({ site: 'chaos', broker: address, logger: silent, connectTimeoutMs: 10_000 }));
    const produce = async (client: Client, p: number) => {
      for (let n = 0; !stop && acknowledged.size < options.messages; n++) {
        const id = `p${p}-${n}`;
        attempted.add(id);
        // A producer retries until acknowledged; the broker's dedup keeps retries to one copy.
        for (;;) {
          try {
            await client.enqueue('chaos', { id }, { id });
            acknowledged.add(id);
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      }
    };
    const inFlightPerProducer = 16;
    const producing = Promise.all(clients.flatMap((c, p) => Array.from({ length: inFlightPerProducer }, (_, k) => produce(c, p * inFlightPerProducer + k))));
    const step = options.messages / (options.kills + 1);
    for (let k = 1; k <= options.kills; k++) {
      await waitFor(() => acknowledged.size >= k * step, `${Math.round(k * step)} acknowledged enqueues`, 120_000, 5);
      await broker.kill();
      await broker.start();
      options.progress?.(`kill ${k}/${options.kills}: ${acknowledged.size} acknowledged`);
    }
    await producing;
    stop = true;

    const delivered = new Map<string, number>();
    const consumer = clients[0]!;
    const c = consumer.consume<{ id: string }>('chaos', (m) => { delivered.set(m.id, (delivered.get(m.id) ?? 0) + 1); }, { concurrency: 256 });
    await waitFor(() => [...acknowledged].every((id) => delivered.has(id)) || false, 'every acknowledged message to be delivered', 60_000, 50).catch(() => {});
    c.stop();
    let duplicated = 0;
    let unexpected = 0;
    for (const [id, count] of delivered) {
      if (!attempted.has(id)) unexpected++;
      if (count > 1) duplicated += count - 1;
    }
    const lost = [...acknowledged].filter((id) => !delivered.has(id)).length;
    return {
      attempted: attempted.size, acknowledged: acknowledged.size, delivered: [...delivered.values()].reduce((a, b) => a + b, 0),
      lost, duplicated, unexpected, kills: broker.kills, seconds: (Date.now() - started) / 1000,
    };
  } finally {
    stop = true;
    for (const c of clients) await c.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
