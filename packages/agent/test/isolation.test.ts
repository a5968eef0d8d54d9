import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildControlServer, openStateStore, Sites, validateConfig, type PlatformConfig } from '@squadron/control';
import { ControlClient, type InstanceRecordBody } from '@squadron/client';
import { Identity } from '@squadron/identity';
import { connect, type Client } from '@squadron/sdk';
import { startSites, silent, waitFor, instanceRunner, type TestSites } from '@squadron/testkit';
import { Agent } from '@squadron/agent';

const TOKEN = 'sqa_isolation-test-admin';
const FIXTURES = fileURLToPath(new URL('./fixtures/isolation/', import.meta.url));
const PROBE = join(FIXTURES, 'probe.ts');

/** Calls per measurement: p99 is then the 40th slowest, not one unlucky call. */
const CALLS = 4000;
const GAP_MS = 1;
/** The leaker's ceiling: an idle instance (the runner and tsx loaded) sits near 95 MiB. */
const LEAKER_MB = 160;

interface Measured {
  latencies: number[];
  failures: string[];
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const summary = (m: Measured) => {
  const s = [...m.latencies].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99), max: s.at(-1)! };
};
const ms = (n: number) => `${n.toFixed(2)} ms`;

/**
 * Every feature runs in its own process, so one misbehaving service cannot take another down.
 * In one run, on one site of a real control plane, agent and broker: a CPU spinner, a memory
 * leaker, a crash loop and a slow service beside a healthy service, whose latency a caller in a
 * process of its own measures alone first, then with the others misbehaving.
 */
describe('isolation: misbehaving services beside a healthy one', () => {
  let sites: TestSites;
  let app: FastifyInstance;
  let api: ControlClient;
  let agent: Agent;
  let caller: Client;
  let probe: ChildProcess | null = null;
  let probeReady: Promise<unknown>;
  const dir = mkdtempSync(join(tmpdir(), 'squadron-isolation-'));

  before(async () => {
    sites = await startSites(['sto']);
    const siteList = new Sites(validateConfig({ sites: [{ name: 'sto', kind: 'datacenter', slots: 16 }] }) as PlatformConfig);
    siteList.setBroker('sto', sites.address('sto'));
    app = await buildControlServer({ sites: siteList, db: await openStateStore(join(dir, 'state.db')), adminToken: TOKEN, logger: silent, agentReportEveryMs: 1000 });
    // Reports every second (taken for dead after three missed): this test is about instances, and right
    // after the rest of the suite a two-core machine can hold the agent up past a 1.5 s window.
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    api = new ControlClient({ url, token: TOKEN });
    agent = new Agent({
      control: new ControlClient({ url, token: TOKEN }), site: 'sto', host: 'test', logger: silent,
      runner: await instanceRunner(), logDir: join(dir, 'logs'), drainGraceMs: 2000,
      env: { SQUADRON_LOG_LEVEL: 'warn' },
    });
    await agent.start();
    await api.createSquad('chaos');
    for (const name of ['healthy', 'spinner', 'leaker', 'crash-looper', 'slow']) await api.createService({ name, squad: 'chaos' });
    const key = Identity.newKey();
    const { credential } = await api.clientCredential(key.publicJwk, { site: 'sto', name: 'load' });
    caller = await connect({ site: 'sto', broker: sites.address('sto'), name: 'load', identity: new Identity(credential, key.privateKey) });
    probe = fork(PROBE, [], {
      execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, SQUADRON_URL: url, SQUADRON_TOKEN: TOKEN, SQUADRON_LOG_LEVEL: 'warn' },
    });
    // Listened for at once: the probe says it is connected as soon as it is.
    probeReady = fromProbe('ready');
    probeReady.catch(() => {}); // awaited in the test; a failure there, not as an unhandled rejection
  });

  after(async () => {
    if (probe?.connected) probe.disconnect(); // it closes its client and exits
    await caller?.close();
    await agent?.stop();
    await app?.close();
    await sites?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The probe's next answer of type `type`; a probe that is gone, or silent for a minute, fails the test at once. */
  const fromProbe = <T>(type: string) => new Promise<T>((resolve, reject) => {
    if (probe!.exitCode !== null || probe!.signalCode !== null) return reject(new Error(`the probe exited (${probe!.exitCode ?? probe!.signalCode}) before answering '${type}'`));
    const done = () => {
      clearTimeout(timer);
      probe!.off('message', onMessage);
      probe!.off('exit', onExit);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`the probe did not answer '${type}' within 60 s`));
    }, 60_000);
    const onExit = (code: number | null) => {
      done();
      reject(new Error(`the probe exited (${code}) before answering '${type}'`));
    };
    const onMessage = (m: { type?: string }) => {
      if (m?.type !== type) return;
      done();
      resolve(m as T);
    };
    probe!.once('exit', onExit);
    probe!.on('message', onMessage);
  });
  const measure = (calls: number) => {
    const answer = fromProbe<Measured>('measured');
    probe!.send({ type: 'measure', calls, gapMs: GAP_MS });
    return answer;
  };
  const instanceOf = async (service: string): Promise<InstanceRecordBody | undefined> => (await api.instances(service)).instances[0];
  const readyOnes = async (services: string[]) => {
    for (const s of services) if ((await instanceOf(s))?.state !== 'ready') return false;
    return true;
  };

  it('keeps the healthy service within twice its p99 with no failed call; the leaker is killed at its ceiling, the spinner demoted, the crash loop backs off', async (t) => {
    await api.deploy('healthy', { path: join(FIXTURES, 'healthy'), sites: ['sto'], instances: 1 });
    await api.deploy('spinner', { path: join(FIXTURES, 'spinner'), sites: ['sto'], instances: 1 });
    await api.deploy('leaker', { path: join(FIXTURES, 'leaker'), sites: ['sto'], instances: 1, maxMemoryMb: LEAKER_MB });
    await api.deploy('slow', { path: join(FIXTURES, 'slow'), sites: ['sto'], instances: 1 });
    await waitFor(() => readyOnes(['healthy', 'spinner', 'leaker', 'slow']), 'the services ready', 20_000, 50);
    await probeReady;

    // Alone: the others idle, the caller warmed up.
    await measure(500);
    const baseline = await measure(CALLS);

    // Now the others misbehave, each in its own way.
    await api.deploy('crash-looper', { path: join(FIXTURES, 'crash-looper'), sites: ['sto'], instances: 1 });
    let loading = true;
    const counts = { spin: 0, leak: 0, wait: 0 };
    const pace = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    /** `callers` loops calling one service until the load stops; its failures (restarts) do not count. */
    const hammer = (callers: number, service: string, method: string, req: object, done: () => void, gapMs = 0) => Array.from({ length: callers }, async () => {
      while (loading) {
        try {
          await caller.call(service, method, req, { timeoutMs: 10_000 });
          done();
          if (gapMs > 0) await pace(gapMs);
        } catch {
          await pace(50);
        }
      }
    });
    // The crash loop's restart delays, as `squadron instances` shows them while it waits; and
    // whether the agent ever took the healthy service for a hog (read in this process: cheaper).
    const delays = new Map<number, number>();
    let healthyDemoted = false;
    const watch = async () => {
      while (loading) {
        const i = await instanceOf('crash-looper').catch(() => undefined);
        if (i?.lastExit && i.restartAt !== null) delays.set(i.lastExit.at, i.restartAt - i.lastExit.at);
        healthyDemoted ||= agent.supervisor.snapshot().some((x) => x.id.startsWith('healthy-') && x.demoted);
        await pace(50);
      }
    };
    const load = [
      ...hammer(4, 'spinner', 'spin', { ms: 200 }, () => counts.spin++),
      // About 20 MiB a second, a leak that reaches its ceiling a few seconds after each start.
      ...hammer(1, 'leaker', 'leak', { mb: 1 }, () => counts.leak++, 50),
      ...hammer(16, 'slow', 'wait', { ms: 2000 }, () => counts.wait++),
      watch(),
    ];
    let spinner: InstanceRecordBody;
    let loaded: Measured;
    let leaker: InstanceRecordBody;
    try {
      // Measured once the agent has acted on the spinner (half a second of samples); the leaker
      // and the crash loop go on dying and starting during the measurement.
      spinner = await waitFor(async () => ((await instanceOf('spinner'))?.demoted ? instanceOf('spinner') : null), 'the spinner demoted', 10_000, 50);
      loaded = await measure(CALLS);
      leaker = await waitFor(async () => {
        const i = await instanceOf('leaker');
        return i?.lastExit?.reason === 'memory-limit' && i.state === 'ready' && i.restarts >= 1 ? i : null;
      }, 'the leaker killed at its ceiling and back', 15_000, 50);
      await waitFor(() => delays.size >= 5, 'five restarts of the crash loop', 15_000, 50);
    } finally {
      loading = false;
      await Promise.all(load);
    }

    const b = summary(baseline);
    const l = summary(loaded);
    const backoff = [...delays.entries()].sort(([a], [c]) => a - c).map(([, d]) => d);
    t.diagnostic(`healthy alone: p50 ${ms(b.p50)}, p99 ${ms(b.p99)}, max ${ms(b.max)}; beside the others: p50 ${ms(l.p50)}, p99 ${ms(l.p99)}, max ${ms(l.max)} (${(l.p99 / b.p99).toFixed(2)}x)`);
    t.diagnostic(`spinner ${spinner.cpuPercent}% CPU when demoted, ${counts.spin} spins; leaker restarted ${leaker.restarts} times, ${counts.leak} leaks; ${counts.wait} slow replies; crash loop delays ${backoff.join(', ')} ms; load average ${loadavg()[0]!.toFixed(1)}`);

    assert.deepEqual(baseline.failures, []);
    assert.deepEqual(loaded.failures, [], `${loaded.failures.length} healthy calls failed`);
    // Twice the baseline, or a millisecond over it where the baseline is under one: on two cores
    // the kernel's work for the leaker (its page faults, and freeing its memory when it is killed)
    // adds up to about that to a quiet machine's sub-millisecond tail, whatever the priorities.
    const bound = Math.max(2 * b.p99, b.p99 + 1);
    assert.ok(l.p99 <= bound, `healthy p99 ${ms(l.p99)} beside the others, ${ms(b.p99)} alone: over ${ms(bound)}`);
    assert.equal(healthyDemoted, false, 'the healthy service was demoted');
    assert.equal(leaker.maxMemoryMb, LEAKER_MB);
    assert.ok(counts.spin > 0 && counts.leak > 0 && counts.wait > 0, `every misbehaving service was called: ${JSON.stringify(counts)}`);
    // Each restart of the crash loop waited longer than the one before (twice, unless a reading was missed).
    assert.ok(backoff.length >= 5);
    backoff.slice(1).forEach((d, i) => assert.ok(d >= 2 * backoff[i]!, `restart delays ${backoff.join(', ')} ms`));
    assert.equal((await instanceOf('crash-looper'))?.crashLoop, true);
  });
});
