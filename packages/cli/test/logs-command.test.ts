import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { squadron, waitFor } from '@squadron/testkit';
import { startLogsPlatform, type LogsPlatform } from './logs-platform.ts';

/**
 * `squadron logs` on a running platform of two sites, one instance of chatter (squad alpha) in
 * each: the instances' own log files, merged in time order, read through each flag.
 */
describe('squadron logs', () => {
  let p: LogsPlatform;
  let run = '';
  let instanceIn: Record<string, string> = {};
  const logs = (args: string[]) => p.logs(args);
  const jsonLogs = (args: string[]) => p.jsonLogs(args);

  before(async () => {
    p = await startLogsPlatform('logs');
    ({ run, instanceIn } = p);
  });

  after(async () => {
    await p?.stop();
  });

  it('merges every instance\'s lines in time order, each prefixed by its instance', async () => {
    const lines = (await logs([])).filter((l) => l.includes(`turn-${run}-`) && l.includes('method heard'));
    assert.equal(lines.length, 4, lines.join('\n'));
    const width = Math.max(instanceIn.sto!.length, instanceIn['gcp-eu']!.length);
    ['sto', 'gcp-eu', 'sto', 'gcp-eu'].forEach((site, n) => {
      assert.ok(lines[n]!.startsWith(`${instanceIn[site]!.padEnd(width)} | `), lines[n]);
      assert.match(lines[n]!, new RegExp(` \\| \\S+Z INFO  method heard .*text=turn-${run}-${n}$`));
    });
    const times = lines.map((l) => Date.parse(l.split(' | ')[1]!.split(' ')[0]!));
    assert.deepEqual([...times].sort((a, b) => a - b), times, 'in time order');
  });

  it('--site: only that site\'s instances, and an unknown site refused', async () => {
    const lines = await jsonLogs(['--site', 'gcp-eu']);
    assert.ok(lines.some((l) => l.text === `turn-${run}-1` && l.instance === instanceIn['gcp-eu']), JSON.stringify(lines));
    assert.deepEqual(lines.filter((l) => l.site !== 'gcp-eu'), []);
    const wrong = await squadron(['logs', 'chatter', '--site', 'mars'], p.env);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /^BAD_REQUEST: no site 'mars'; the platform has: sto, gcp-eu/);
  });

  it('--grep: only the lines that hold the text', async () => {
    const lines = await logs(['--grep', `turn-${run}-2`]);
    assert.ok(lines.length >= 3, `the method's, the subscription's and the consumer's lines: ${lines.join('\n')}`);
    assert.deepEqual(lines.filter((l) => !l.includes(`turn-${run}-2`)), []);
  });

  it('--json: the lines as JSON, each with its instance and site, in time order', async () => {
    const lines = await jsonLogs([]);
    const heard = lines.filter((l) => l.msg === 'method heard' && l.text?.startsWith(`turn-${run}-`));
    assert.deepEqual(heard.map((l) => [l.text, l.instance, l.site]), ['sto', 'gcp-eu', 'sto', 'gcp-eu'].map((site, n) => [`turn-${run}-${n}`, instanceIn[site], site]));
    assert.ok(heard.every((l) => typeof l.traceId === 'string'), 'the line as the file holds it');
    const times = lines.map((l) => l.time);
    assert.deepEqual([...times].sort((a, b) => a - b), times, 'in time order');
  });

  it('shows a line that is not JSON (stderr) at the time of the line before it', async () => {
    const text = `plain words ${run}`;
    await p.client.call('chatter', 'raw', { text }, { site: 'sto', timeoutMs: 5_000 });
    const file = join(p.platform.dataDir, 'logs', 'agent-sto', `${instanceIn.sto}.log`);
    await waitFor(() => readFileSync(file, 'utf8').includes(text), 'the stderr line to reach the instance\'s log file', 10_000, 50);
    const lines = await jsonLogs(['--site', 'sto']);
    const at = lines.findIndex((l) => l.msg === text);
    assert.equal(lines[at]!.raw, true);
    assert.equal(lines[at]!.instance, instanceIn.sto);
    assert.equal(lines[at]!.time, lines[at - 1]!.time, 'the time of the line before it in its file');
    assert.ok((await logs(['--site', 'sto'])).includes(`${instanceIn.sto} | ${text}`), 'as it is, after its instance');
  });

  it('--since: only the lines of the last while', async () => {
    const readyAt = (await jsonLogs(['--site', 'sto'])).find((l) => l.msg === 'instance ready' && l.instance === instanceIn.sto)!.time;
    // A window that starts a second after the instance did: it leaves the start out, and holds a
    // line written now for as long as the command takes to start (seconds, on a busy machine).
    await waitFor(() => Date.now() - readyAt > 10_000, 'the instance to have started 10 s ago', 15_000, 100);
    await p.say(`fresh-${run}`, 'sto');
    const seconds = Math.floor((Date.now() - readyAt) / 1000) - 1;
    const lines = await jsonLogs(['--since', `${seconds}s`, '--site', 'sto']);
    assert.ok(lines.some((l) => l.text === `fresh-${run}`), JSON.stringify(lines));
    assert.ok(!lines.some((l) => l.msg === 'instance ready'), 'nothing from before the window');
    assert.ok(lines.every((l) => l.time >= readyAt + 1_000));
    const bad = await squadron(['logs', 'chatter', '--since', 'ten minutes'], p.env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^BAD_REQUEST: --since takes a number and a unit/);
  });
});
