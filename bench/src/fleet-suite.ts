// Many idle services on one machine: FLEET services (default 100) deployed, then their memory
// and the platform's idle CPU, beside as many bare Node servers (the floor). One run will do:
// first round only. BENCH_FLEET_SERVICES sets the count.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Child } from './spawn.ts';
import { failedRow, type Row } from './row.ts';
import type { Suite } from './suites.ts';

const MB = 1024 * 1024;
const IDLE_MS = 20_000;

export const fleetSuite: Suite = {
  tags: ['squadron', 'deploy', 'fleet'],
  firstRoundOnly: true,
  run: async (ctx) => {
    const services = Number(process.env.BENCH_FLEET_SERVICES ?? 100);
    const dataDir = await mkdtemp(join(ctx.tmpDir, 'fleet-'));
    const probe = new Child('squadron fleet probe', 'squadron-fleet', 'probe', { services, dataDir, idleMs: IDLE_MS });
    try {
      const { result: r } = await probe.next('fleet', 900_000);
      ctx.progress(`fleet of ${services}: all answering ${(r.deployAllMs / 1000).toFixed(1)} s, ${(r.instanceRssBytes / MB).toFixed(1)} MB per instance (floor ${(r.floor.rssBytes / MB).toFixed(1)} MB), idle CPU ${r.idleCpuPercent.toFixed(1)}% (floor ${r.floor.idleCpuPercent.toFixed(1)}%)`);
      const rows: Row[] = [
        {
          system: 'squadron', scenario: 'fleet', status: 'ok', count: services, elapsedMs: r.deployAllMs, rssBytes: r.instanceRssBytes, idleCpuPercent: r.idleCpuPercent,
          note: `${services} services deployed with squadron deploy --no-wait (4 at once): commands done in ${(r.deployCommandsMs / 1000).toFixed(1)} s, every instance answering in ${(r.deployAllMs / 1000).toFixed(1)} s; `
            + `idle instance RSS mean ${(r.instanceRssBytes / MB).toFixed(1)} MB (largest ${(r.instanceRssMaxBytes / MB).toFixed(1)} MB); whole platform idle CPU ${r.idleCpuPercent.toFixed(2)}% of a core over ${IDLE_MS / 1000} s`,
        },
        {
          system: 'node-floor', scenario: 'fleet', status: 'ok', count: services, elapsedMs: r.floor.readyAllMs, rssBytes: r.floor.rssBytes, idleCpuPercent: r.floor.idleCpuPercent,
          note: `${services} bare node TCP servers started (4 at once) and answering in ${(r.floor.readyAllMs / 1000).toFixed(1)} s; RSS mean ${(r.floor.rssBytes / MB).toFixed(1)} MB (largest ${(r.floor.rssMaxBytes / MB).toFixed(1)} MB); idle CPU ${r.floor.idleCpuPercent.toFixed(2)}%`,
        },
      ];
      return rows;
    } catch (err) {
      return [failedRow('squadron', 'fleet', err)];
    } finally {
      await probe.stop(30_000);
      await rm(dataDir, { recursive: true, force: true });
    }
  },
};
