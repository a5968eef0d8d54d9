// An instance SIGKILLed again and again: each time, the supervisor must bring it back ready.
// Shared by the test (a few kills) and `npm run chaos` (100 kills, p99 under 2 s).
import { join } from 'node:path';
import { SQUADRON_BIN, WORKER_DIR, waitFor } from '@squadron/testkit';
import { InstanceSupervisor, type InstanceChange } from '@squadron/agent';

export interface RestartCheckOptions {
  kills: number;
  broker: string;
  site: string;
  logDir: string;
  progress?: (line: string) => void;
}

export interface RestartCheckResult {
  /** Kill to ready again, per kill, in ms. */
  tookMs: number[];
  /** The delay the supervisor chose before each restart, in ms. */
  restartDelaysMs: number[];
  /** Pids of every process the instance had, the live one last. */
  pids: number[];
  restarts: number;
  crashLoop: boolean;
  lastSignal: string | null;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

export function summary(ms: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1)! };
}

export async function restartCheck(o: RestartCheckOptions): Promise<RestartCheckResult> {
  const readyAt: number[] = [];
  const restartDelaysMs: number[] = [];
  const sup = new InstanceSupervisor({
    runner: { script: SQUADRON_BIN, execArgv: [] },
    logDir: join(o.logDir, 'restart-check'),
    env: { SQUADRON_LOG_LEVEL: 'warn' },
    onChange: (c: InstanceChange) => {
      if (c.to === 'ready') readyAt.push(performance.now());
      if (c.restartInMs !== null && c.restartInMs !== undefined) restartDelaysMs.push(c.restartInMs);
    },
  });
  try {
    sup.start({ id: 'restart-check', path: WORKER_DIR, site: o.site, broker: o.broker });
    await waitFor(() => readyAt.length === 1, 'the first start', 30_000);
    const tookMs: number[] = [];
    const pids: number[] = [];
    for (let i = 0; i < o.kills; i++) {
      const before = sup.snapshot()[0]!;
      if (before.state !== 'ready' || before.pid === null) throw new Error(`before kill ${i + 1} the instance is ${before.state}`);
      pids.push(before.pid);
      const readies = readyAt.length;
      const killedAt = performance.now();
      process.kill(before.pid, 'SIGKILL');
      await waitFor(() => readyAt.length > readies, `ready again after kill ${i + 1}`, 15_000, 5);
      tookMs.push(readyAt.at(-1)! - killedAt);
      if ((i + 1) % 10 === 0) o.progress?.(`${i + 1} kills, last back in ${tookMs.at(-1)!.toFixed(0)} ms`);
    }
    const last = sup.snapshot()[0]!;
    pids.push(last.pid!);
    return { tookMs, restartDelaysMs, pids, restarts: last.restarts, crashLoop: last.crashLoop, lastSignal: last.lastExit?.signal ?? null };
  } finally {
    await sup.stopAll(5000);
  }
}
