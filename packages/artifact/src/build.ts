import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { BuildFailure, Message, Metafile, Plugin } from 'esbuild';
import { ArtifactError } from './errors.ts';
import { findEntry } from './entry.ts';
import { digestOf, MAX_ARTIFACT_BYTES, packArtifact } from './format.ts';
import { PROVIDED_MODULES, standInSource, type ProvidedModule } from './provided.ts';

/** A folder built into a release artifact. */
export interface BuiltArtifact {
  digest: string;
  bytes: Uint8Array;
  /** The folder's entry file it was built from. */
  source: string;
  /** The files it holds, with their sizes. */
  files: Array<{ name: string; bytes: number }>;
}

export const ARTIFACT_ENTRY = 'index.mjs';

/** Files a service may import for their contents (a query, a template), as strings. */
const TEXT_LOADERS = { '.txt': 'text', '.sql': 'text', '.html': 'text', '.md': 'text', '.graphql': 'text' } as const;

/** Bundled ES modules may still hold CommonJS code from npm that calls require() for Node's own modules. */
const REQUIRE_BANNER = "import { createRequire as __squadronCreateRequire } from 'node:module'; const require = __squadronCreateRequire(import.meta.url);";

let providedNames: Promise<Map<ProvidedModule, string[]>> | null = null;

/** The names each provided package exports today: its stand-in offers exactly those. */
function exportsOfProvided(): Promise<Map<ProvidedModule, string[]>> {
  providedNames ??= (async () => {
    const sdk = await import('@squadron/sdk');
    const protocol = await import('@squadron/protocol');
    return new Map<ProvidedModule, string[]>([['@squadron/sdk', Object.keys(sdk)], ['@squadron/protocol', Object.keys(protocol)]]);
  })();
  return providedNames;
}

function providedByRuntime(names: Map<ProvidedModule, string[]>): Plugin {
  const pattern = new RegExp(`^(${PROVIDED_MODULES.map((m) => m.replace('/', '\\/')).join('|')})$`);
  return {
    name: 'provided-by-runtime',
    setup(b) {
      b.onResolve({ filter: pattern }, (args) => ({ path: args.path, namespace: 'squadron-provided' }));
      b.onLoad({ filter: /.*/, namespace: 'squadron-provided' }, (args) => ({
        contents: standInSource(args.path as ProvidedModule, names.get(args.path as ProvidedModule) ?? []), loader: 'js',
      }));
    },
  };
}

const inside = (child: string, parent: string) => {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

/** The node_modules folders the folder's package imports are found in: its own and each one above it. */
function packageDirs(root: string): string[] {
  const dirs = [join(root, 'node_modules')];
  for (let dir = root; dirname(dir) !== dir; dir = dirname(dir)) dirs.push(join(dirname(dir), 'node_modules'));
  return dirs;
}

/**
 * For a build on someone else's behalf (the control plane building a squad's folder): every file
 * the bundle takes in must be the folder's own or an npm package's (inside a node_modules folder
 * its imports look in, not any folder of that name), found by its real path, and none may be
 * inside a private folder (the platform's data directory). Otherwise a release could carry any
 * file its builder may read.
 */
function confinedTo(folder: string, privateDirs: readonly string[]): Plugin {
  const root = realpathSync(folder);
  const packages = packageDirs(root);
  const secret = privateDirs.map((d) => resolve(d));
  return {
    name: 'confined-to-folder',
    setup(b) {
      b.onLoad({ filter: /.*/, namespace: 'file' }, (args) => {
        let real: string;
        try {
          real = realpathSync(args.path);
        } catch {
          return undefined;
        }
        const ok = (inside(real, root) || packages.some((d) => inside(real, d))) && !secret.some((d) => inside(real, d));
        return ok ? undefined : { errors: [{ text: `${args.path} is outside the service folder and its npm packages; a release holds only those` }] };
      });
    },
  };
}

const where = (m: Message) => (m.location ? `${m.location.file}:${m.location.line}: ` : '');

/** What esbuild said, as advice: a native addon cannot travel in a release. */
function buildProblem(folder: string, err: unknown): ArtifactError {
  const errors = (err as BuildFailure).errors ?? [];
  if (errors.length === 0) return new ArtifactError(`cannot build ${folder} into a release: ${(err as Error).message}`, { cause: err });
  const native = errors.some((e) => /\.node\b/.test(e.text));
  const list = errors.slice(0, 5).map((e) => `  ${where(e)}${e.text}`).join('\n');
  const more = errors.length > 5 ? `\n  (and ${errors.length - 5} more)` : '';
  const hint = native ? '\nA release is JavaScript only: native addons (.node files) cannot be part of it; use the storage the platform provides, or a pure-JavaScript package.' : '';
  return new ArtifactError(`cannot build ${folder} into a release:\n${list}${more}${hint}`, { cause: err });
}

/** The largest inputs, to say what to leave out of a bundle that is over the limit. */
function biggestInputs(meta: Metafile): string {
  // The metafile names inputs relative to the folder (the build's working directory) already.
  return Object.entries(meta.inputs).sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 5)
    .map(([file, input]) => `${file} (${(input.bytes / 1048576).toFixed(1)} MiB)`).join(', ');
}

/**
 * Build a service folder into a release artifact: its entry and everything it imports, its own
 * npm dependencies included, bundled into one ES module with a source map; the platform's SDK and
 * protocol are left out, since the runtime that runs the release provides them. Nothing of the
 * service is run here. The same folder gives the same bytes, so the same digest.
 */
export async function buildArtifact(folder: string, options: { maxBytes?: number; confine?: { privateDirs: readonly string[] } } = {}): Promise<BuiltArtifact> {
  const entry = findEntry(folder);
  const names = await exportsOfProvided();
  // Loaded here, not with the package: the instance runtime uses this package too, and builds nothing.
  const { build } = await import('esbuild');
  let result;
  try {
    result = await build({
      entryPoints: [entry], absWorkingDir: folder, outdir: folder, entryNames: 'index', outExtension: { '.js': '.mjs' },
      bundle: true, platform: 'node', format: 'esm', target: 'node20', write: false, metafile: true,
      sourcemap: 'linked', sourcesContent: false, legalComments: 'none', logLevel: 'silent',
      loader: TEXT_LOADERS, banner: { js: REQUIRE_BANNER }, plugins: [providedByRuntime(names), ...(options.confine ? [confinedTo(folder, options.confine.privateDirs)] : [])],
    });
  } catch (err) {
    throw buildProblem(folder, err);
  }
  const files: Record<string, Uint8Array> = {};
  for (const out of result.outputFiles) files[relative(folder, out.path)] = out.contents;
  if (!files[ARTIFACT_ENTRY]) throw new ArtifactError(`building ${folder} made no ${ARTIFACT_ENTRY}`);
  const bytes = packArtifact({ entry: ARTIFACT_ENTRY, files });
  const limit = options.maxBytes ?? MAX_ARTIFACT_BYTES;
  if (bytes.byteLength > limit) {
    throw new ArtifactError(`${folder} builds into ${(bytes.byteLength / 1048576).toFixed(1)} MiB; a release may be at most ${(limit / 1048576).toFixed(0)} MiB. Its largest inputs: ${biggestInputs(result.metafile)}`);
  }
  return {
    digest: digestOf(bytes), bytes, source: entry,
    files: Object.entries(files).map(([name, data]) => ({ name, bytes: data.byteLength })),
  };
}
