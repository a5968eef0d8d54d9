import { pathToFileURL } from 'node:url';
import { ArtifactError, findEntry as findArtifactEntry } from '@squadron/artifact';
import { normalizeService, type ServiceDefinition } from '@squadron/sdk';
import { UsageError } from './output.ts';

/** The entry file of a service folder: index.ts, index.mjs or index.js, an ES module. */
export function findEntry(dir: string): string {
  try {
    return findArtifactEntry(dir);
  } catch (err) {
    throw err instanceof ArtifactError ? new UsageError(err.message) : err;
  }
}

/** Import a module whose default export is a service definition, and return it validated. */
export async function loadEntry(entry: string): Promise<ServiceDefinition> {
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

/** Import a service folder and return its validated definition. */
export function loadService(dir: string): Promise<ServiceDefinition> {
  return loadEntry(findEntry(dir));
}
