import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';

const WHAT = 'pass the absolute path of the service folder (the one with index.ts, index.mjs or index.js)';

/**
 * Why `path` cannot be a release's code, as a failing field (empty when it can). A release's
 * code is a folder the agents start instances from; the control plane and its agents share the
 * machine's file system (agents on another machine see the same path through a shared mount),
 * so a path that is not a readable folder here would only become a crash loop there.
 */
export function releaseFolderProblems(path: string, field = '/path'): Array<{ path: string; message: string }> {
  const problem = (message: string) => [{ path: field, message: `${message}; ${WHAT}` }];
  if (!isAbsolute(path)) return problem(`'${path}' is not an absolute path`);
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
