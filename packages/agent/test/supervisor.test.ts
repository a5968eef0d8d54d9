import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor, alive, SQUADRON_BIN, WORKER_DIR } from '@squadron/testkit';
import { InstanceSupervisor, SupervisorError, type InstanceChange, type SupervisorOptions } from '@squadron/agent';
import { supervisorHarness } from './supervisor-harness.ts';
import { restartCheck, summary } from '../chaos/restart-check.ts';

// Each kill costs a restart of `squadron run` (~0.6 s of loading Node, tsx and the SDK on a 2-core
// machine); `npm run chaos` does 100.
const KILLS = 15;

const CRASHER_DIR = fileURLToPath(new URL('./fixtures/crasher/', import.meta.url));
const SUPERVISE_ONE = fileURLToPath(new URL('./fixtures/supervise-one.ts', import.meta.url));

/** A pid that no longer exists: not even as a zombie, which `kill(pid, 0)` would still reach. */
function assertGone(pid: number): void {
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `process ${pid} still exists`);
}

describe('InstanceSupervisor', () => {
  const h = supervisorHarness('agent-test');

  /** A supervisor of its own for each test, recording every change. */
  const supervise = (name: string, extra: Partial<SupervisorOptions> = {}) => {
    const changes: Array<InstanceChange & { at: number }> = [];
    const sup = new InstanceSupervisor({
      runner: { script: SQUADRON_BIN, execArgv: [] },
      logDir: join(h.logRoot, name),
      ...extra,
      env: { SQUADRON_LOG_LEVEL: 'warn', ...extra.env },
      onChange: (c) => changes.push({ ...c, at: Date.now() }),
    });
    h.supervisors.push(sup);
    return { sup, changes };
  };
  const spec = (id: string, path = WORKER_DIR) => ({ id, path, site: 'sto', broker: h.sites.address('sto') });
  const stateOf = (sup: InstanceSupervisor, id: string) => sup.snapshot().find((i) => i.id === id);

  it('starts at most maxStarting instances at once, the others pending until one is ready, and all of them in the end', async () => {
    const { sup, changes } = supervise('turns', { maxStarting: 1 });
    for (const id of ['turn-1', 'turn-2', 'turn-3']) sup.start(spec(id));
    assert.deepEqual(sup.snapshot().map((i) => i.state).sort(), ['pending', 'pending', 'starting']);
    await waitFor(() => sup.snapshot().every((i) => i.state === 'ready'), 'all three ready', 60_000);
    // Replay the transitions: never two starting at once.
    const starting = new Set<string>();
    let most = 0;
    for (const c of changes) {
      if (c.to === 'starting') starting.add(c.id);
      else starting.delete(c.id);
      most = Math.max(most, starting.size);
    }
    assert.equal(most, 1);
    // A drained instance that was waiting its turn never starts.
    sup.start(spec('turn-4'));
    sup.start(spec('turn-5'));
    await sup.drain('turn-5', 1000);
    await waitFor(() => stateOf(sup, 'turn-4')?.state === 'ready', 'the fourth ready', 30_000);
    assert.ok(!changes.some((c) => c.id === 'turn-5' && c.to === 'starting'), 'the drained one never started');
    // They are instances of the worker too: the tests after this one call it and must reach their own.
    await sup.stopAll(2000);
  });

  it('starts an instance that registers with the broker and reports ready with its pid and interface', async () => {
    const { sup, changes } = supervise('ready');
    sup.start(spec('ready-1'));
    const ready = await waitFor(() => (stateOf(sup, 'ready-1')?.state === 'ready' ? stateOf(sup, 'ready-1') : null), 'the instance to be ready', 20_000);
    assert.equal(typeof ready.pid, 'number');
    assert.ok(alive(ready.pid!));
    assert.deepEqual(ready.interface, {
      methods: ['echo', 'write', 'flaky', 'setFlaky', 'boom', 'spin'],
      topics: ['worker.events'],
      publishes: [],
      queues: ['worker.jobs'],
    });
    assert.equal(ready.restarts, 0);
    assert.equal(ready.crashLoop, false);
    assert.equal(ready.lastExit, null);
    assert.ok(ready.readyAt! <= Date.now());
    assert.ok(ready.rssBytes! > 10 * 1024 * 1024, `rss ${ready.rssBytes}`);
    assert.ok(ready.cpuPercent! >= 0);
    assert.deepEqual(changes.map((c) => [c.from, c.to]), [[null, 'starting'], ['starting', 'ready']]);

    // The broker lists it under the id the supervisor gave, with the same pid.
    await h.client.waitForInstances('worker', 1);
    const [seen] = h.client.instances('worker').filter((i) => i.id === 'ready-1');
    assert.equal(seen?.pid, ready.pid);
    assert.deepEqual(await h.client.call('worker', 'echo', 'hi'), { req: 'hi', instance: 'ready-1', site: 'sto' });

    await sup.drain('ready-1', 5000);
    await waitFor(() => h.client.instances('worker').length === 0, 'the instance to leave the registry');
  });

  it('restarts a service that throws at load with growing delays, and flags it crashLoop after 3 exits in a row', async () => {
    const { sup, changes } = supervise('crasher');
    const loops: boolean[] = [];
    sup.start(spec('crasher-1', CRASHER_DIR));
    await waitFor(() => {
      // Read on each crash as it happens: the flag the agent would report then.
      const crashes = changes.filter((c) => c.to === 'crashed');
      while (loops.length < crashes.length) loops.push(stateOf(sup, 'crasher-1')!.crashLoop);
      return crashes.length >= 4;
    }, 'four crashes', 30_000, 5);
    await sup.drain('crasher-1', 1000);

    const crashes = changes.filter((c) => c.to === 'crashed');
    const starts = changes.filter((c) => c.to === 'starting');
    assert.deepEqual(crashes.slice(0, 4).map((c) => c.restartInMs), [100, 200, 400, 800]);
    // Each restart waited at least its delay (a loaded machine adds to it, never takes from it).
    const waited = crashes.slice(0, 3).map((c, i) => starts[i + 1]!.at - c.at);
    waited.forEach((ms, i) => assert.ok(ms >= crashes[i]!.restartInMs! - 2, `waited ${waited.join(', ')} ms`));
    assert.deepEqual(loops.slice(0, 3), [false, false, true]);
    assert.ok(loops.every((l, i) => i < 2 || l));
    for (const c of crashes) assert.deepEqual([c.exit?.code, c.exit?.signal], [1, null]);
    assert.equal(changes.filter((c) => c.to === 'ready').length, 0);
    // The runner's error went to the instance's log file.
    assert.match(readFileSync(join(h.logRoot, 'crasher', 'crasher-1.log'), 'utf8'), /broken at load/);
  });

  it('drains an instance under in-flight calls without failing any, and does not restart it', async () => {
    const { sup, changes } = supervise('drain', { env: { WORKER_DELAY_MS: '300' } });
    sup.start(spec('drain-1'));
    await waitFor(() => stateOf(sup, 'drain-1')?.state === 'ready', 'the instance to be ready', 20_000);
    await waitFor(() => h.client.instances('worker').some((i) => i.id === 'drain-1'), 'the caller to see it');
    const pid = stateOf(sup, 'drain-1')!.pid!;

    let draining = false;
    let drainStartedAt = Infinity;
    let done = 0;
    let doneAfterDrain = 0;
    const failures: unknown[] = [];
    const load = Promise.all(Array.from({ length: 8 }, async () => {
      while (!draining) {
        try {
          await h.client.call('worker', 'echo', done, { timeoutMs: 5000 });
          done++;
          if (Date.now() > drainStartedAt) doneAfterDrain++;
        } catch (err) {
          failures.push(err);
        }
      }
    }));
    await waitFor(() => done >= 16, 'calls to complete before the drain', 10_000);
    draining = true; // each of the 8 callers has one call in flight now
    drainStartedAt = Date.now();
    await sup.drain('drain-1', 10_000);
    await load;

    assert.deepEqual(failures, [], `${failures.length} calls failed`);
    assert.ok(doneAfterDrain >= 1, 'calls were still in flight when the drain began');
    assert.equal(sup.has('drain-1'), false);
    assertGone(pid);
    const last = changes.at(-1)!;
    assert.deepEqual([last.from, last.to, last.exit?.code, last.exit?.signal], ['draining', null, 0, null], 'it exited by itself, not killed');
    const afterDrain = changes.slice(changes.findIndex((c) => c.to === 'draining'));
    assert.ok(!afterDrain.some((c) => c.to === 'starting' || c.to === 'crashed'), 'not restarted');
  });

  it('stopAll leaves no child process, not even a zombie, and starts nothing after', async () => {
    const { sup, changes } = supervise('stop-all');
    for (const id of ['stop-1', 'stop-2', 'stop-3']) sup.start(spec(id));
    sup.start(spec('stop-later'), 60_000);
    sup.start(spec('stop-crasher', CRASHER_DIR));
    await waitFor(() => sup.snapshot().filter((i) => i.state === 'ready').length === 3, 'three ready instances', 30_000);
    assert.equal(stateOf(sup, 'stop-later')?.state, 'pending');
    const pids = sup.pids();
    assert.ok(pids.length >= 3);

    await sup.stopAll(5000);
    assert.deepEqual(sup.ids(), []);
    assert.deepEqual(sup.pids(), []);
    for (const pid of pids) assertGone(pid);
    assert.deepEqual(changes.filter((c) => c.to === null).map((c) => c.id).sort(), ['stop-1', 'stop-2', 'stop-3', 'stop-crasher', 'stop-later']);
    assert.throws(() => sup.start(spec('stop-4')), SupervisorError);
  });

  it('leaves no instance behind when the supervising process is killed', async () => {
    const logDir = join(h.logRoot, 'orphan');
    const parent = fork(SUPERVISE_ONE, [h.sites.address('sto'), logDir], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const parentExited = new Promise((resolve) => parent.once('exit', resolve));
    const [pid] = await new Promise<number[]>((resolve, reject) => {
      parent.once('exit', (code) => reject(new Error(`the supervising process exited (${code}) early`)));
      parent.on('message', (m: { pids: number[] }) => resolve(m.pids));
    });
    assert.ok(pid !== undefined && alive(pid));
    parent.kill('SIGKILL');
    await parentExited;
    // The instance was reparented; it exits by itself when its IPC channel closes.
    await waitFor(() => !alive(pid), 'the orphaned instance to exit', 15_000);
  });

  // Last in the file, so that no other test of this package starts processes beside it. The
  // full check (100 kills, kill to ready p99 under 2 s) is part of `npm run chaos`.
  it(`brings a ready instance killed with SIGKILL back ready, ${KILLS} times, each at once`, async (t) => {
    const r = await restartCheck({ kills: KILLS, broker: h.sites.address('sto'), site: 'sto', logDir: h.logRoot });
    assert.equal(r.restarts, KILLS);
    assert.equal(r.crashLoop, false, 'a crash after ready is not a crash loop');
    assert.equal(r.lastSignal, 'SIGKILL');
    assert.equal(new Set(r.pids).size, KILLS + 1, 'a new process each time');
    // It had been ready each time, so no backoff builds up: every restart is at the minimum delay.
    assert.equal(r.restartDelaysMs.length, KILLS);
    assert.ok(r.restartDelaysMs.every((d) => d <= 100), `restart delays ${r.restartDelaysMs.join(', ')}`);
    for (const pid of r.pids) assertGone(pid);
    const s = summary(r.tookMs);
    t.diagnostic(`kill to ready over ${KILLS} kills: p50 ${s.p50.toFixed(0)} ms, p99 ${s.p99.toFixed(0)} ms, max ${s.max.toFixed(0)} ms (load average ${loadavg()[0]!.toFixed(1)})`);
  });
});
