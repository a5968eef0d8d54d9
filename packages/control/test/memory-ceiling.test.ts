import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AssignmentsBody, ErrorBody, InstanceRecordBody, ReleaseBody } from '@squadron/client';
import { WORKER_DIR } from '@squadron/testkit';
import { STORES, startControl, type TestControl } from './harness.ts';

/**
 * An instance's memory ceiling through the API: given on deploy (or the default), validated,
 * kept with the release, sent to the agents, shown with the instances; and what the agents say
 * of it (an exit for memory, a demotion, a restart delay) shown back.
 */
for (const store of STORES) {
  describe(`memory ceilings (${store} state store)`, () => {
    let c: TestControl;
    let agent = '';
    const call = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
      c.app.inject({ method, url, headers: c.as(c.adminToken), ...(payload !== undefined ? { payload: payload as object } : {}) });
    const releases = async () => ((await call('GET', '/v1/services/cache/releases')).json() as { releases: ReleaseBody[] }).releases;
    const assignments = async () => (await call('GET', `/v1/agents/${agent}/assignments`)).json() as AssignmentsBody;
    const deploy = (body: object) => call('POST', '/v1/services/cache/releases', { path: WORKER_DIR, sites: ['sto'], instances: 1, ...body });

    before(async () => {
      c = await startControl(store, `memory_${store}`);
      agent = ((await call('POST', '/v1/agents', { site: 'sto', host: 'h' })).json() as { id: string }).id;
      await call('POST', '/v1/squads', { name: 'infra' });
      await call('POST', '/v1/services', { name: 'cache', squad: 'infra' });
    });
    after(async () => c.close());

    it('keeps 256 MB by default, or what the deploy asked for, and sends it to the agent', async () => {
      const first = await deploy({});
      assert.equal(first.statusCode, 201, first.body);
      assert.equal((first.json() as ReleaseBody).maxMemoryMb, 256);
      const second = await deploy({ maxMemoryMb: 1024 });
      assert.equal((second.json() as ReleaseBody).maxMemoryMb, 1024);
      assert.deepEqual((await releases()).map((r) => [r.number, r.maxMemoryMb]), [[2, 1024], [1, 256]]);
      // Nothing became ready, so the old instance stays beside the new one, each with its own.
      const byRelease = (list: Array<{ release: number; maxMemoryMb: number }>) => list.map((a) => [a.release, a.maxMemoryMb]).sort(([a], [b]) => a! - b!);
      assert.deepEqual(byRelease((await assignments()).instances), [[1, 256], [2, 1024]]);
      const { instances } = (await call('GET', '/v1/services/cache/instances')).json() as { instances: InstanceRecordBody[] };
      assert.deepEqual(byRelease(instances), [[1, 256], [2, 1024]]);
    });

    it('refuses a ceiling that is not a whole number of MB from 128 to 65536, writing nothing', async () => {
      const before = (await releases()).length;
      for (const maxMemoryMb of [0, 64, 127, 65_537, 256.5, '256', '256MB', null, -1]) {
        const res = await deploy({ maxMemoryMb });
        assert.equal(res.statusCode, 400, `${JSON.stringify(maxMemoryMb)}: ${res.body}`);
        const { error } = res.json() as ErrorBody;
        assert.equal(error.code, 'BAD_REQUEST');
        assert.deepEqual(error.fields?.map((f) => f.path), ['/maxMemoryMb']);
      }
      assert.equal((await releases()).length, before);
      assert.equal((await deploy({ maxMemoryMb: 128 })).statusCode, 201);
      assert.equal((await deploy({ maxMemoryMb: 65_536 })).statusCode, 201);
    });

    it('rolls back to earlier code with the ceiling it ran under', async () => {
      const back = (await call('POST', '/v1/services/cache/rollback', { to: 2 })).json() as ReleaseBody;
      assert.deepEqual([back.rollbackOf, back.maxMemoryMb], [2, 1024]);
    });

    it('shows what the agent reports: the exit for memory, a demotion, when a crashed instance restarts', async () => {
      const placed = (await assignments()).instances.at(0);
      const exit = { code: null, signal: 'SIGKILL', at: 1000, reason: 'memory-limit' };
      const report = { id: placed!.id, state: 'crashed', pid: null, rssBytes: null, cpuPercent: null, restarts: 1, crashLoop: false, lastExit: exit, readyAt: null, demoted: true, restartAt: 1100 };
      const res = await call('POST', `/v1/agents/${agent}/report`, { instances: [report] });
      assert.equal(res.statusCode, 200, res.body);
      const { instances } = (await call('GET', '/v1/services/cache/instances')).json() as { instances: InstanceRecordBody[] };
      const shown = instances.find((i) => i.id === placed!.id)!;
      assert.deepEqual([shown.lastExit, shown.demoted, shown.restartAt], [exit, true, 1100]);
      const unknown = await call('POST', `/v1/agents/${agent}/report`, { instances: [{ ...report, lastExit: { ...exit, reason: 'tired' } }] });
      assert.equal(unknown.statusCode, 400);
    });
  });
}
