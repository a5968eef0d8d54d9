import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ControlClient, ReleaseBody } from '@squadron/client';
import { connect, type Client } from '@squadron/sdk';
import { squadron, startTestPlatform, waitFor, type TestPlatform } from '@squadron/testkit';

interface Answer { version: string; instance: string }

/** A service whose code says which version it is; `crash` ends its process, as a bug would. */
function writeVersion(dir: string, version: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'versioned', type: 'module' }));
  writeFileSync(join(dir, 'version.ts'), `export const VERSION = ${JSON.stringify(version)};\n`);
  writeFileSync(join(dir, 'index.ts'), [
    "import { defineService } from '@squadron/sdk';",
    "import { VERSION } from './version.ts';",
    'export default defineService({',
    "  name: 'versioned',",
    '  methods: {',
    '    version: (_req: unknown, ctx) => ({ version: VERSION, instance: ctx.instance }),',
    '    crash: () => { setTimeout(() => process.exit(1), 10); return null; },',
    '  },',
    '});',
    '',
  ].join('\n'));
}

/**
 * A release is the code it was deployed with, whatever becomes of the folder: deploy v1, deploy
 * v2, edit the folder to v3 without deploying, then a crash restart, a rollback and a scale-up
 * each run the release's own code, and v3 never runs.
 */
describe('releases are immutable', () => {
  let platform: TestPlatform;
  let api: ControlClient;
  let client: Client;
  let folder: string;
  const seen = new Set<string>();

  /** Every instance's answer, calling until `instances` distinct ones have answered. */
  async function versions(instances: number): Promise<Map<string, string>> {
    const byInstance = new Map<string, string>();
    await waitFor(async () => {
      const a = await client.call<Answer>('versioned', 'version', null, { timeoutMs: 2000 }).catch(() => null);
      if (a) {
        byInstance.set(a.instance, a.version);
        seen.add(a.version);
      }
      return byInstance.size >= instances;
    }, `${instances} instances to answer`, 20_000, 10);
    return byInstance;
  }

  async function releases(): Promise<ReleaseBody[]> {
    return (await api.releases('versioned')).releases;
  }

  before(async () => {
    platform = await startTestPlatform('immutable', { config: 'sites:\n  - name: sto\n    kind: datacenter\n' });
    api = platform.api;
    await api.createSquad('radio');
    await api.createService({ name: 'versioned', squad: 'radio' });
    folder = mkdtempSync(join(tmpdir(), 'squadron-versioned-'));
    process.env.SQUADRON_TOKEN = platform.adminToken;
    client = await connect({ site: 'sto', url: platform.url, name: 'immutable-test' });
  });

  after(async () => {
    delete process.env.SQUADRON_TOKEN;
    await client?.close();
    await platform?.stop();
    rmSync(folder, { recursive: true, force: true });
  });

  it('deploys v1 then v2, each shown with its artifact digest', async () => {
    writeVersion(folder, 'v1');
    const first = await squadron(['deploy', 'versioned', '--path', folder, '--sites', 'sto', '--instances', '2'], platform.env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /artifact sha256:[0-9a-f]{64}/);
    assert.deepEqual([...new Set((await versions(2)).values())], ['v1']);

    writeVersion(folder, 'v2');
    const second = await squadron(['deploy', 'versioned', '--path', folder, '--sites', 'sto', '--instances', '2'], platform.env);
    assert.equal(second.code, 0, second.stderr);
    const [r2, r1] = await releases();
    assert.ok(r1!.artifact && r2!.artifact && r1!.artifact !== r2!.artifact, 'each code its own artifact');
    await waitFor(async () => [...(await versions(2)).values()].every((v) => v === 'v2'), 'the rollout to v2');
    const table = await squadron(['releases', 'versioned'], platform.env);
    assert.match(table.stdout, /ARTIFACT/);
    assert.ok(table.stdout.includes(r2!.artifact!.slice(0, 19)), table.stdout);
  });

  it('a crash restart runs the release\'s code, not the folder\'s edits', async () => {
    writeVersion(folder, 'v3');
    const before = (await api.instances('versioned')).instances;
    await client.call('versioned', 'crash', null, { timeoutMs: 2000 });
    await waitFor(async () => (await api.instances('versioned')).instances.some((i) => i.restarts > 0 && i.state === 'ready'), 'the crashed instance back');
    assert.equal(before.length, 2);
    assert.deepEqual([...new Set((await versions(2)).values())], ['v2']);
  });

  it('rollback --to 1 runs release 1\'s code, and a scale-up adds instances of it', async () => {
    const rolled = await squadron(['rollback', 'versioned', '--to', '1'], platform.env);
    assert.equal(rolled.code, 0, rolled.stderr);
    const [r3, , r1] = await releases();
    assert.equal(r3!.artifact, r1!.artifact, 'the rollback names release 1\'s artifact');
    await waitFor(async () => [...(await versions(2)).values()].every((v) => v === 'v1'), 'the rollout back to v1');

    // The folder is gone altogether: nothing needs it any more.
    rmSync(folder, { recursive: true, force: true });
    const scaled = await squadron(['scale', 'versioned', '--instances', '4'], platform.env);
    assert.equal(scaled.code, 0, scaled.stderr);
    const all = await versions(4);
    assert.deepEqual([...new Set(all.values())], ['v1'], `every instance runs v1: ${JSON.stringify([...all])}`);
  });

  it('never ran the folder\'s undeployed edit', () => {
    assert.ok(!seen.has('v3'), `answers seen: ${[...seen].join(', ')}`);
    assert.deepEqual([...seen].sort(), ['v1', 'v2']);
  });
});
