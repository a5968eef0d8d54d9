// The durable-messaging halves every system shares, so that Squadron, JetStream and Redis
// Streams are loaded, timed and counted by the same code. A producer keeps `inFlight`
// acknowledged enqueues outstanding (each ack's latency into a preallocated Float64Array); a
// consumer counts deliveries (each acknowledged by the scenario) until the queue is drained.
import { summarize } from './stats.ts';
import type { EnqueueResult } from './ipc.ts';
import { drive, type Tally } from './load.ts';

export interface DurablePlan {
  calls: number;
  warmup: number;
  inFlight: number;
  payloadBytes: number;
  /** The measured phase stops issuing enqueues after this long, even short of `calls`. */
  maxMs: number;
}

/** What a durable consumer is told to drain. */
export interface DrainPlan {
  /** Messages in the queue, warm-up included. */
  total: number;
  /** The first ones delivered, not timed. */
  warmup: number;
}


const message = (err: unknown) => String((err as Error | null)?.message ?? err);

/**
 * Warm up, then measure acknowledged enqueues. `enqueue` resolves when the system acknowledged
 * the message (stored at the durability the row states). Every message it stores stays in the
 * queue for the consumer; `total` says how many that is.
 */
export async function runEnqueues(enqueue: () => Promise<unknown>, plan: DurablePlan, note?: string): Promise<EnqueueResult> {
  const warm: Tally = { errors: 0, firstError: null, ok: 0 };
  await drive(enqueue, plan.warmup, plan.inFlight, null, warm, Number.POSITIVE_INFINITY);
  if (warm.errors > 0) throw new Error(`${warm.errors} of ${plan.warmup} warm-up enqueues failed: ${message(warm.firstError)}`);
  const latencies = new Float64Array(plan.calls);
  const tally: Tally = { errors: 0, firstError: null, ok: 0 };
  const t0 = performance.now();
  const issued = await drive(enqueue, plan.calls, plan.inFlight, latencies, tally, t0 + plan.maxMs);
  const elapsedMs = performance.now() - t0;
  // A failed enqueue may or may not have been stored: the consumer could not know what to expect.
  if (tally.errors > 0) throw new Error(`${tally.errors} of ${issued} enqueues failed: ${message(tally.firstError)}`);
  const s = summarize(latencies, issued);
  const capped = issued < plan.calls;
  const notes = [note ?? '', capped ? `stopped at the ${(plan.maxMs / 1000).toFixed(0)} s cap after ${issued} of ${plan.calls} enqueues` : ''].filter(Boolean);
  return {
    calls: issued, errors: 0, inFlight: plan.inFlight, elapsedMs,
    p50Us: s.p50 * 1000, p90Us: s.p90 * 1000, p99Us: s.p99 * 1000, p999Us: s.p999 * 1000, maxUs: s.max * 1000, meanUs: s.mean * 1000,
    total: warm.ok + tally.ok, warmup: warm.ok, capped,
    ...(notes.length ? { note: notes.join('; ') } : {}),
  };
}

/**
 * Counts deliveries until the queue is drained. `hit()` is the whole per-message cost: a
 * counter and one clock read (at the first measured delivery and at the last). `done` resolves
 * with the measured count and window, or rejects if deliveries stop for `stallMs`.
 */
export class DrainCounter {
  private count = 0;
  private t0 = 0;
  private lastAt = performance.now();
  private finish!: (r: { measured: number; elapsedMs: number }) => void;
  private fail!: (err: Error) => void;
  private readonly watchdog: NodeJS.Timeout;
  readonly done: Promise<{ measured: number; elapsedMs: number }>;

  constructor(private readonly plan: DrainPlan, stallMs = 10_000) {
    this.done = new Promise((resolve, reject) => {
      this.finish = resolve;
      this.fail = reject;
    });
    if (plan.total <= plan.warmup) throw new Error(`nothing to measure: ${plan.total} messages, ${plan.warmup} of them warm-up`);
    this.watchdog = setInterval(() => {
      if (performance.now() - this.lastAt > stallMs) {
        clearInterval(this.watchdog);
        this.fail(new Error(`deliveries stopped at ${this.count} of ${this.plan.total} (none for ${stallMs} ms)`));
      }
    }, 200);
  }

  get received(): number {
    return this.count;
  }

  hit(): void {
    const n = ++this.count;
    if (n === this.plan.warmup + 1) this.t0 = performance.now();
    if (n === this.plan.total) {
      clearInterval(this.watchdog);
      this.finish({ measured: this.plan.total - this.plan.warmup, elapsedMs: performance.now() - this.t0 });
    } else if ((n & 1023) === 0) {
      this.lastAt = performance.now();
    }
  }
}
