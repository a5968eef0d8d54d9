#!/usr/bin/env node
// Runs every test file of the repository with Node's test runner, TypeScript loaded by tsx.
// Files run in parallel processes (two at a time on a 2-core machine), but for the few that
// take much longer, or measure latency, which run after the rest, alone; arguments filter by path.
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';

const roots = ['packages', 'examples'];
const files = [];
for (const root of roots) {
  if (!existsSync(root)) continue;
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const dir = entry.name === 'test' ? join(root, 'test') : join(root, entry.name, 'test');
    if (!entry.isDirectory() || !existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (f.endsWith('.test.ts')) files.push(join(dir, f));
  }
}
const filters = process.argv.slice(2);
const selected = filters.length ? files.filter((f) => filters.some((x) => f.includes(x))) : files;
if (selected.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = Number(process.env.TEST_CONCURRENCY ?? Math.max(2, Math.min(4, availableParallelism())));
// Tests that measure latency against a baseline (one service's p99 beside misbehaving ones), or
// that wait on many instances starting at once on two cores, run last, alone: beside another
// test file, the machine's other work is what they would measure (or wait for).
const ALONE = ['packages/agent/test/isolation.test.ts', 'packages/control/test/deploy.test.ts'];
// Files that take longer than any other, with a timeout of their own (the rest keep 120 s, which
// names a hung test sooner); they run on their own, after the rest. The README walkthrough runs
// every command of README.md and examples/README.md, one after the other, on a platform of its own.
const LONG = { 'packages/cli/test/readme-walkthrough.test.ts': 900_000 };
const together = selected.filter((f) => !ALONE.includes(f) && !(f in LONG)).sort();
const long = selected.filter((f) => f in LONG).sort();
const alone = selected.filter((f) => ALONE.includes(f)).sort();
const run = (list, n, timeoutMs = 120_000) => list.length === 0 ? 0 : spawnSync(process.execPath, [
  '--import', 'tsx', '--test', `--test-concurrency=${n}`, `--test-timeout=${timeoutMs}`, ...list,
], { stdio: 'inherit' }).status ?? 1;
const first = run(together, concurrency);
const second = run(long, 1, Math.max(0, ...long.map((f) => LONG[f])));
const last = run(alone, 1);
process.exit(first || second || last);
