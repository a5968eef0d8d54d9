import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ArtifactError } from './errors.ts';

export const ENTRY_FILES = ['index.ts', 'index.mjs', 'index.js'] as const;

/** The entry file of a service folder: index.ts, index.mjs or index.js, an ES module. */
export function findEntry(dir: string): string {
  const folder = resolve(dir);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new ArtifactError(`${dir} is not a folder; a service is a folder with an index.ts, index.mjs or index.js`);
  for (const name of ENTRY_FILES) {
    const file = join(folder, name);
    if (!existsSync(file)) continue;
    // Loaded as CommonJS, a service's import of the SDK would be a require() of an ES module
    // the runner has already loaded: it fails at start with ERR_REQUIRE_CYCLE_MODULE.
    if (!name.endsWith('.mjs') && !isModuleScope(folder)) {
      throw new ArtifactError(`${file} would load as CommonJS; services are ES modules: add a package.json with "type": "module" to ${dir} (or name the entry index.mjs)`);
    }
    return file;
  }
  throw new ArtifactError(`${dir} has no entry file; add one of ${ENTRY_FILES.join(', ')} whose default export is defineService({...})`);
}

/** Whether .js and .ts files in `folder` are ES modules: its nearest package.json says "type": "module". */
function isModuleScope(folder: string): boolean {
  for (let dir = folder; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (readable(pkg)) {
      try {
        return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: unknown }).type === 'module';
      } catch {
        return false;
      }
    }
    if (dirname(dir) === dir) return false;
  }
}

/** Whether `file` exists and this process may read it: under Node's permission model, folders above the service's are not its to read. */
function readable(file: string): boolean {
  try {
    return existsSync(file);
  } catch {
    return false;
  }
}
