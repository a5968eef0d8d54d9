/**
 * `npm run fuzz`: the protocol's fuzz properties (test/fuzz-properties.ts), a million cases by
 * default. Every case runs, however many fail; the report counts crashes (a wrong result or an
 * exception other than ProtocolError), hangs (a case over 1 s), typed errors and frames, and
 * shows the first bad inputs. Exit status 1 when anything crashed or hung.
 *
 * The cases run in a worker thread. A case stuck in a loop never returns to be timed, so this
 * thread watches the worker's case counter: when it stops moving for FUZZ_STALL_MS, the worker
 * is terminated and the case counts as a hang.
 *
 * Environment: FUZZ_RUNS (cases in all, default 1000000), FUZZ_SEED (replay a run),
 * FUZZ_ONLY (run only properties whose name contains this), FUZZ_STALL_MS (default 10000).
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { properties, budget, HANG_MS } from '../test/fuzz-properties.ts';
import { fuzzProperty, newTally, addTally, type Tally, type Finding } from '../test/fuzz-runner.ts';

interface Job {
  runs: number;
  seed: number;
  only: string;
  /** [cases started in all, index of the current case in its property] */
  heartbeat: Int32Array;
}

type Report =
  | { type: 'start'; property: string; runs: number }
  | { type: 'progress'; property: string; runs: number; tally: Tally }
  | { type: 'end'; property: string; tally: Tally; findings: Finding[] };

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`${name} must be a whole number, got '${raw}'`);
  return n;
}

/** Worker side: run the properties, reporting progress and results to the main thread. */
function work(job: Job): void {
  const post = (r: Report) => parentPort!.postMessage(r);
  const runs = budget(job.runs);
  properties.forEach((p, i) => {
    if (!p.name.includes(job.only)) return;
    const numRuns = runs[i]!;
    post({ type: 'start', property: p.name, runs: numRuns });
    const { tally, findings } = fuzzProperty(p, {
      numRuns,
      seed: job.seed,
      progressEvery: Math.max(1000, Math.round(numRuns / 10)),
      onCase: (index) => {
        Atomics.add(job.heartbeat, 0, 1);
        Atomics.store(job.heartbeat, 1, index);
      },
      onProgress: (t) => post({ type: 'progress', property: p.name, runs: numRuns, tally: { ...t } }),
    });
    post({ type: 'end', property: p.name, tally, findings });
  });
}

const fmt = (n: number): string => n.toLocaleString('en-US');
const line = (t: Tally): string =>
  `crashes ${fmt(t.crashes)}, hangs ${fmt(t.hangs)}, typed errors ${fmt(t.typedErrors)}, frames ${fmt(t.frames)}`;

/** Main side: start the worker, print its reports, watch for a stuck case, and summarise. */
function main(): void {
  const job: Job = {
    runs: envInt('FUZZ_RUNS', 1_000_000),
    seed: envInt('FUZZ_SEED', Math.floor(Math.random() * 0x7fffffff)),
    only: process.env.FUZZ_ONLY ?? '',
    heartbeat: new Int32Array(new SharedArrayBuffer(8)),
  };
  const stallMs = envInt('FUZZ_STALL_MS', 10_000);
  const started = performance.now();
  const secs = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  console.log(`fuzz: ${fmt(job.runs)} cases, seed ${job.seed} (replay with FUZZ_SEED=${job.seed}), hang limit ${HANG_MS} ms`);

  const total = newTally();
  const findings: Finding[] = [];
  let current = '';
  /** The running property's counts as of its last progress report, lost if the worker is killed. */
  let partial: Tally | null = null;
  let killed = false;

  // The worker is started from a small script that registers tsx first: Node 20 workers do not
  // inherit the loader hooks of `--import tsx`.
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
    .then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const worker = new Worker(boot, { eval: true, workerData: job });

  let lastBeat = -1;
  let lastChange = performance.now();
  const watchdog = setInterval(() => {
    const beat = Atomics.load(job.heartbeat, 0);
    if (beat !== lastBeat) {
      lastBeat = beat;
      lastChange = performance.now();
      return;
    }
    if (performance.now() - lastChange < stallMs) return;
    const index = Atomics.load(job.heartbeat, 1);
    killed = true;
    total.hangs++;
    findings.push({ property: current, kind: 'hang', index, detail: `no progress for ${stallMs} ms; worker terminated`, input: `case ${index} of seed ${job.seed}` });
    void worker.terminate();
  }, 250);

  worker.on('message', (r: Report) => {
    if (r.type === 'start') {
      current = r.property;
      partial = null;
      console.log(`[${r.property}] ${fmt(r.runs)} cases`);
    } else if (r.type === 'progress') {
      console.log(`[${r.property}] ${fmt(r.tally.cases)}/${fmt(r.runs)}: ${line(r.tally)} (${secs()})`);
      partial = r.tally;
    } else {
      partial = null;
      addTally(total, r.tally);
      findings.push(...r.findings);
    }
  });
  worker.on('error', (err) => {
    total.crashes++;
    findings.push({ property: current, kind: 'crash', index: -1, detail: `worker failed: ${err.stack ?? err.message}`, input: '' });
  });
  worker.on('exit', () => {
    clearInterval(watchdog);
    if (partial) addTally(total, partial);
    if (killed) total.cases = Atomics.load(job.heartbeat, 0);
    for (const f of findings) {
      console.log(`\n${f.kind.toUpperCase()} in [${f.property}], case ${f.index}: ${f.detail}\n  input: ${f.input}`);
    }
    console.log(`\nfuzz summary: cases ${fmt(total.cases)}, ${line(total)} — seed ${job.seed}, ${secs()}`);
    process.exitCode = total.crashes + total.hangs > 0 ? 1 : 0;
  });
}

if (isMainThread) main();
else work(workerData as Job);
