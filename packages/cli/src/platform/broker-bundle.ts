import { mkdir, rename } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { BROKER_RUNTIME } from '@squadron/broker';

const ENTRY = fileURLToPath(new URL('../broker-main.ts', import.meta.url));

/**
 * The installation's node_modules: the bundle goes in its cache folder, so that the packages it
 * leaves out (everything from npm) resolve from there as they do for the sources.
 */
function nodeModules(): string {
  const esbuildMain = createRequire(import.meta.url).resolve('esbuild');
  return esbuildMain.slice(0, esbuildMain.lastIndexOf('/node_modules/') + '/node_modules'.length);
}

/** Our own packages go in the bundle (they are TypeScript); npm packages stay outside it. */
const npmPackagesOutside: Plugin = {
  name: 'npm-packages-outside',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@squadron/') ? undefined : { path: args.path, external: true }));
  },
};

let bundled: Promise<string> | null = null;

/**
 * A broker process's script: the `broker` command and the packages it uses as one JavaScript
 * file, made once per run of this process (about 50 ms) and written whole (a rename), so that a
 * platform starting beside another never runs half a file. Plain Node runs it: no TypeScript
 * loader and its thread, some 30 MB less for a process that lives long and holds queues.
 */
export function brokerScript(): Promise<string> {
  bundled ??= (async () => {
    const out = join(nodeModules(), '.cache', 'squadron', 'broker.mjs');
    await mkdir(dirname(out), { recursive: true });
    const partial = `${out}.${process.pid}.tmp`;
    await build({
      entryPoints: [ENTRY], outfile: partial, bundle: true, platform: 'node', format: 'esm', target: 'node20',
      sourcemap: 'inline', plugins: [npmPackagesOutside], logLevel: 'warning',
    });
    await rename(partial, out);
    return out;
  })();
  bundled.catch(() => (bundled = null));
  return bundled;
}

/** Node flags and environment for a broker process: source-mapped stacks, and the broker's own. */
export const BROKER_PROCESS = {
  execArgv: ['--enable-source-maps', ...BROKER_RUNTIME.execArgv],
  env: BROKER_RUNTIME.env,
} as const;
