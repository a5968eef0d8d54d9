import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StorageError } from '../src/index.ts';
import { parseSettings, settingsToArgs } from '../src/kv/settings.ts';

describe('kv server settings', () => {
  it('reads flags, falls back to the environment, and round-trips through the arguments the provisioner gives', () => {
    const s = parseSettings(['--dir', '/data/sto', '--site', 'sto', '--port', '7001', '--max-keys', '10'], {
      SQUADRON_KV_SECRET: 'x', SQUADRON_KV_PEERS: 'gcp-eu=http://127.0.0.1:7002/, aws-us=http://127.0.0.1:7003', SQUADRON_KV_MAX_BYTES: '2048',
    });
    assert.deepEqual(s, {
      dir: '/data/sto', site: 'sto', secret: 'x', host: '127.0.0.1', port: 7001,
      peers: [{ site: 'gcp-eu', url: 'http://127.0.0.1:7002' }, { site: 'aws-us', url: 'http://127.0.0.1:7003' }],
      defaultQuota: { maxKeys: 10, maxBytes: 2048 }, pollMs: 150, retentionMs: 86_400_000,
    });
    const { args, env } = settingsToArgs(s);
    assert.ok(!args.includes('x'), 'the secret is not on the command line');
    assert.deepEqual(parseSettings(args, env), s);
  });

  it('refuses what it cannot run with, saying what to give', () => {
    const bad = (argv: string[], env: NodeJS.ProcessEnv, re: RegExp) =>
      assert.throws(() => parseSettings(argv, env), (err: unknown) => err instanceof StorageError && err.code === 'BAD_REQUEST' && re.test(err.message));
    const ok = { SQUADRON_KV_SECRET: 's', SQUADRON_KV_DIR: '/d', SQUADRON_KV_SITE: 'sto' };
    bad([], { SQUADRON_KV_SECRET: 's' }, /--dir .* is required/);
    bad(['--dir', '/d', '--site', 'Sto'], { SQUADRON_KV_SECRET: 's' }, /--site .* must be a site name/);
    bad(['--dir', '/d', '--site', 'sto'], {}, /secret is required in SQUADRON_KV_SECRET/);
    bad(['--port', '70000'], ok, /--port must be an integer from 0 to 65535/);
    bad(['--peers', 'gcp-eu'], ok, /'gcp-eu' is not SITE=URL/);
    bad(['--peers', 'sto=http://127.0.0.1:1'], ok, /names this site/);
    bad(['--peers', 'a=http://h:1,a=http://h:2'], ok, /names a site twice/);
    bad(['--colour', 'red'], ok, /usage: kv server/);
  });
});
