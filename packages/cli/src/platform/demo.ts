import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The demo organisation's services: every folder of examples/ with an entry file. */
export const EXAMPLES_DIR = fileURLToPath(new URL('../../../../examples/', import.meta.url));

export function demoServices(dir = EXAMPLES_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && ['index.ts', 'index.mjs', 'index.js'].some((f) => existsSync(join(dir, d.name, f))))
    .map((d) => join(dir, d.name))
    .sort();
}
