// The durable-memory row: a queue filled with 1M acknowledged enqueues of 1 KB (256 in flight)
// that nobody consumes, and the broker's resident memory read from /proc: VmRSS, and VmHWM, its
// peak, after the fill; then again after a SIGKILL and a restart that rebuilds the index from
// the log. The broker runs as `squadron up` runs it. The target is the peak: the queue must
// *stay* under it. About 30 s, so it runs in the first round only. BENCH_MEMORY_MESSAGES sets
// the count (default 1,000,000).
import { readFile, rm } from 'node:fs/promises';
import { startSquadronBroker } from './squadron-broker.ts';
import { Child } from './spawn.ts';
import { failedRow, type Row } from './row.ts';
import { READY_MS, type Suite } from './suites.ts';
import { dataDir } from './durable-suites.ts';
import { DURABLE_IN_FLIGHT } from './durability.ts';

const MESSAGE_BYTES = 1000;
const FILL_CAP_MS = 300_000;
const MB = 1024 * 1024;

/** A process's resident memory now and at its peak, in bytes, from /proc. */
async function residentMemory(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

const mb = (bytes: number) => `${(bytes / MB).toFixed(0)} MB`;

export const memorySuite: Suite = {
  tags: ['squadron', 'durable', 'memory'],
  firstRoundOnly: true,
  run: async (ctx) => {
    const messages = Number(process.env.BENCH_MEMORY_MESSAGES ?? 1_000_000);
    const dir = await dataDir(ctx, 'squadron-memory');
    const owned: Child[] = [];
    const startBroker = async () => {
      const { child, address } = await startSquadronBroker(owned, READY_MS * 3, dir);
      return { broker: child, address };
    };
    try {
      const first = await startBroker();
      const producer = new Child('squadron producer', 'squadron-durable', 'producer', {
        broker: first.address, queue: 'deep', calls: messages, warmup: 0, inFlight: DURABLE_IN_FLIGHT, payloadBytes: MESSAGE_BYTES, maxMs: FILL_CAP_MS,
      });
      owned.push(producer);
      const { result } = await producer.next('enqueued', FILL_CAP_MS + READY_MS);
      await producer.stop();
      if (result.capped) throw new Error(`the fill stopped at ${result.calls} of ${messages} messages after ${FILL_CAP_MS / 1000} s`);
      const filled = await residentMemory(first.broker.pid!);
      first.broker.killNow();
      await first.broker.exited;

      const t0 = performance.now();
      const second = await startBroker();
      const rebuiltMs = performance.now() - t0;
      const restarted = await residentMemory(second.broker.pid!);
      const peak = Math.max(filled.peak, restarted.peak);
      const row: Row = {
        system: 'squadron', scenario: 'memory', status: 'ok',
        rate: (result.calls / result.elapsedMs) * 1000, count: result.calls, elapsedMs: result.elapsedMs, rssPeakBytes: peak,
        note: `${result.calls.toLocaleString('en-US')} messages of ${MESSAGE_BYTES} B; after the fill: RSS ${mb(filled.rss)} (peak ${mb(filled.peak)}); `
          + `after SIGKILL and restart: RSS ${mb(restarted.rss)} (peak ${mb(restarted.peak)}), ready in ${(rebuiltMs / 1000).toFixed(1)} s; rate = acknowledged enqueues/s during the fill`,
      };
      ctx.progress(`squadron (via broker), ${result.calls} × ${MESSAGE_BYTES} B queue: peak RSS ${mb(peak)}`);
      return [row];
    } catch (err) {
      return [failedRow('squadron', 'memory', err)];
    } finally {
      for (const p of owned.reverse()) await p.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
