// `npm run bench`: Squadron against a raw socket floor, nats.js and Moleculer, side by side on
// this machine, every client and server in a process of its own; and its durable queues against
// NATS JetStream and Redis Streams. Prints the table and the target checks, and writes
// them under bench/results/.
//   BENCH_CALLS=20000        measured calls (pub/sub: 5x messages; durable: enqueues) per row, default 100000
//   BENCH_ONLY=squadron,nats  run only suites with one of these tags (see README)
//   BENCH_ROUNDS=3           rounds of every suite; each measure is its median over them
//   BENCH_MEMORY_MESSAGES=N  messages in the durable-memory row (default 1000000; first round only)
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SUITES as RPC_PUBSUB_SUITES, type BenchContext } from './suites.ts';
import { DURABLE_SUITES } from './durable-suites.ts';
import { memorySuite } from './memory-suite.ts';
import { deploySuite } from './deploy-suite.ts';
import { fleetSuite } from './fleet-suite.ts';
import { installCleanup, liveCount, stopAll } from './spawn.ts';
import { checks, render, writeResults, type Meta } from './report.ts';
import type { Row } from './row.ts';
import { medianRows } from './rounds.ts';

const WARMUP = 2000;
const PAYLOAD_BYTES = 128;
const SUITES = [...RPC_PUBSUB_SUITES, ...DURABLE_SUITES, memorySuite, deploySuite, fleetSuite];

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return n;
}

async function main(): Promise<void> {
  installCleanup();
  const started = performance.now();
  const calls = positiveInt('BENCH_CALLS', 100_000);
  const roundCount = positiveInt('BENCH_ROUNDS', 3);
  const only = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',').map((s) => s.trim()).filter(Boolean) : null;
  const suites = only ? SUITES.filter((s) => s.tags.some((t) => only.includes(t))) : SUITES;
  if (suites.length === 0) throw new Error(`BENCH_ONLY=${only?.join(',')} selects nothing; tags: ${[...new Set(SUITES.flatMap((s) => s.tags))].join(', ')}`);

  const tmpDir = await mkdtemp(join(tmpdir(), 'squadron-bench-'));
  // Also on Ctrl-C or a crash, not just on the normal path below. Durable rows keep their data
  // here too (Squadron's log, Redis's AOF, a private nats-server's store): one disk for all.
  process.on('exit', () => rmSync(tmpDir, { recursive: true, force: true }));
  const ctx: BenchContext = {
    calls, warmup: WARMUP, payloadBytes: PAYLOAD_BYTES, tmpDir,
    progress: (line) => process.stderr.write(`  ${line}\n`),
  };
  const cores = availableParallelism();
  process.stderr.write(`bench: ${suites.length} suites × ${roundCount} rounds, ${calls} calls per row, ${cores} cores, node ${process.version}\n`);

  const rounds: Row[][] = [];
  try {
    // Strictly one suite at a time: on 2 cores anything running beside a row would skew it.
    for (let r = 1; r <= roundCount; r++) {
      process.stderr.write(`round ${r} of ${roundCount}\n`);
      const rows: Row[] = [];
      for (const suite of suites) if (r === 1 || !suite.firstRoundOnly) rows.push(...(await suite.run(ctx)));
      rounds.push(rows);
    }
  } finally {
    await stopAll();
    await rm(tmpDir, { recursive: true, force: true });
  }

  const rows = medianRows(rounds);
  const meta: Meta = {
    date: new Date().toISOString(),
    cores,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    calls,
    rounds: roundCount,
    warmup: WARMUP,
    payloadBytes: PAYLOAD_BYTES,
    only,
    totalSeconds: (performance.now() - started) / 1000,
  };
  const list = checks(rows);
  const text = render(meta, rows, list);
  process.stdout.write(`\n${text}`);
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  const files = await writeResults(dir, meta, rows, list, text);
  process.stderr.write(`wrote ${files.join(', ')}\n`);
  if (liveCount() > 0) throw new Error(`${liveCount()} child process(es) still alive after the run`);
}

main().catch(async (err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await stopAll();
  process.exit(1);
});
