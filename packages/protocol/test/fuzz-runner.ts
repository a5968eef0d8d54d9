/**
 * Two ways to run a FuzzProperty. `assertProperty` (tests) stops at the first bad case and lets
 * fast-check shrink it. `fuzzProperty` (the fuzzer) runs every case, counting crashes and hangs
 * and keeping the first few bad inputs, so one run reports everything it found.
 */
import fc from 'fast-check';
import { HANG_MS, type CaseOutcome, type FuzzProperty } from './fuzz-properties.ts';

export interface Tally {
  cases: number;
  crashes: number;
  hangs: number;
  typedErrors: number;
  frames: number;
}

export interface Finding {
  property: string;
  kind: 'crash' | 'hang';
  /** Index of the case in its run: with the seed, enough to generate it again. */
  index: number;
  detail: string;
  input: string;
}

export const newTally = (): Tally => ({ cases: 0, crashes: 0, hangs: 0, typedErrors: 0, frames: 0 });

export function addTally(into: Tally, from: Tally): void {
  into.cases += from.cases;
  into.crashes += from.crashes;
  into.hangs += from.hangs;
  into.typedErrors += from.typedErrors;
  into.frames += from.frames;
}

function count(tally: Tally, outcome: CaseOutcome): void {
  tally.frames += outcome.frames;
  tally.typedErrors += outcome.typedErrors;
}

/** Run `numRuns` cases; throw (with fast-check's shrunk counterexample and seed) on the first bug or hang. */
export function assertProperty<T>(p: FuzzProperty<T>, numRuns: number, seed?: number): Tally {
  const tally = newTally();
  fc.assert(
    fc.property(p.arbitrary, (input) => {
      const start = performance.now();
      const outcome = p.run(input);
      const ms = performance.now() - start;
      if (ms > HANG_MS) throw new Error(`${p.name}: one case took ${ms.toFixed(0)} ms (limit ${HANG_MS} ms)`);
      tally.cases++;
      count(tally, outcome);
    }),
    { numRuns, ...(seed === undefined ? {} : { seed }) },
  );
  return tally;
}

export interface FuzzOptions {
  numRuns: number;
  seed: number;
  /** Called before each case with its index (a watchdog's heartbeat). */
  onCase?: (index: number) => void;
  /** Called every `progressEvery` cases and once at the end. */
  onProgress?: (tally: Tally) => void;
  progressEvery?: number;
  /** Bad inputs kept for the report; all are counted. */
  maxFindings?: number;
}

const show = (input: unknown): string => {
  const text = fc.stringify(input);
  return text.length > 2000 ? `${text.slice(0, 2000)}… (${text.length} chars)` : text;
};

/** Run every case, whatever happens; return the counts and the first bad inputs. */
export function fuzzProperty<T>(p: FuzzProperty<T>, options: FuzzOptions): { tally: Tally; findings: Finding[] } {
  const tally = newTally();
  const findings: Finding[] = [];
  const every = options.progressEvery ?? 10_000;
  const keep = (f: Omit<Finding, 'property'>) => {
    if (findings.length < (options.maxFindings ?? 5)) findings.push({ property: p.name, ...f });
  };
  let index = 0;
  const details = fc.check(
    fc.property(p.arbitrary, (input) => {
      const i = index++;
      options.onCase?.(i);
      const start = performance.now();
      try {
        count(tally, p.run(input));
      } catch (err) {
        tally.crashes++;
        keep({ kind: 'crash', index: i, detail: err instanceof Error ? `${err.name}: ${err.message}` : String(err), input: show(input) });
      }
      const ms = performance.now() - start;
      if (ms > HANG_MS) {
        tally.hangs++;
        keep({ kind: 'hang', index: i, detail: `took ${ms.toFixed(0)} ms (limit ${HANG_MS} ms)`, input: show(input) });
      }
      tally.cases++;
      if (tally.cases % every === 0) options.onProgress?.(tally);
      return true;
    }),
    { numRuns: options.numRuns, seed: options.seed },
  );
  // The predicate never fails, so a failed run means fast-check itself or a generator threw.
  if (details.failed) {
    tally.crashes++;
    findings.push({ property: p.name, kind: 'crash', index, detail: String(details.errorInstance), input: '(generator)' });
  }
  if (tally.cases % every !== 0) options.onProgress?.(tally);
  return { tally, findings };
}
