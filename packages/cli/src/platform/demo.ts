import { readdirSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ApiError, type ControlClient, type GrantRequest } from '@squadron/client';
import { parseRate } from '@squadron/policy';

/** The demo organisation's services: every folder of examples/ with an entry file. */
export const EXAMPLES_DIR = fileURLToPath(new URL('../../../../examples/', import.meta.url));

export function demoServices(dir = EXAMPLES_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && ['index.ts', 'index.mjs', 'index.js'].some((f) => existsSync(join(dir, d.name, f))))
    .map((d) => join(dir, d.name))
    .sort();
}

/** One service to have running: who owns it, where its folder is, and who may use it. */
export interface Seed {
  squad: string;
  service: string;
  description?: string;
  path: string;
  access?: 'open' | 'restricted';
  grants?: Array<{ caller: string } & GrantRequest>;
}

/** A grant as squads.yaml writes it: the rate as people write it (`200/s`). */
type GrantEntry = { caller: string; rate?: string } & Omit<GrantRequest, 'ratePerSecond'>;

interface SquadsFile {
  squads?: Array<{ name: string; services?: Array<{ name: string; description?: string; access?: 'open' | 'restricted'; grants?: GrantEntry[] }> }>;
}

/** The demo's squads and services, from examples/squads.yaml. */
export function demoSeeds(dir = EXAMPLES_DIR): Seed[] {
  const file = parse(readFileSync(join(dir, 'squads.yaml'), 'utf8')) as SquadsFile;
  return (file.squads ?? []).flatMap((s) => (s.services ?? []).map((svc) => ({
    squad: s.name, service: svc.name, path: join(dir, svc.name), ...(svc.description ? { description: svc.description } : {}),
    ...(svc.access ? { access: svc.access } : {}),
    ...(svc.grants ? { grants: svc.grants.map(({ rate, ...g }) => ({ ...g, ...(rate ? { ratePerSecond: parseRate(rate) } : {}) })) } : {}),
  })));
}

const exists = (err: unknown) => err instanceof ApiError && err.code === 'CONFLICT';

/**
 * Create the squads and services, set who may use them, and deploy each to every site, through
 * the public API as any squad would. Policies go first, so that no instance starts refused.
 * Already there from an earlier run: left as it is (grants given again replace themselves), and
 * deployed only if it runs nothing or runs another folder.
 */
export async function seed(api: ControlClient, seeds: Seed[], sites: string[], instances = 1): Promise<void> {
  for (const squad of new Set(seeds.map((s) => s.squad))) {
    await api.createSquad(squad).catch((err: unknown) => { if (!exists(err)) throw err; });
  }
  await Promise.all(seeds.map((s) => api.createService({ name: s.service, squad: s.squad, ...(s.description ? { description: s.description } : {}) })
    .catch((err: unknown) => { if (!exists(err)) throw err; })));
  for (const s of seeds) {
    if (s.access) await api.setAccess(s.service, { access: s.access });
    for (const { caller, ...grant } of s.grants ?? []) await api.grant(caller, s.service, grant);
  }
  await Promise.all(seeds.map(async (s) => {
    const current = await api.service(s.service);
    const releases = current.release === null ? [] : (await api.releases(s.service)).releases;
    if (releases[0]?.path === s.path) return;
    await api.deploy(s.service, { path: s.path, sites, instances });
  }));
}
