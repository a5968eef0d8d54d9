import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildControlServer, openStateStore, Sites, validateConfig, type PlatformConfig } from '@squadron/control';
import { ControlClient } from '@squadron/client';
import { startSites, silent, waitFor, alive, freePort, instanceRunner, WORKER_DIR, type TestSites } from '@squadron/testkit';
import { Agent, AgentError } from '@squadron/agent';

const TOKEN = 'sqa_agent-test-admin';

/**
 * The agent against a real control plane (in this process, on a SQLite file), one that can be
 * stopped and started again on the same port and store, as a control-plane restart would.
 */
describe('Agent against the control plane', () => {
  let sites: TestSites;
  const dir = mkdtempSync(join(tmpdir(), 'squadron-agent-'));
  const agents: Agent[] = [];
  const controls: FastifyInstance[] = [];

  async function startControl(port: number, store: string, broker: string | null): Promise<{ app: FastifyInstance; api: ControlClient }> {
    const siteList = new Sites(validateConfig({ sites: [{ name: 'sto', kind: 'datacenter', slots: 4 }] }) as PlatformConfig);
    if (broker) siteList.setBroker('sto', broker);
    const app = await buildControlServer({ sites: siteList, db: await openStateStore(store), adminToken: TOKEN, logger: silent, agentReportEveryMs: 400 });
    controls.push(app);
    await app.listen({ host: '127.0.0.1', port });
    return { app, api: new ControlClient({ url: `http://127.0.0.1:${port}`, token: TOKEN }) };
  }

  let runner: Awaited<ReturnType<typeof instanceRunner>>;
  const startAgent = (port: number, name: string) => {
    const agent = new Agent({
      control: new ControlClient({ url: `http://127.0.0.1:${port}`, token: TOKEN, timeoutMs: 2000 }),
      site: 'sto', host: 'test-host',
      runner,
      logDir: join(dir, name), logger: silent, drainGraceMs: 5000,
      retry: { minMs: 20, maxMs: 200 },
      env: { SQUADRON_LOG_LEVEL: 'warn' },
    });
    agents.push(agent);
    return agent;
  };

  async function deployWorker(api: ControlClient): Promise<void> {
    await api.createSquad('tools');
    await api.createService({ name: 'worker', squad: 'tools' });
    await api.deploy('worker', { path: WORKER_DIR, sites: ['sto'], instances: 1 });
  }

  before(async () => {
    runner = await instanceRunner();
    sites = await startSites(['sto']);
  });

  after(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await Promise.all(controls.map((c) => c.close()));
    await sites.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps its instances running through a control-plane restart, and picks up where it left off', async () => {
    const port = await freePort();
    const store = join(dir, 'restart.db');
    const first = await startControl(port, store, sites.address('sto'));
    const agent = startAgent(port, 'restart');
    const id = await agent.start();
    await deployWorker(first.api);
    const ready = await waitFor(async () => (await first.api.instances('worker')).instances.find((i) => i.state === 'ready'), 'the instance ready', 20_000);

    await first.app.close();
    // While the control plane is away, nothing happens to the instance.
    await waitFor(async () => {
      const now = agent.supervisor.snapshot()[0];
      return now?.state === 'ready' && now.pid === ready.pid && alive(ready.pid!);
    }, 'the instance still ready', 2000);

    const second = await startControl(port, store, sites.address('sto'));
    // The same agent, the same instance: reported again, not restarted.
    const again = await waitFor(async () => (await second.api.instances('worker')).instances.find((i) => i.state === 'ready'), 'the instance reported to the new control plane', 10_000);
    assert.equal(again.id, ready.id);
    assert.equal(again.pid, ready.pid);
    assert.equal(again.agent, id);
    assert.equal(again.restarts, 0);
    await second.api.scale('worker', { instances: 2 });
    await waitFor(async () => (await second.api.instances('worker')).instances.filter((i) => i.state === 'ready').length === 2, 'a second instance placed after the restart', 20_000);
    await agent.stop();
    assert.deepEqual(agent.supervisor.ids(), []);
    assert.ok(!alive(ready.pid!), 'stop() drains every instance');
  });

  it('registers again when the control plane forgot it, and runs only what the new one assigns', async () => {
    const port = await freePort();
    const first = await startControl(port, join(dir, 'forgot-1.db'), sites.address('sto'));
    const agent = startAgent(port, 'forgot');
    const firstId = await agent.start();
    await deployWorker(first.api);
    const ready = await waitFor(async () => (await first.api.instances('worker')).instances.find((i) => i.state === 'ready'), 'the instance ready', 20_000);
    await first.app.close();

    // A control plane with an empty store: it does not know the agent (404), so the agent
    // registers again; nothing is placed there, so the old instance drains.
    const second = await startControl(port, join(dir, 'forgot-2.db'), sites.address('sto'));
    await waitFor(async () => (await second.api.agents()).agents.length === 1, 'the agent registered again', 10_000);
    assert.notEqual(agent.id, firstId);
    await waitFor(() => !alive(ready.pid!), 'the unassigned instance to drain', 15_000);
    await agent.stop();
  });

  it('retries registering until the control plane is up, and starts nothing until the site\'s broker is known', async () => {
    const port = await freePort();
    const agent = startAgent(port, 'late');
    const started = agent.start();
    const { api } = await startControl(port, join(dir, 'late.db'), null);
    await started;
    await deployWorker(api);
    await waitFor(async () => (await api.instances('worker')).instances.length === 1, 'the instance placed');
    assert.deepEqual(agent.supervisor.ids(), [], 'nothing starts without a broker');
    await api.setBroker('sto', sites.address('sto'));
    await waitFor(async () => (await api.instances('worker')).instances[0]?.state === 'ready', 'the instance ready once the broker is known', 20_000);
    await agent.stop();
  });

  it('start() fails with AgentError STOPPED when stopped before it could register', async () => {
    const agent = startAgent(await freePort(), 'never');
    const started = agent.start();
    await agent.stop();
    await assert.rejects(started, (err: unknown) => err instanceof AgentError && err.code === 'STOPPED');
  });
});
