import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';

const WHAT = 'pass the absolute path of the service folder (the one with index.ts, index.mjs or index.js)';

/**
 * Why `path` cannot be a release's code, as a failing field (empty when it can). A release's
 * code is a folder the agents start instances from; the control plane and its agents share the
 * machine's file system (agents on another machine see the same path through a shared mount),
 * so a path that is not a readable folder here would only become a crash loop there.
 */
export function releaseFolderProblems(path: string, field = '/path', privateDirs: readonly string[] = []): Array<{ path: string; message: string }> {
  const problem = (message: string) => [{ path: field, message: `${message}; ${WHAT}` }];
  if (!isAbsolute(path)) return problem(`'${path}' is not an absolute path`);
  // The platform's own folders (its data directory: the signing key, tokens, every squad's
  // storage) are never a release: what a release holds, its instances may read.
  for (const dir of privateDirs) {
    if (overlaps(resolve(path), resolve(dir))) return problem(`'${path}' holds or is inside the platform's data directory, which no service may read`);
  }
  try {
    if (!statSync(path).isDirectory()) return problem(`'${path}' is not a folder`);
    accessSync(path, constants.R_OK | constants.X_OK);
    readdirSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return problem(code === 'ENOENT' || code === 'ENOTDIR' ? `'${path}' does not exist` : `'${path}' cannot be read (${code ?? (err as Error).message})`);
  }
  return [];
}

/** Whether one folder is the other or inside it, either way round. */
function overlaps(a: string, b: string): boolean {
  const inside = (child: string, parent: string) => {
    const rel = relative(parent, child);
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  };
  return inside(a, b) || inside(b, a);
}
