import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { normalizeService, type ServiceDefinition } from '@squadron/sdk';
import { UsageError } from './output.ts';

const ENTRY_FILES = ['index.ts', 'index.mjs', 'index.js'];

/** The entry file of a service folder: index.ts, index.mjs or index.js. */
export function findEntry(dir: string): string {
  const folder = resolve(dir);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new UsageError(`${dir} is not a folder; a service is a folder with an index.ts, index.mjs or index.js`);
  for (const name of ENTRY_FILES) {
    const file = join(folder, name);
    if (existsSync(file)) return file;
  }
  throw new UsageError(`${dir} has no entry file; add one of ${ENTRY_FILES.join(', ')} whose default export is defineService({...})`);
}

/** Import a service folder and return its validated definition. */
export async function loadService(dir: string): Promise<ServiceDefinition> {
  const entry = findEntry(dir);
  const mod = (await import(pathToFileURL(entry).href)) as { default?: unknown };
  const def = mod.default;
  if (!def || typeof def !== 'object') throw new UsageError(`${entry} has no default export; export default defineService({...})`);
  try {
    normalizeService(def as ServiceDefinition);
  } catch (err) {
    throw new UsageError(`${entry}: ${(err as Error).message}`);
  }
  return def as ServiceDefinition;
}
