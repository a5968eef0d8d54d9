import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand, squadron, startTestPlatform, type CliResult, type TestPlatform } from '@squadron/testkit';

/** `npm test` in a folder, as its author would run it; outside this test runner (a nested `node --test` would report to it, not print TAP). */
function npmTest(cwd: string): Promise<CliResult> {
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return runCommand('npm', ['test'], { cwd, env, timeoutMs: 60_000 });
}

/** `squadron new` run from `cwd` (the default folder is ./NAME there). */
const squadronIn = (cwd: string, args: string[]) => squadron(args, {}, 30_000, cwd);

/**
 * `squadron new` writes a service folder that works as it is: its own test passes with `npm
 * test`, and it deploys to a running platform and answers a call, with no edit. A folder outside
 * the installation, as a squad's own repository would be.
 */
describe('squadron new', () => {
  let platform: TestPlatform;
  let work: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'squadron-new-'));
    platform = await startTestPlatform('new', { config: 'sites:\n  - name: sto\n    kind: datacenter\n' });
  });

  after(async () => {
    await platform?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('writes a folder whose test passes, and that deploys and answers as it is', async () => {
    const made = await squadronIn(work, ['new', 'greeter']);
    assert.equal(made.code, 0, made.stderr);
    const dir = join(work, 'greeter');
    assert.deepEqual(readdirSync(dir).sort(), ['README.md', 'index.test.ts', 'index.ts', 'package.json']);
    assert.match(made.stdout, /^service greeter written to \.\/greeter: package\.json, index\.ts, index\.test\.ts, README\.md/);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; type: string; scripts: { test: string } };
    assert.deepEqual([pkg.name, pkg.type], ['greeter', 'module']);
    assert.match(readFileSync(join(dir, 'index.ts'), 'utf8'), /import \{ defineService \} from '@squadron\/sdk';[\s\S]*name: 'greeter',[\s\S]*hello: /);
    assert.match(readFileSync(join(dir, 'README.md'), 'utf8'), /^- Deploy it: `squadron deploy greeter --path \.\/greeter --sites SITE`/m);

    const test = await npmTest(dir);
    assert.equal(test.code, 0, test.stdout + test.stderr);
    assert.match(test.stdout, /^# pass 1$/m);
    assert.match(test.stdout, /^# fail 0$/m);

    const env = platform.env;
    assert.equal((await squadron(['squads', 'create', 'greeters'], env)).code, 0);
    const created = await squadron(['services', 'create', 'greeter', '--squad', 'greeters'], env);
    assert.equal(created.code, 0, created.stderr);
    const deployed = await squadron(['deploy', 'greeter', '--path', dir, '--sites', 'sto'], env, 90_000);
    assert.equal(deployed.code, 0, deployed.stderr);
    const call = await squadron(['call', 'greeter', 'hello', '{"name":"ada"}'], env);
    assert.equal(call.code, 0, call.stderr);
    assert.deepEqual(JSON.parse(call.stdout), { text: 'hello ada', from: 'greeter', site: 'sto' });
  });

  it('writes to --dir, and prints JSON with --json', async () => {
    const dir = join(work, 'nested', 'echo-svc');
    const r = await squadron(['new', 'echo-svc', '--dir', dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { service: 'echo-svc', dir, files: ['package.json', 'index.ts', 'index.test.ts', 'README.md'] });
    assert.match(readFileSync(join(dir, 'README.md'), 'utf8'), new RegExp(`squadron deploy echo-svc --path ${dir} --sites SITE`));
    // An empty folder is fine to write into.
    const empty = join(work, 'empty');
    mkdirSync(empty);
    assert.equal((await squadron(['new', 'quiet', '--dir', empty])).code, 0);
    assert.ok(existsSync(join(empty, 'index.ts')));
  });

  it('refuses a folder that holds anything, and a name that is not a service name, writing nothing', async () => {
    const full = join(work, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'notes.txt'), 'mine');
    const taken = await squadron(['new', 'greeter', '--dir', full]);
    assert.equal(taken.code, 2);
    assert.equal(taken.stderr, `BAD_REQUEST: folder ${full} exists and is not empty (notes.txt): choose another with --dir, or empty it\n`);
    assert.deepEqual(readdirSync(full), ['notes.txt'], 'nothing was written');

    const bad = await squadronIn(work, ['new', 'Bad_Name']);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, "BAD_REQUEST: service name 'Bad_Name' must be lower-case letters, digits and dashes, starting with a letter\n");
    assert.equal(existsSync(join(work, 'Bad_Name')), false);
  });
});
