import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silent, waitFor, alive, SQUADRON_BIN } from '@squadron/testkit';
import { CpuWatch, DEFAULT_CPU_INSULATION, InstanceSupervisor, heapCapMb, type InstanceChange, type SupervisorOptions } from '@squadron/agent';
import { supervisorHarness } from './supervisor-harness.ts';
import { MemoryWatch, diedOfHeapLimit } from '../src/memory-ceiling.ts';
import { mayRaisePriority, setProcessNiceness } from '../src/cpu-insulation.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/isolation/', import.meta.url));

/** The nice value of every thread of a process, its main thread first (field 19 of /proc/PID/task/TID/stat). */
function niceness(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).sort((a, b) => (Number(a) === pid ? -1 : Number(b) === pid ? 1 : 0)).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

const BASE = getPriority();
/** Giving a priority back needs CAP_SYS_NICE (or a generous RLIMIT_NICE); without it demotions stick. */
const MAY_RAISE = mayRaisePriority(BASE);

describe('insulation policies', () => {
  it('demotes after samples in a row over the threshold, and restores after calm ones', () => {
    const w = new CpuWatch({ ...DEFAULT_CPU_INSULATION, demoteAfterSamples: 2, restoreAfterSamples: 3 });
    assert.deepEqual([95, 30, 95, 100].map((p) => w.observe(p)), [null, null, null, 'demote']);
    assert.equal(w.isDemoted, true);
    // Between the thresholds, and a calm spell cut short: still demoted.
    assert.deepEqual([60, 10, 10, 90, 10, 10].map((p) => w.observe(p)), [null, null, null, null, null, null]);
    assert.equal(w.observe(10), 'restore');
    assert.equal(w.isDemoted, false);
  });

  it('kills for memory only after samples in a row over the ceiling', () => {
    const w = new MemoryWatch(100, 3);
    assert.deepEqual([101, 101, 99, 101, null, 101, 101].map((rss) => w.observe(rss)), [false, false, false, false, false, false, true]);
  });

  it('caps the heap below the ceiling, leaving room for the rest', () => {
    assert.deepEqual([128, 160, 256, 1024].map(heapCapMb), [64, 96, 192, 960]);
  });

  it('reads V8\'s out-of-memory report in the last run of a log only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'squadron-heap-log-'));
    try {
      const log = join(dir, 'i.log');
      const oom = 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n';
      writeFileSync(log, `--- 2026-01-01 starting i (restarts: 0)\nhello\n${oom}`);
      assert.equal(diedOfHeapLimit(log), true);
      writeFileSync(log, `--- 2026-01-01 starting i (restarts: 0)\n${oom}--- 2026-01-01 starting i (restarts: 1)\nAborted\n`);
      assert.equal(diedOfHeapLimit(log), false);
      assert.equal(diedOfHeapLimit(join(dir, 'missing.log')), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sets the nice value of every thread of a process', { skip: process.platform !== 'linux' }, async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      await waitFor(() => niceness(child.pid!).length > 1, 'the child\'s threads');
      setProcessNiceness(child.pid!, 19);
      assert.ok(niceness(child.pid!).every((n) => n === 19), `threads at ${niceness(child.pid!).join(', ')}`);
      if (MAY_RAISE) {
        setProcessNiceness(child.pid!, BASE);
        assert.ok(niceness(child.pid!).every((n) => n === BASE));
      } else {
        assert.throws(() => setProcessNiceness(child.pid!, BASE), (err: { info?: { code?: string } }) => err.info?.code === 'EACCES');
      }
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('the supervisor keeps instances to their share', { skip: process.platform !== 'linux' }, () => {
  const h = supervisorHarness('insulation');

  /** A supervisor recording changes, demotions, and the nice value of each process as it starts. */
  const supervise = (name: string, extra: Partial<SupervisorOptions> = {}) => {
    const changes: InstanceChange[] = [];
    const demotions: boolean[] = [];
    const startedAt: number[] = [];
    const sup: InstanceSupervisor = new InstanceSupervisor({
      runner: { script: SQUADRON_BIN, execArgv: [] },
      logDir: join(h.logRoot, name),
      env: { SQUADRON_LOG_LEVEL: 'warn' },
      logger: silent,
      ...extra,
      onChange: (c) => {
        changes.push(c);
        if (c.to === 'starting') startedAt.push(niceness(sup.snapshot().find((i) => i.id === c.id)!.pid!)[0]!);
      },
      onDemotion: (_id, demoted) => demotions.push(demoted),
    });
    h.supervisors.push(sup);
    return { sup, changes, demotions, startedAt };
  };
  const spec = (id: string, service: string, maxMemoryMb?: number) => ({
    id, path: join(FIXTURES, service), site: 'sto', broker: h.sites.address('sto'), ...(maxMemoryMb ? { maxMemoryMb } : {}),
  });
  /** Ready, and seen by the caller. */
  const ready = (sup: InstanceSupervisor, id: string, service: string) => waitFor(() => {
    const i = sup.snapshot().find((x) => x.id === id);
    return i?.state === 'ready' && h.client.instances(service).some((x) => x.id === id) ? i : null;
  }, `${id} ready`, 20_000);

  it('kills an instance whose resident memory stays above its ceiling, says why, and starts it again below normal priority', async () => {
    const { sup, changes, startedAt } = supervise('rss', { insulation: { sampleEveryMs: 100 } });
    sup.start(spec('leaker-rss', 'leaker', 128));
    const first = await ready(sup, 'leaker-rss', 'leaker');
    // Past the ceiling in a few calls; the calls after the kill fail, which is the point.
    await waitFor(async () => {
      await h.client.call('leaker', 'leak', { mb: 8 }, { timeoutMs: 1000 }).catch(() => null);
      return changes.some((c) => c.to === 'crashed');
    }, 'the leaker killed', 15_000, 20);
    const crash = changes.find((c) => c.to === 'crashed')!;
    assert.deepEqual([crash.exit?.signal, crash.exit?.reason], ['SIGKILL', 'memory-limit']);
    assert.ok(!alive(first.pid!));
    const again = await ready(sup, 'leaker-rss', 'leaker');
    assert.notEqual(again.pid, first.pid);
    assert.equal(again.lastExit?.reason, 'memory-limit');
    assert.equal(again.restarts, 1);
    // A first start at normal priority; the restart after the crash below it where it may be
    // raised again, and at normal priority once ready.
    assert.deepEqual(startedAt, [BASE, MAY_RAISE ? DEFAULT_CPU_INSULATION.startingNiceness : BASE]);
    assert.ok(niceness(again.pid!).every((n) => n === BASE), `threads at ${niceness(again.pid!).join(', ')}`);
  });

  it('caps the V8 heap below the ceiling: a leak of objects ends in V8\'s own out-of-memory abort', async () => {
    // The resident memory check is held off, so that only the heap cap can stop it.
    const { sup, changes } = supervise('heap', { insulation: { memoryOverSamples: 1_000_000 } });
    sup.start(spec('leaker-heap', 'leaker', 128));
    await ready(sup, 'leaker-heap', 'leaker');
    await waitFor(async () => {
      await h.client.call('leaker', 'heap', { mb: 8 }, { timeoutMs: 5000 }).catch(() => null);
      return changes.some((c) => c.to === 'crashed');
    }, 'the leaker out of heap', 20_000, 20);
    const crash = changes.find((c) => c.to === 'crashed')!;
    assert.deepEqual([crash.exit?.signal, crash.exit?.reason], ['SIGABRT', 'heap-limit']);
    await sup.drain('leaker-heap', 2000);
  });

  it('demotes an instance that spins the CPU to the lowest priority, and gives it back once it calms down', async () => {
    const { sup, demotions } = supervise('cpu', { insulation: { sampleEveryMs: 100 } });
    sup.start(spec('spinner-1', 'spinner'));
    const { pid } = await ready(sup, 'spinner-1', 'spinner');
    assert.ok(niceness(pid!).every((n) => n === BASE), `threads at ${niceness(pid!).join(', ')}`);
    let spinning = true;
    const spins = (async () => {
      while (spinning) await h.client.call('spinner', 'spin', { ms: 100 }, { timeoutMs: 5000 });
    })();
    await waitFor(() => sup.snapshot()[0]?.demoted, 'the spinner demoted', 10_000);
    assert.ok(niceness(pid!).every((n) => n === 19), `threads at ${niceness(pid!).join(', ')}`);
    spinning = false;
    await spins;
    if (MAY_RAISE) {
      await waitFor(() => sup.snapshot()[0]?.demoted === false, 'the spinner restored', 10_000);
      assert.ok(niceness(pid!).every((n) => n === BASE));
      assert.deepEqual(demotions, [true, false]);
    } else {
      // Without the privilege to raise it again, it stays demoted until it restarts.
      assert.deepEqual(demotions, [true]);
    }
    await sup.drain('spinner-1', 2000);
  });
});
