#!/usr/bin/env node
// Runs every test file of the repository with Node's test runner, TypeScript loaded by tsx.
// Files run in parallel processes (two at a time on a 2-core machine), but for the few that
// measure latency, which run last, alone; arguments filter by path.
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
const together = selected.filter((f) => !ALONE.includes(f)).sort();
const alone = selected.filter((f) => ALONE.includes(f)).sort();
const run = (list, n) => list.length === 0 ? 0 : spawnSync(process.execPath, [
  '--import', 'tsx', '--test', `--test-concurrency=${n}`, '--test-timeout=120000', ...list,
], { stdio: 'inherit' }).status ?? 1;
const first = run(together, concurrency);
const last = run(alone, 1);
process.exit(first || last);
