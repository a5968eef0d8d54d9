// Deploy to first call: the time from `squadron deploy` of a small service (one method) to its
// first successful call, on `squadron up` with its datacenter site; beside the same through the
// API (no CLI start-up) and the floor, the runner started by hand with the broker's address.
// Every process starts cold, so one round of several deploys will do: first round only.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Child } from './spawn.ts';
import { failedRow, type Row, type SystemId } from './row.ts';
import { READY_MS, type Suite } from './suites.ts';

const ROUNDS = 5;

function row(system: SystemId, times: number[]): Row {
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return {
    system, scenario: 'deploy', status: 'ok', count: times.length,
    p50Us: median * 1000, maxUs: sorted[sorted.length - 1]! * 1000,
    note: `${times.length} deploys of a fresh service: ${times.map((t) => `${(t / 1000).toFixed(2)} s`).join(', ')}`,
  };
}

export const deploySuite: Suite = {
  tags: ['squadron', 'deploy'],
  firstRoundOnly: true,
  run: async (ctx) => {
    const dataDir = await mkdtemp(join(ctx.tmpDir, 'deploy-'));
    const probe = new Child('squadron deploy probe', 'squadron-deploy', 'probe', { rounds: ROUNDS, dataDir });
    try {
      const { result } = await probe.next('deployed', READY_MS * 3 + ROUNDS * 30_000);
      const rows = [row('squadron-cli', result.deployMs), row('squadron-api', result.apiMs), row('squadron-run', result.floorMs)];
      ctx.progress(`deploy → first call: CLI median ${(rows[0]!.p50Us! / 1e6).toFixed(2)} s, API ${(rows[1]!.p50Us! / 1e6).toFixed(2)} s, runner by hand ${(rows[2]!.p50Us! / 1e6).toFixed(2)} s`);
      return rows;
    } catch (err) {
      return [failedRow('squadron-cli', 'deploy', err)];
    } finally {
      await probe.stop(15_000);
      await rm(dataDir, { recursive: true, force: true });
    }
  },
};
