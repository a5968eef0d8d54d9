import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { BROKER_RUNTIME } from '@squadron/broker';

/**
 * The installation's node_modules: the bundles go in its cache folder, so that the packages they
 * leave out (everything from npm) resolve from there as they do for the sources.
 */
export function nodeModules(): string {
  const esbuildMain = createRequire(import.meta.url).resolve('esbuild');
  return esbuildMain.slice(0, esbuildMain.lastIndexOf('/node_modules/') + '/node_modules'.length);
}

/** Where the bundles are written. */
export function bundleDir(): string {
  return join(nodeModules(), '.cache', 'squadron');
}

/** Our own packages go in the bundle (they are TypeScript); npm packages stay outside it. */
const npmPackagesOutside: Plugin = {
  name: 'npm-packages-outside',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@squadron/') ? undefined : { path: args.path, external: true }));
  },
};

const made = new Map<string, Promise<string>>();

/**
 * One of the platform's own programs as one JavaScript file, made once per run of this process
 * (some 50 ms) and written whole (a rename), so that a platform starting beside another never
 * runs half a file. Plain Node runs it: no TypeScript loader and its thread, some 30 MB less in
 * every process, and nothing compiled at start.
 */
function bundle(name: string, entry: string): Promise<string> {
  let p = made.get(name);
  if (!p) {
    p = (async () => {
      const out = join(bundleDir(), `${name}.mjs`);
      await mkdir(dirname(out), { recursive: true });
      const partial = `${out}.${process.pid}.tmp`;
      await build({
        entryPoints: [entry], outfile: partial, bundle: true, platform: 'node', format: 'esm', target: 'node20',
        sourcemap: 'inline', plugins: [npmPackagesOutside], logLevel: 'warning',
      });
      await rename(partial, out);
      return out;
    })();
    made.set(name, p);
    p.catch(() => made.delete(name));
  }
  return p;
}

/** A broker process's script: the `broker` command and the packages it uses. */
export function brokerScript(): Promise<string> {
  return bundle('broker', fileURLToPath(new URL('../broker-main.ts', import.meta.url)));
}

let instance: Promise<string> | null = null;

/**
 * The runtime of release artifacts (instance-main.ts): the SDK, and what an instance needs to
 * join its site. Split into chunks, so that what only some services use (the storage clients and
 * their npm packages) is loaded by those alone: every module an idle instance loads is memory it
 * holds. The chunks go in a folder named for their content, written whole: a platform starting
 * beside another, of the same or another version, never runs a half-written or changed runtime.
 */
export function instanceScript(): Promise<string> {
  instance ??= (async () => {
    const result = await build({
      entryPoints: { instance: fileURLToPath(new URL('../instance-main.ts', import.meta.url)) },
      outdir: join(bundleDir(), 'instance'), write: false, splitting: true, bundle: true, platform: 'node', format: 'esm', target: 'node20',
      outExtension: { '.js': '.mjs' }, sourcemap: 'linked', sourcesContent: false, plugins: [npmPackagesOutside], logLevel: 'warning',
    });
    const hash = createHash('sha256');
    for (const f of [...result.outputFiles].sort((a, b) => a.path.localeCompare(b.path))) hash.update(f.path).update(f.contents);
    const dir = join(bundleDir(), `instance-${hash.digest('hex').slice(0, 16)}`);
    const script = join(dir, 'instance.mjs');
    if (!existsSync(script)) {
      const partial = `${dir}.${process.pid}.tmp`;
      await mkdir(partial, { recursive: true });
      for (const f of result.outputFiles) {
        const file = join(partial, relative(join(bundleDir(), 'instance'), f.path));
        await writeFile(file, f.contents, { mode: 0o644 });
        await chmod(file, 0o644);
      }
      for (const d of [dirname(bundleDir()), bundleDir(), partial]) await chmod(d, 0o755);
      await rename(partial, dir).catch(async (err: NodeJS.ErrnoException) => {
        // Another process wrote the same content first: use theirs.
        await rm(partial, { recursive: true, force: true });
        if (!existsSync(script)) throw err;
      });
    }
    return script;
  })();
  instance.catch(() => (instance = null));
  return instance;
}

/** Node flags and environment for a broker process: source-mapped stacks, and the broker's own. */
export const BROKER_PROCESS = {
  execArgv: ['--enable-source-maps', ...BROKER_RUNTIME.execArgv],
  env: BROKER_RUNTIME.env,
} as const;

/** Node flags for an instance: stack traces that point at the service's TypeScript. */
export const INSTANCE_EXEC_ARGV: readonly string[] = ['--enable-source-maps'];
