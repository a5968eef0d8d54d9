import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// The package boundaries the design names, checked on every test run: packages talk through each
// other's public entry only, their dependencies form no cycle, and the protocol does no I/O.
const root = fileURLToPath(new URL('../../../', import.meta.url));
const packagesDir = join(root, 'packages');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

const IMPORT = /(?:import|export)[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => (m[1] ?? m[2])!);
}

const packages = readdirSync(packagesDir).filter((p) => statSync(join(packagesDir, p, 'src')).isDirectory());

describe('package boundaries', () => {
  it('no file imports another package\'s internals, only its public entry', () => {
    const deep: string[] = [];
    for (const pkg of packages) {
      for (const file of sourceFiles(join(packagesDir, pkg))) {
        for (const spec of importsOf(file)) {
          if (/^@squadron\/[^/]+\/.+/.test(spec)) deep.push(`${relative(root, file)} imports ${spec}`);
          if (spec.startsWith('.') && spec.includes('/packages/')) deep.push(`${relative(root, file)} imports ${spec}`);
        }
      }
    }
    assert.deepEqual(deep, []);
  });

  it('the packages\' own code depends on no package that depends back on it', () => {
    const deps = new Map<string, Set<string>>();
    for (const pkg of packages) {
      const used = new Set<string>();
      for (const file of sourceFiles(join(packagesDir, pkg, 'src'))) {
        for (const spec of importsOf(file)) {
          const m = /^@squadron\/([^/]+)/.exec(spec);
          if (m && m[1] !== pkg) used.add(m[1]!);
        }
      }
      deps.set(pkg, used);
    }
    const cycles: string[] = [];
    const visit = (pkg: string, path: string[]) => {
      if (path.includes(pkg)) return cycles.push([...path, pkg].join(' → '));
      for (const next of deps.get(pkg) ?? []) visit(next, [...path, pkg]);
    };
    for (const pkg of packages) visit(pkg, []);
    assert.deepEqual(cycles, []);
    assert.deepEqual([...(deps.get('protocol') ?? [])], [], 'the protocol depends on no other package');
  });

  it('the protocol package does no I/O', () => {
    const io = ['node:net', 'node:fs', 'node:child_process', 'node:http', 'node:dgram', 'net', 'fs'];
    const found = sourceFiles(join(packagesDir, 'protocol', 'src')).flatMap((file) =>
      importsOf(file).filter((spec) => io.includes(spec)).map((spec) => `${relative(root, file)} imports ${spec}`));
    assert.deepEqual(found, []);
  });
});
