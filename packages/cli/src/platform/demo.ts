import { readdirSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ApiError, type ControlClient } from '@squadron/client';

/** The demo organisation's services: every folder of examples/ with an entry file. */
export const EXAMPLES_DIR = fileURLToPath(new URL('../../../../examples/', import.meta.url));

export function demoServices(dir = EXAMPLES_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && ['index.ts', 'index.mjs', 'index.js'].some((f) => existsSync(join(dir, d.name, f))))
    .map((d) => join(dir, d.name))
    .sort();
}

/** One service to have running: who owns it and where its folder is. */
export interface Seed {
  squad: string;
  service: string;
  description?: string;
  path: string;
}

interface SquadsFile {
  squads?: Array<{ name: string; services?: Array<{ name: string; description?: string }> }>;
}

/** The demo's squads and services, from examples/squads.yaml. */
export function demoSeeds(dir = EXAMPLES_DIR): Seed[] {
  const file = parse(readFileSync(join(dir, 'squads.yaml'), 'utf8')) as SquadsFile;
  return (file.squads ?? []).flatMap((s) => (s.services ?? []).map((svc) => ({
    squad: s.name, service: svc.name, path: join(dir, svc.name), ...(svc.description ? { description: svc.description } : {}),
  })));
}

const exists = (err: unknown) => err instanceof ApiError && err.code === 'CONFLICT';

/**
 * Create the squads and services, and deploy each to every site, through the public API as any
 * squad would. Already there from an earlier run: left as it is, and deployed only if it runs
 * nothing or runs another folder.
 */
export async function seed(api: ControlClient, seeds: Seed[], sites: string[], instances = 1): Promise<void> {
  for (const squad of new Set(seeds.map((s) => s.squad))) {
    await api.createSquad(squad).catch((err: unknown) => { if (!exists(err)) throw err; });
  }
  await Promise.all(seeds.map(async (s) => {
    await api.createService({ name: s.service, squad: s.squad, ...(s.description ? { description: s.description } : {}) })
      .catch((err: unknown) => { if (!exists(err)) throw err; });
    const current = await api.service(s.service);
    const releases = current.release === null ? [] : (await api.releases(s.service)).releases;
    if (releases[0]?.path === s.path) return;
    await api.deploy(s.service, { path: s.path, sites, instances });
  }));
}
