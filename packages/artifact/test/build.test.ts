import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ArtifactError, buildArtifact, unpackArtifact, type BuiltArtifact } from '@squadron/artifact';
import { connect } from '@squadron/sdk';
import { instanceRunner, startSites, WORKER_DIR } from '@squadron/testkit';

/**
 * Building a service folder into a release: the same code gives the same digest wherever the
 * folder is, the platform's SDK is left out (the runtime provides it) and the bundle runs under
 * plain Node with the platform's instance runtime; a folder that cannot become a release is
 * refused with an ArtifactError that says what to change, and a build on someone else's behalf
 * (`confine`) takes in nothing but the folder's own files and its npm packages.
 */

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});
const tempDir = (label: string) => {
  const dir = mkdtempSync(join(tmpdir(), `squadron-artifact-${label}-`));
  temps.push(dir);
  return dir;
};

/** Write `files` (relative name to text) under `dir`; a folder with no package.json gets one saying "type": "module". */
function writeFolder(dir: string, files: Record<string, string>): string {
  const all = { 'package.json': '{ "type": "module" }\n', ...files };
  for (const [name, text] of Object.entries(all)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}
const folder = (label: string, files: Record<string, string>) => writeFolder(tempDir(label), files);

/**
 * A service that uses what a release may hold: the SDK (provided), a local TypeScript module,
 * query and text files (imported as strings) and an npm package (CommonJS, requiring a Node
 * module); and one of the SDK's error classes, which reaches a caller with its code only if the
 * service and the runtime share one copy of the SDK.
 */
const SERVICE = {
  'index.ts': `import { defineService, BadRequestError } from '@squadron/sdk';
import query from './queries/get.sql';
import notes from './notes.txt';
import { shout } from './lib/shout.ts';
import pad from 'pad-fixture';

export default defineService({
  name: 'bundled',
  methods: {
    describe: async () => ({ query, notes, shouted: shout('hi'), padded: pad('7', 3) }),
    refuse: async () => {
      throw new BadRequestError('no such playlist');
    },
  },
});
`,
  'lib/shout.ts': "export const shout = (s: string): string => `${s.toUpperCase()}!`;\n",
  'queries/get.sql': 'SELECT id, name FROM playlists WHERE id = $1;\n',
  'notes.txt': 'notes travel with the release\n',
  'node_modules/pad-fixture/package.json': '{ "name": "pad-fixture", "version": "1.0.0", "main": "index.js" }\n',
  'node_modules/pad-fixture/index.js': "const { posix } = require('node:path');\nmodule.exports = (s, n) => posix.join(s.padStart(n, '0'));\n",
};

const refused = async (build: Promise<unknown>, why: RegExp) => assert.rejects(build, (err: unknown) => {
  assert.ok(err instanceof ArtifactError, `an ArtifactError, not ${String(err)}`);
  assert.equal(err.code, 'BAD_REQUEST');
  assert.match(err.message, why);
  return true;
});

const entryText = (built: BuiltArtifact) => Buffer.from(unpackArtifact(built.bytes, built.digest).files['index.mjs']!).toString();

describe('building a service folder into a release artifact', () => {
  it('gives the same digest for the same folder, built twice or copied elsewhere, and another when a file changes', async () => {
    const dir = folder('same', SERVICE);
    const first = await buildArtifact(dir);
    const again = await buildArtifact(dir);
    assert.equal(again.digest, first.digest);
    assert.ok(Buffer.from(again.bytes).equals(Buffer.from(first.bytes)));
    assert.deepEqual(first.files.map((f) => f.name).sort(), ['index.mjs', 'index.mjs.map']);
    assert.equal(first.source, join(dir, 'index.ts'));

    const copy = join(tempDir('copy'), 'deeper', 'elsewhere');
    cpSync(dir, copy, { recursive: true });
    assert.equal((await buildArtifact(copy)).digest, first.digest, 'the folder\'s own path is not in the release');

    writeFileSync(join(dir, 'queries/get.sql'), 'SELECT id FROM playlists WHERE id = $1;\n');
    const changedQuery = await buildArtifact(dir);
    assert.notEqual(changedQuery.digest, first.digest);
    writeFileSync(join(dir, 'lib/shout.ts'), "export const shout = (s: string): string => `${s}!`;\n");
    const changedCode = await buildArtifact(dir);
    assert.notEqual(changedCode.digest, changedQuery.digest);
  });

  it('leaves the SDK out: the bundle reads the runtime\'s copy, and says how to run it without one', async () => {
    const built = await buildArtifact(folder('provided', SERVICE));
    const code = entryText(built);
    assert.match(code, /globalThis\[\/\* @__PURE__ \*\/ Symbol\.for\("squadron\.provided-modules"\)\]\?\.\["@squadron\/sdk"\]/);
    assert.match(code, /var defineService = provided\.defineService;/);
    // The SDK's own code (its client, its runtime, its error classes) is not in it: a few KiB, not hundreds.
    assert.doesNotMatch(code, /class BadRequestError|class Client\b|function runService/);
    assert.ok(built.bytes.byteLength < 16 * 1024, `${built.bytes.byteLength} bytes`);
    // The text files are in it, as strings.
    assert.match(code, /"SELECT id, name FROM playlists WHERE id = \$1;\\n"/);
    assert.match(code, /"notes travel with the release\\n"/);

    const dir = tempDir('no-runtime');
    writeFileSync(join(dir, 'index.mjs'), unpackArtifact(built.bytes).files['index.mjs']!);
    await assert.rejects(import(join(dir, 'index.mjs')), /@squadron\/sdk is provided by the squadron runtime/);
  });

  it('runs under plain Node with the platform\'s instance runtime: its methods answer, its SDK errors keep their code', async () => {
    const built = await buildArtifact(folder('runs', SERVICE));
    const unpacked = tempDir('unpacked');
    for (const [name, data] of Object.entries(unpackArtifact(built.bytes, built.digest).files)) writeFileSync(join(unpacked, name), data);
    // The folder it was built from is gone: the release is all it runs.
    const sites = await startSites(['sto']);
    const runner = await instanceRunner();
    const env: NodeJS.ProcessEnv = { ...process.env, SQUADRON_LOG_LEVEL: 'warn' };
    delete env.NODE_OPTIONS;
    // No TypeScript loader: execArgv is the runtime's own, not this test process's (--import tsx).
    const child = fork(runner.script, [join(unpacked, 'index.mjs'), '--site', 'sto', '--broker', sites.address('sto'), '--instance-id', 'bundled-1'], {
      execArgv: [...runner.execArgv], env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const caller = await connect({ site: 'sto', broker: sites.address('sto'), name: 'build-test', identity: null });
    try {
      const ready = await new Promise<{ interface: { methods: string[] } }>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`the instance was not ready within 20 s: ${stderr}`)), 20_000);
        child.once('exit', (code) => reject(new Error(`the instance exited (${code}) before ready: ${stderr}`)));
        child.on('message', (m: { type?: string; interface: { methods: string[] } }) => {
          if (m?.type === 'ready') {
            clearTimeout(deadline);
            resolve(m);
          }
        });
      });
      assert.deepEqual(ready.interface.methods, ['describe', 'refuse']);
      assert.deepEqual(await caller.call('bundled', 'describe', {}, { timeoutMs: 5000 }), {
        query: 'SELECT id, name FROM playlists WHERE id = $1;\n', notes: 'notes travel with the release\n', shouted: 'HI!', padded: '007',
      });
      await assert.rejects(caller.call('bundled', 'refuse', {}, { timeoutMs: 5000 }), (err: { code?: string; message: string }) => {
        assert.equal(err.code, 'BAD_REQUEST', err.message);
        assert.match(err.message, /no such playlist/);
        return true;
      });
    } finally {
      await caller.close();
      await new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGKILL');
      });
      await sites.stop();
    }
  });

  it('builds the platform\'s own worker fixture', async () => {
    const built = await buildArtifact(WORKER_DIR);
    assert.equal(unpackArtifact(built.bytes, built.digest).entry, 'index.mjs');
  });

  it('refuses, when it builds, a service that imports a name the SDK does not export, naming it and where', async () => {
    const dir = folder('bad-name', { 'index.ts': "import { defineServce } from '@squadron/sdk';\n\nexport default defineServce({ name: 'typo' });\n" });
    await refused(buildArtifact(dir), /cannot build .* into a release:\n {2}index\.ts:1: No matching export in "squadron-provided:@squadron\/sdk" for import "defineServce"/);
  });

  it('refuses a folder without an entry, one that is not a folder, and one whose entry would load as CommonJS', async () => {
    const empty = folder('no-entry', { 'main.ts': 'export default {};\n' });
    await refused(buildArtifact(empty), /has no entry file; add one of index\.ts, index\.mjs, index\.js whose default export is defineService/);
    await refused(buildArtifact(join(empty, 'main.ts')), /is not a folder/);
    await refused(buildArtifact(join(empty, 'missing')), /is not a folder/);
    const commonJs = folder('cjs', { 'package.json': '{ "type": "commonjs" }\n', 'index.js': 'module.exports = {};\n' });
    await refused(buildArtifact(commonJs), /index\.js would load as CommonJS; services are ES modules: add a package\.json with "type": "module"/);
    const noPackageJson = tempDir('no-package-json');
    writeFileSync(join(noPackageJson, 'package.json'), '{}\n');
    writeFileSync(join(noPackageJson, 'index.ts'), 'export default {};\n');
    await refused(buildArtifact(noPackageJson), /index\.ts would load as CommonJS/);
    // The same code named index.mjs is an ES module whatever package.json says.
    writeFileSync(join(commonJs, 'index.mjs'), 'export default {};\n');
    rmSync(join(commonJs, 'index.js'));
    assert.match((await buildArtifact(commonJs)).digest, /^sha256:/);
  });

  it('refuses a native addon, saying a release is JavaScript only', async () => {
    const dir = folder('native', {
      'index.mjs': "import addon from './build/Release/fast.node';\n\nexport default { name: 'native', methods: { go: () => addon.go() } };\n",
      'build/Release/fast.node': '\x7fELF not really',
    });
    await refused(buildArtifact(dir), /fast\.node[\s\S]*A release is JavaScript only: native addons \(\.node files\) cannot be part of it/);
  });

  it('refuses a release over the size limit, naming its largest inputs', async () => {
    const dir = folder('big', { 'index.mjs': "import data from './data.txt';\n\nexport default { name: 'big', data };\n", 'data.txt': 'x'.repeat(1.5 * 1024 * 1024) });
    await refused(buildArtifact(dir, { maxBytes: 1024 * 1024 }), /builds into 1\.5 MiB; a release may be at most 1 MiB\. Its largest inputs: data\.txt \(1\.5 MiB\), index\.mjs \(0\.0 MiB\)$/);
    assert.match((await buildArtifact(dir)).digest, /^sha256:/, 'under the platform\'s limit it builds');
  });

  describe('confined (a build on someone else\'s behalf)', () => {
    it('takes the folder\'s own files and its npm packages, its own or a parent folder\'s', async () => {
      const dir = folder('confined-ok', SERVICE);
      const built = await buildArtifact(dir, { confine: { privateDirs: [] } });
      assert.equal(built.digest, (await buildArtifact(dir)).digest);
      // A workspace: the service's packages installed in a folder above it.
      const workspace = tempDir('workspace');
      writeFolder(workspace, { 'node_modules/pad-fixture/package.json': SERVICE['node_modules/pad-fixture/package.json'], 'node_modules/pad-fixture/index.js': SERVICE['node_modules/pad-fixture/index.js'] });
      const service = join(workspace, 'services', 'bundled');
      writeFolder(service, Object.fromEntries(Object.entries(SERVICE).filter(([name]) => !name.startsWith('node_modules/'))));
      assert.match((await buildArtifact(service, { confine: { privateDirs: [] } })).digest, /^sha256:/);
    });

    it('refuses a file outside the folder, by path, by a relative import or through a link, and says none of it', async () => {
      const outside = folder('sibling', { 'secret.json': '{ "password": "hunter2-outside" }\n' });
      const imports = [
        `import secret from '${join(outside, 'secret.json')}';`,
        `import secret from '../${outside.split('/').pop()}/secret.json';`,
        "import secret from './linked.json';",
      ];
      for (const line of imports) {
        const dir = folder('confined-out', { 'index.mjs': `${line}\n\nexport default { name: 'thief', secret };\n` });
        symlinkSync(join(outside, 'secret.json'), join(dir, 'linked.json'));
        await refused(buildArtifact(dir, { confine: { privateDirs: [] } }), /secret\.json is outside the service folder and its npm packages; a release holds only those/);
        // Built by its own user (the CLI), the same folder builds: only a confined build refuses it.
        assert.match(entryText(await buildArtifact(dir)), /hunter2-outside/);
        await assert.rejects(buildArtifact(dir, { confine: { privateDirs: [] } }), (err: Error) => !err.message.includes('hunter2'));
      }
    });

    it('refuses a file in a node_modules folder that is not the service\'s: only the packages its imports would find', async () => {
      const elsewhere = folder('other-modules', { 'node_modules/.cache/token.json': '{ "token": "hunter2-cache" }\n' });
      const dir = folder('confined-modules', { 'index.mjs': `import token from '${join(elsewhere, 'node_modules/.cache/token.json')}';\n\nexport default { name: 'thief', token };\n` });
      await refused(buildArtifact(dir, { confine: { privateDirs: [] } }), /token\.json is outside the service folder and its npm packages/);
    });

    it('refuses a file inside a private folder, even an npm package\'s', async () => {
      const dataDir = tempDir('data-dir');
      writeFolder(dataDir, { 'node_modules/keys/package.json': '{ "name": "keys", "main": "signing.json" }\n', 'node_modules/keys/signing.json': '{ "key": "hunter2-signing" }\n' });
      const service = join(dataDir, 'services', 'thief');
      writeFolder(service, { 'index.mjs': "import key from 'keys';\n\nexport default { name: 'thief', key };\n" });
      await refused(buildArtifact(service, { confine: { privateDirs: [dataDir] } }), /is outside the service folder and its npm packages/);
      // The package is the folder's (a node_modules above it): what refuses it is the private folder.
      assert.match(entryText(await buildArtifact(service, { confine: { privateDirs: [] } })), /hunter2-signing/);
    });
  });
});
