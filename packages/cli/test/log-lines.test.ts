import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Identity } from '@squadron/identity';
import { connect, type Client } from '@squadron/sdk';
import { startTestPlatform, waitFor, type TestPlatform } from '@squadron/testkit';
import { duplicateKeys } from './json-keys.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/logs/', import.meta.url));

type LogLine = Record<string, unknown> & { msg?: string };

/** The JSON lines of a log file (an instance's holds a few lines of its own that are not JSON). */
function jsonLines(file: string): Array<{ text: string; line: LogLine }> {
  return readFileSync(file, 'utf8').split('\n').filter((t) => t.startsWith('{')).map((text) => ({ text, line: JSON.parse(text) as LogLine }));
}

/** Every log file under `dir`, at any depth. */
function logFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.log'))
    .map((e) => join(e.parentPath, e.name));
}

/**
 * Log lines a person (or a log collector) can read, on a running platform: every JSON line holds
 * each key once, and a handler's lines say which service, instance, site and trace wrote them.
 */
describe('log lines', () => {
  let platform: TestPlatform;
  let client: Client;
  let logs = '';

  before(async () => {
    platform = await startTestPlatform('log-lines', { config: 'sites:\n  - name: sto\n    kind: datacenter\n', logLevel: 'info' });
    const { api } = platform;
    logs = join(platform.dataDir, 'logs');
    await api.createSquad('alpha');
    await api.createSquad('beta');
    await api.createService({ name: 'chatter', squad: 'alpha' });
    await api.createService({ name: 'snoop', squad: 'beta' });
    await api.deploy('chatter', { path: join(FIXTURES, 'chatter'), sites: ['sto'], instances: 1 });
    // The topic is alpha's once chatter's running code says it publishes it: snoop comes after.
    await waitFor(async () => (await api.policy('chatter')).topics.includes('chatter.said'), 'chatter to own chatter.said', 30_000);
    await api.deploy('snoop', { path: join(FIXTURES, 'snoop'), sites: ['sto'], instances: 1 });
    const key = Identity.newKey();
    const { credential } = await api.clientCredential(key.publicJwk, { site: 'sto', name: 'log-lines-test' });
    const { sites } = await api.sites();
    client = await connect({ site: 'sto', broker: sites[0]!.broker!.address, identity: new Identity(credential, key.privateKey), name: 'log-lines-test' });
    await client.waitForInstances('chatter', 1, 30_000);
    await client.waitForInstances('snoop', 1, 30_000);
  });

  after(async () => {
    await client?.close();
    await platform?.stop();
  });

  it('writes each key once in every line of the broker\'s log: its name, and the topic it refused', async () => {
    const brokerLog = join(logs, 'broker-sto.log');
    const refusal = await waitFor(
      () => jsonLines(brokerLog).find(({ line }) => line.msg?.startsWith('refused:') && line.caller === 'service:snoop'),
      'the broker to log its refusal of snoop\'s subscription', 15_000, 50,
    );
    assert.equal(refusal.line.name, 'broker:sto', 'the line still says which broker wrote it');
    assert.equal(refusal.line.topic, 'chatter.said', 'and which topic it refused');
    assert.deepEqual(duplicateKeys(refusal.text), []);
    for (const { text } of jsonLines(brokerLog)) assert.deepEqual(duplicateKeys(text), [], text);
  });

  it('gives a handler\'s lines its service, instance, site and the caller\'s trace id, from a method, a subscription and a consumer', async () => {
    const traceId = `trace-${randomBytes(6).toString('hex')}`;
    const text = `hello ${traceId}`;
    const { instance } = await client.call<{ instance: string }>('chatter', 'say', { text }, { traceId, timeoutMs: 5_000 });
    const file = join(logs, 'agent-sto', `${instance}.log`);
    const heard = await waitFor(() => {
      const lines = jsonLines(file).filter(({ line }) => line.text === text);
      return lines.length >= 3 ? lines : null;
    }, `the three handlers of ${instance} to log ${text}`, 15_000, 50);
    assert.deepEqual(heard.map(({ line }) => line.msg).sort(), ['consumer heard', 'method heard', 'subscription heard']);
    for (const { text: raw, line } of heard) {
      assert.deepEqual({ service: line.service, instance: line.instance, site: line.site, traceId: line.traceId },
        { service: 'chatter', instance, site: 'sto', traceId }, raw);
      assert.deepEqual(duplicateKeys(raw), [], raw);
    }
    // The instance's own lines say where they come from too.
    const ready = jsonLines(file).find(({ line }) => line.msg === 'instance ready');
    assert.ok(ready, 'the instance logged that it is ready');
    assert.deepEqual([ready.line.service, ready.line.instance, ready.line.site], ['chatter', instance, 'sto']);
  });

  it('writes each key once in every JSON line of every log in the data directory', () => {
    const files = logFiles(logs);
    assert.ok(files.length >= 4, `the brokers', agents' and instances' logs: ${files.join(', ')}`);
    for (const file of files) {
      for (const { text } of jsonLines(file)) assert.deepEqual(duplicateKeys(text), [], `${file}: ${text}`);
    }
  });
});
