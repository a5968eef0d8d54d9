// The request-reply load loop every client scenario shares: keep exactly `inFlight` calls
// outstanding, time each with performance.now() into a preallocated Float64Array, and leave
// the rest (percentiles) to after the run. The only per-call allocation is whatever `call`
// itself needs, i.e. the cost of the system under test.
import { summarize } from './stats.ts';
import type { LoadResult } from './ipc.ts';

export interface LoadPlan {
  calls: number;
  warmup: number;
  inFlight: number;
}

/** One client scenario's config, as the parent passes it. */
export interface ClientConfig extends LoadPlan {
  payloadBytes: number;
}

export type Call = () => Promise<unknown>;

export interface Tally {
  errors: number;
  firstError: unknown;
  /** Calls that succeeded. */
  ok: number;
}

/**
 * `inFlight` workers share one counter; each takes the next index, times its call and stores the
 * latency at that index. A failed call is counted (and its latency kept): a benchmark that hides
 * errors would flatter the system that produces them. Workers stop taking new indexes once
 * `deadline` (a performance.now() time) passes. Returns how many calls were started.
 */
export async function drive(call: Call, total: number, inFlight: number, latencies: Float64Array | null, tally: Tally, deadline = Infinity): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total && performance.now() < deadline) {
      const i = next++;
      const start = performance.now();
      try {
        await call();
        tally.ok++;
      } catch (err) {
        if (tally.errors++ === 0) tally.firstError = err;
      }
      if (latencies !== null) latencies[i] = performance.now() - start;
    }
  };
  const workers: Array<Promise<void>> = [];
  for (let w = 0; w < Math.min(inFlight, total); w++) workers.push(worker());
  await Promise.all(workers);
  return next;
}

/** Warm up (JIT, connections, pools), then measure `plan.calls` calls. */
export async function runLoad(call: Call, plan: LoadPlan, note?: string): Promise<LoadResult> {
  const warmTally: Tally = { errors: 0, firstError: null, ok: 0 };
  await drive(call, plan.warmup, plan.inFlight, null, warmTally);
  if (warmTally.errors === plan.warmup && plan.warmup > 0) {
    throw new Error(`every warm-up call failed: ${String((warmTally.firstError as Error | null)?.message ?? warmTally.firstError)}`);
  }
  const latencies = new Float64Array(plan.calls);
  const tally: Tally = { errors: 0, firstError: null, ok: 0 };
  const t0 = performance.now();
  await drive(call, plan.calls, plan.inFlight, latencies, tally);
  const elapsedMs = performance.now() - t0;
  const s = summarize(latencies);
  const us = 1000;
  const firstError = tally.errors > 0 ? `; first error: ${String((tally.firstError as Error | null)?.message ?? tally.firstError)}` : '';
  return {
    calls: plan.calls,
    errors: tally.errors,
    inFlight: plan.inFlight,
    elapsedMs,
    p50Us: s.p50 * us,
    p90Us: s.p90 * us,
    p99Us: s.p99 * us,
    p999Us: s.p999 * us,
    maxUs: s.max * us,
    meanUs: s.mean * us,
    ...(note || firstError ? { note: `${note ?? ''}${firstError}` } : {}),
  };
}

/** The payload every system sends: `bytes` ASCII characters (as a string, or as those bytes). */
export function payloadString(bytes: number): string {
  return 'x'.repeat(bytes);
}
