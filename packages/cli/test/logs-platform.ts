import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Identity } from '@squadron/identity';
import { connect, type Client } from '@squadron/sdk';
import { squadron, startTestPlatform, type TestPlatform } from '@squadron/testkit';

const FIXTURES = fileURLToPath(new URL('./fixtures/logs/', import.meta.url));

/** A line of `squadron logs --json`. */
export interface JsonLine { time: number; instance: string; site: string; msg?: string; text?: string; raw?: boolean; traceId?: string }

export interface LogsPlatform {
  platform: TestPlatform;
  client: Client;
  /** Environments for the CLI: as the admin, as squad alpha (chatter's owner), as squad beta. */
  env: Record<string, string>;
  alpha: Record<string, string>;
  beta: Record<string, string>;
  /** A word of this run, in every line the tests make chatter log. */
  run: string;
  /** chatter's instance in each site: the one that answered. */
  instanceIn: Record<string, string>;
  /** chatter logs `text` from its method, subscription and consumer, in `site`; resolves with the instance. */
  say(text: string, site: string): Promise<string>;
  /** `squadron logs chatter ARGS` to its end, its stdout's lines. */
  logs(args: string[], as?: Record<string, string>): Promise<string[]>;
  jsonLogs(args: string[]): Promise<JsonLine[]>;
  stop(): Promise<void>;
}

/**
 * A platform of two sites with chatter (squad alpha) in each, at log level info, which has said
 * `turn-RUN-0` to `turn-RUN-3` in turns: sto, gcp-eu, sto, gcp-eu.
 */
export async function startLogsPlatform(name: string): Promise<LogsPlatform> {
  const platform = await startTestPlatform(name, {
    config: 'sites:\n  - { name: sto, kind: datacenter }\n  - { name: gcp-eu, kind: datacenter }\n',
    logLevel: 'info',
  });
  const { api, env } = platform;
  const alpha = { ...env, SQUADRON_TOKEN: (await api.createSquad('alpha')).token! };
  const beta = { ...env, SQUADRON_TOKEN: (await api.createSquad('beta')).token! };
  await api.createService({ name: 'chatter', squad: 'alpha' });
  await api.deploy('chatter', { path: join(FIXTURES, 'chatter'), sites: ['sto', 'gcp-eu'], instances: 1 });
  const key = Identity.newKey();
  const { credential } = await api.clientCredential(key.publicJwk, { site: 'sto', name: `${name}-test` });
  const { sites } = await api.sites();
  const client = await connect({ site: 'sto', broker: sites[0]!.broker!.address, identity: new Identity(credential, key.privateKey), name: `${name}-test` });
  await client.waitForInstances('chatter', 2, 30_000);
  const say = async (text: string, site: string) =>
    (await client.call<{ instance: string }>('chatter', 'say', { text }, { site, timeoutMs: 5_000 })).instance;
  const logs = async (args: string[], as = env) => {
    const r = await squadron(['logs', 'chatter', ...args], as);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => l !== '');
  };
  const run = randomBytes(4).toString('hex');
  const instanceIn: Record<string, string> = {};
  for (const [n, site] of ['sto', 'gcp-eu', 'sto', 'gcp-eu'].entries()) {
    const instance = await say(`turn-${run}-${n}`, site);
    assert.equal(instanceIn[site] ??= instance, instance, `one instance of chatter in ${site}`);
  }
  return {
    platform, client, env, alpha, beta, run, instanceIn, say, logs,
    jsonLogs: async (args) => (await logs([...args, '--json'])).map((l) => JSON.parse(l) as JsonLine),
    stop: async () => {
      await client.close();
      await platform.stop();
    },
  };
}
