import { before, after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Client } from '@squadron/sdk';
import { startSites, silent, type TestSites } from '@squadron/testkit';
import type { InstanceSupervisor } from '@squadron/agent';

/** What the supervisor tests share: a site's broker, a caller watching it, and a log directory. */
export interface SupervisorHarness {
  sites: TestSites;
  client: Client;
  logRoot: string;
  /** Supervisors made by the tests: every one is stopped (and its instances with it) at the end. */
  supervisors: InstanceSupervisor[];
}

/** Register the suite's before and after hooks; the fields are set once `before` has run. */
export function supervisorHarness(label: string): SupervisorHarness {
  const h = { logRoot: mkdtempSync(join(tmpdir(), `squadron-${label}-`)), supervisors: [] } as unknown as SupervisorHarness;
  before(async () => {
    h.sites = await startSites(['sto']);
    h.client = await connect({ site: 'sto', broker: h.sites.address('sto'), logger: silent });
  });
  after(async () => {
    await Promise.all(h.supervisors.map((s) => s.stopAll(2000)));
    await h.client?.close();
    await h.sites?.stop();
    rmSync(h.logRoot, { recursive: true, force: true });
  });
  return h;
}
