#!/usr/bin/env node
// Runs every test file of the repository with Node's test runner, TypeScript loaded by tsx.
// Files run in parallel processes (two at a time on a 2-core machine); arguments filter by path.
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
const result = spawnSync(process.execPath, [
  '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=120000', ...selected.sort(),
], { stdio: 'inherit' });
process.exit(result.status ?? 1);
