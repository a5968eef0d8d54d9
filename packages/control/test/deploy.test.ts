import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '@squadron/agent';
import { CredentialVerifier, Identity } from '@squadron/identity';
import { ControlClient, ApiError, type InstanceRecordBody } from '@squadron/client';
import { connect, type Client } from '@squadron/sdk';
import { startSites, silent, waitFor, alive, instanceRunner, WORKER_DIR, type TestSites } from '@squadron/testkit';
import { STORES, startControl, type TestControl } from './harness.ts';

/**
 * Deployments end to end, on one machine: the control plane (SQLite), one broker and one agent
 * per site, and every instance a real `squadron run` process the agent started.
 */
for (const store of STORES) describe(`deployments through agents (${store} state store)`, () => {
  let control: TestControl;
  let brokers: TestSites;
  let api: ControlClient;
  let caller: Client;
  const agents: Agent[] = [];
  const logs = mkdtempSync(join(tmpdir(), `squadron-deploy-${store}-`));

  const ready = (list: InstanceRecordBody[], release: number) => list.filter((i) => i.release === release && i.state === 'ready');
  const rolledOut = async (release: number, perSite: Record<string, number>) => {
    let last: InstanceRecordBody[] = [];
    try {
      await waitFor(async () => {
        const { instances } = await api.instances('worker');
        last = instances;
        const want = Object.values(perSite).reduce((a, b) => a + b, 0);
        return instances.length === want && ready(instances, release).length === want
          && Object.entries(perSite).every(([site, n]) => instances.filter((i) => i.site === site).length === n);
      }, `worker release ${release} rolled out as ${JSON.stringify(perSite)}`, 30_000);
    } catch (err) {
      // What the platform showed last, and the agents' view: what a slow rollout was waiting for.
      const agentsNow = (await api.agents()).agents.map((a) => `${a.id} up=${a.up} instances=${a.instances}`);
      const seen = last.map((i) => `${i.id} r${i.release} ${i.site} ${i.state}${i.lastExit ? ` last exit ${JSON.stringify(i.lastExit)}` : ''}`);
      throw new Error(`${(err as Error).message}; instances: ${seen.join('; ')}; agents: ${agentsNow.join('; ')}`);
    }
    return (await api.instances('worker')).instances;
  };

  before(async () => {
    brokers = await startSites(['sto', 'gcp-eu']);
    control = await startControl(store, `deploy_${store}`, undefined, 500);
    for (const site of ['sto', 'gcp-eu']) control.sites.setBroker(site, brokers.address(site));
    const address = await control.app.listen({ host: '127.0.0.1', port: 0 });
    api = new ControlClient({ url: address, token: control.adminToken });
    for (const site of ['sto', 'gcp-eu']) {
      const agent = new Agent({
        control: new ControlClient({ url: address, token: control.adminToken }), site, host: 'test', logger: silent,
        runner: await instanceRunner(), logDir: join(logs, site), drainGraceMs: 10_000,
        env: { SQUADRON_LOG_LEVEL: 'warn' },
      });
      await agent.start();
      agents.push(agent);
    }
    await api.createSquad('tools');
    await api.createService({ name: 'worker', squad: 'tools', repo: 'https://git.example/tools/worker' });
    // Instances check their callers' credentials: the caller gets one, as the CLI does.
    const key = Identity.newKey();
    const { credential } = await api.clientCredential(key.publicJwk, { site: 'sto', name: 'test-caller' });
    caller = await connect({ site: 'sto', broker: brokers.address('sto'), name: 'test-caller', identity: new Identity(credential, key.privateKey) });
  });

  after(async () => {
    await caller?.close();
    await Promise.all(agents.map((a) => a.stop()));
    await control?.close();
    await brokers?.stop();
    rmSync(logs, { recursive: true, force: true });
  });

  it('deploys to two sites; instances report pid, memory and the interface their code declares', async () => {
    const t0 = performance.now();
    const release = await api.deploy('worker', { path: WORKER_DIR, sites: ['sto', 'gcp-eu'], instances: 2 });
    assert.equal(release.number, 1);
    await waitFor(async () => caller.call('worker', 'echo', 'hi', { timeoutMs: 500 }).then(() => true, () => false), 'a first call to succeed', 30_000);
    const firstCallMs = performance.now() - t0;
    const instances = await rolledOut(1, { sto: 2, 'gcp-eu': 2 });
    for (const i of instances) {
      assert.ok(i.pid !== null && alive(i.pid), `${i.id} has a live pid`);
      assert.ok((i.rssBytes ?? 0) > 10 * 1024 * 1024, `${i.id} reports its memory`);
      assert.equal(i.agent?.startsWith(i.site), true);
    }
    const svc = await api.service('worker');
    assert.deepEqual(svc.interface?.methods.sort(), ['boom', 'echo', 'flaky', 'setFlaky', 'spin', 'write'].sort());
    assert.deepEqual(svc.desired, { sto: 2, 'gcp-eu': 2 });
    assert.ok(firstCallMs < 15_000, `first call ${firstCallMs.toFixed(0)} ms after deploy`);

    // Its agent may get it a credential that names what the platform knows of it.
    const placed = instances[0]!;
    const key = Identity.newKey();
    const issued = await api.instanceCredential(placed.agent!, placed.id, key.publicJwk);
    const verifier = new CredentialVerifier({ trust: (await api.jwks()).keys });
    const proof = new Identity(issued.credential, key.privateKey).prove('n');
    const peer = await verifier.verify(proof.credential, proof.proof, 'n');
    assert.deepEqual([peer.role, peer.name, peer.service, peer.squad, peer.site], ['instance', placed.id, 'worker', 'tools', placed.site]);
    // Instances started by agents check who calls them: a caller without a credential is refused.
    const anonymous = await connect({ site: 'sto', broker: brokers.address('sto'), name: 'anonymous', identity: null });
    try {
      await assert.rejects(anonymous.call('worker', 'echo', 'hi', { timeoutMs: 2000 }), (err: { code?: string; message: string }) => {
        assert.equal(err.code, 'AUTH_FAILED', err.message);
        return true;
      });
    } finally {
      await anonymous.close();
    }
    // A revoked credential: the agents pass the list on, and instances refuse it within a second or so.
    const soonKey = Identity.newKey();
    const soon = await api.clientCredential(soonKey.publicJwk, { site: 'sto', name: 'soon-revoked' });
    const soonIdentity = new Identity(soon.credential, soonKey.privateKey);
    const callWith = async () => {
      const c = await connect({ site: 'sto', broker: brokers.address('sto'), name: 'soon-revoked', identity: soonIdentity });
      try {
        return await c.call('worker', 'echo', 'hi', { timeoutMs: 2000 }).then(() => 'ok', (err: { code?: string; details?: { reason?: string } }) => `${err.code}:${err.details?.reason}`);
      } finally {
        await c.close();
      }
    };
    assert.equal(await callWith(), 'ok');
    await api.revokeCredential(soon.id);
    await waitFor(async () => (await callWith()) === 'AUTH_FAILED:revoked', 'instances to refuse the revoked credential', 5000, 100);
    const other = instances.find((i) => i.agent !== placed.agent)!;
    await assert.rejects(api.instanceCredential(placed.agent!, other.id, key.publicJwk), (err: ApiError) => err.code === 'NOT_FOUND');
  });

  it('rolls a new release out under steady load without a single failed call', async () => {
    const oldPids = (await api.instances('worker')).instances.map((i) => i.pid!);
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const load = Array.from({ length: 8 }, async () => {
      while (!stop) {
        try {
          await caller.call('worker', 'echo', { n: ok }, { timeoutMs: 2000 });
          ok++;
        } catch (err) {
          failures.push(`${(err as { code?: string }).code}: ${(err as Error).message}`);
          // A call that fails at once must not starve the timers that end the load (and the test).
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    });
    try {
      await waitFor(() => ok > 200, 'the load to be flowing', 10_000);
      const release = await api.deploy('worker', { path: WORKER_DIR, sites: ['sto', 'gcp-eu'], instances: 2 });
      assert.equal(release.number, 2);
      await rolledOut(2, { sto: 2, 'gcp-eu': 2 });
      const during = ok;
      await waitFor(() => ok > during + 200, 'calls to go on after the rollout', 10_000);
    } finally {
      // Whatever failed, the load ends with the test: it must not run on and hold the file open.
      stop = true;
      await Promise.all(load);
    }
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} calls failed of ${ok + failures.length}`);
    await waitFor(() => oldPids.every((pid) => !alive(pid)), 'every old instance to exit', 20_000);
  });

  it('scales, rolls back to earlier code, and audits each change', async () => {
    await api.scale('worker', { instances: 1, site: 'gcp-eu' });
    await rolledOut(2, { sto: 2, 'gcp-eu': 1 });
    await api.scale('worker', { instances: 3 });
    await rolledOut(2, { sto: 3, 'gcp-eu': 3 });
    const back = await api.rollback('worker');
    assert.deepEqual([back.number, back.rollbackOf, back.path], [3, 1, WORKER_DIR]);
    await rolledOut(3, { sto: 3, 'gcp-eu': 3 });
    const { entries } = await api.audit({ target: 'service:worker' });
    assert.deepEqual(entries.map((e) => e.action).slice(0, 4), ['service.rollback', 'service.scale', 'service.scale', 'service.deploy']);
    // The changes are the admin's; the claims the worker's code made when it first ran are the platform's record.
    assert.ok(entries.filter((e) => e.action.startsWith('service.')).every((e) => e.actor === 'admin'));
  });

  it('refuses more instances than a datacenter site has slots for, changing nothing', async () => {
    await assert.rejects(api.scale('worker', { instances: 5, site: 'sto' }), (err: ApiError) => err.code === 'NO_CAPACITY' && /site 'sto' has 4 free/.test(err.message));
    assert.deepEqual((await api.service('worker')).desired, { sto: 3, 'gcp-eu': 3 });
  });

  it('undeploys: every instance drains and exits', async () => {
    const pids = (await api.instances('worker')).instances.map((i) => i.pid!);
    await api.undeploy('worker');
    await waitFor(async () => (await api.instances('worker')).instances.length === 0, 'no instance left', 20_000);
    await waitFor(() => pids.every((pid) => !alive(pid)), 'every instance process to exit', 20_000);
    assert.equal((await api.service('worker')).release, null);
  });
});
