import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ControlClient } from '@squadron/client';
import { SQUADRON_BIN, waitFor } from '@squadron/testkit';

const CHATTER = fileURLToPath(new URL('./fixtures/logs/chatter', import.meta.url));

interface Up {
  output(): string;
  exited: Promise<number | null>;
  /** What a terminal's Ctrl-C does: SIGINT to every process of the foreground group. */
  ctrlC(): void;
}

/** `squadron up` as a terminal runs it: the leader of its own process group. */
function up(dataDir: string, args: string[]): Up {
  const env: Record<string, string | undefined> = { ...process.env, SQUADRON_DATA_DIR: dataDir };
  delete env.SQUADRON_LOG_LEVEL; // as a person runs it
  const child = spawn(process.execPath, [SQUADRON_BIN, 'up', '--port', '0', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { output: () => output, exited, ctrlC: () => process.kill(-child.pid!, 'SIGINT') };
}

/** Lines at warn level or above: pino's (level 40 and up), and the platform's own words for trouble. */
function warnings(output: string): string[] {
  return output.split('\n').filter((line) => {
    if (line.startsWith('{')) return (JSON.parse(line) as { level: number }).level >= 40;
    // A start without root says what insulation it lacks: a notice of how it runs, not trouble.
    if (line.startsWith('squadron: warning: not running as root')) return false;
    return /warn|exited|restart|fail|error|no failover/i.test(line);
  });
}

/**
 * The JSON lines at warn level or above in every log of the data directory (brokers, agents,
 * instances, storage servers): a process stopped out of order logs it as a fault there (an
 * instance that lost its broker, an agent whose instance exited, a broker whose peer vanished).
 */
function logWarnings(dataDir: string): string[] {
  return readdirSync(dataDir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.log'))
    .flatMap((e) => readFileSync(join(e.parentPath, e.name), 'utf8').split('\n').map((line) => `${e.name}: ${line}`))
    .filter((line) => {
      const json = line.slice(line.indexOf(': ') + 2);
      return json.startsWith('{') && (JSON.parse(json) as { level?: number }).level! >= 40;
    });
}

/**
 * Ctrl-C of `squadron up`, as a terminal sends it (to the whole process group): the platform
 * stops in order and says nothing is wrong, and started again on the same data directory it
 * says nothing false either, and counts what it runs.
 */
describe('squadron up and Ctrl-C', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'squadron-ctrl-c-'));
  // Storage servers run as their own system user (PostgreSQL refuses root): they must reach it.
  chmodSync(dataDir, 0o711);
  let running: Up | null = null;

  after(async () => {
    if (running) {
      running.ctrlC();
      await running.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stops with no warning and exit code 0, storage and instances included', async () => {
    running = up(dataDir, ['--service', CHATTER]);
    await waitFor(() => /squadron ready/.test(running!.output()), `squadron up to be ready (output: ${running.output().slice(-500)})`, 90_000, 50);
    const url = (JSON.parse(readFileSync(join(dataDir, 'platform.json'), 'utf8')) as { url: string }).url;
    const api = new ControlClient({ url, token: readFileSync(join(dataDir, 'admin-token'), 'utf8').trim() });
    // A server of each kind the platform runs itself, in both sites: each must stop without being taken for a crash.
    for (const kind of ['kv', 'postgres', 'memcached'] as const) {
      await api.createStorage({ name: `chatter-${kind}`, kind, service: 'chatter', sites: ['sto', 'gcp-eu'] });
    }
    for (const kind of ['kv', 'postgres', 'memcached']) {
      await waitFor(async () => {
        const s = await api.storage(`chatter-${kind}`);
        if (s.status === 'failed') throw new Error(`storage chatter-${kind} failed: ${s.error}`);
        return s.status === 'ready';
      }, `storage chatter-${kind} to be ready`, 60_000, 200);
    }

    running.ctrlC();
    const code = await running.exited;
    const output = running.output();
    running = null;
    assert.deepEqual(warnings(output), [], output);
    assert.equal(code, 0, output);
    assert.match(output, /squadron: stopped/);
    assert.deepEqual(logWarnings(dataDir), [], 'no process was taken for a crash in its logs');
  });

  it('starts again on the same data directory with no false warning, counting the instances it runs', async () => {
    // Without --service: what runs is what was deployed before, and the count must say so.
    running = up(dataDir, []);
    const [, counted] = await waitFor(() => /squadron ready: (\d+) instances/.exec(running!.output()), `squadron up to be ready again (output: ${running.output().slice(-500)})`, 90_000, 50);
    const url = (JSON.parse(readFileSync(join(dataDir, 'platform.json'), 'utf8')) as { url: string }).url;
    const api = new ControlClient({ url, token: readFileSync(join(dataDir, 'admin-token'), 'utf8').trim() });
    const { instances } = await api.instances('chatter');
    const live = instances.filter((i) => i.state === 'ready');
    assert.equal(live.length, 2, 'chatter runs in both sites, as deployed before');
    assert.equal(Number(counted), live.length, running.output());
    // Its storage is back, with no failover: the primary stayed where it was.
    assert.equal((await api.storage('chatter-postgres')).status, 'ready');

    running.ctrlC();
    const code = await running.exited;
    const output = running.output();
    running = null;
    assert.deepEqual(warnings(output), [], output);
    assert.equal(code, 0, output);
    assert.deepEqual(logWarnings(dataDir), [], 'no process was taken for a crash in its logs');
  });
});
