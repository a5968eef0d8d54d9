import { readdirSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ApiError, type ControlClient, type GrantRequest, type StorageKindName } from '@squadron/client';
import { parseRate } from '@squadron/policy';
import { SquadronError } from '@squadron/protocol';

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
  /** Storage the service owns, made before it is deployed. */
  storage?: StorageSeed[];
}

/** A storage resource as squads.yaml declares it: `squadron storage create NAME --kind K --sites ... [--primary] [--sync]`. */
export interface StorageSeed {
  name: string;
  kind: StorageKindName;
  /** Default: every site the services are deployed to. */
  sites?: string[];
  primary?: string;
  sync?: boolean;
}

/** A grant as squads.yaml writes it: the rate as people write it (`200/s`). */
type GrantEntry = { caller: string; rate?: string } & Omit<GrantRequest, 'ratePerSecond'>;

interface SquadsFile {
  squads?: Array<{ name: string; services?: Array<{ name: string; description?: string; access?: 'open' | 'restricted'; grants?: GrantEntry[]; storage?: StorageSeed[] }> }>;
}

/** The demo's squads and services, from examples/squads.yaml. */
export function demoSeeds(dir = EXAMPLES_DIR): Seed[] {
  const file = parse(readFileSync(join(dir, 'squads.yaml'), 'utf8')) as SquadsFile;
  return (file.squads ?? []).flatMap((s) => (s.services ?? []).map((svc) => ({
    squad: s.name, service: svc.name, path: join(dir, svc.name), ...(svc.description ? { description: svc.description } : {}),
    ...(svc.access ? { access: svc.access } : {}),
    ...(svc.grants ? { grants: svc.grants.map(({ rate, ...g }) => ({ ...g, ...(rate ? { ratePerSecond: parseRate(rate) } : {}) })) } : {}),
    ...(svc.storage ? { storage: svc.storage } : {}),
  })));
}

const exists = (err: unknown) => err instanceof ApiError && err.code === 'CONFLICT';

export interface SeedOptions {
  /** Instances of each service in each site (default 1). */
  instances?: number;
  /** Progress lines (default: on stdout, as `squadron up` prints its own). */
  say?: (line: string) => void;
  /** How long to wait for a storage resource to be ready (default 120 s). */
  storageTimeoutMs?: number;
}

/**
 * Create the squads and services, set who may use them, make their storage and deploy each to
 * every site, through the public API as any squad would. Policies go first, so that no instance
 * starts refused; a service with storage is deployed once its storage is ready, so that its first
 * calls find it, and the others meanwhile. Already there from an earlier run: left as it is
 * (grants given again replace themselves, a resource is only waited for), and deployed only if it
 * runs nothing or runs another folder.
 */
export async function seed(api: ControlClient, seeds: Seed[], sites: string[], options: SeedOptions = {}): Promise<void> {
  const say = options.say ?? ((line: string) => void process.stdout.write(`squadron: ${line}\n`));
  for (const squad of new Set(seeds.map((s) => s.squad))) {
    await api.createSquad(squad).catch((err: unknown) => { if (!exists(err)) throw err; });
  }
  await Promise.all(seeds.map((s) => api.createService({ name: s.service, squad: s.squad, ...(s.description ? { description: s.description } : {}) })
    .catch((err: unknown) => { if (!exists(err)) throw err; })));
  for (const s of seeds) {
    if (s.access) await api.setAccess(s.service, { access: s.access });
    for (const { caller, ...grant } of s.grants ?? []) await api.grant(caller, s.service, grant);
  }
  // Every resource is asked for at once: PostgreSQL takes seconds per site, and they start in parallel.
  const resources = seeds.flatMap((s) => (s.storage ?? []).map((r) => ({ service: s.service, ...r })));
  await Promise.all(resources.map((r) => api.createStorage({
    name: r.name, kind: r.kind, service: r.service, sites: r.sites ?? sites,
    ...(r.primary ? { primary: r.primary } : {}), ...(r.sync ? { sync: true } : {}),
  }).catch((err: unknown) => { if (!exists(err)) throw err; })));
  if (resources.length > 0) say(`storage: ${resources.map((r) => `${r.name} (${r.kind})`).join(', ')}`);

  await Promise.all(seeds.map(async (s) => {
    await Promise.all((s.storage ?? []).map((r) => storageReady(api, r.name, say, options.storageTimeoutMs ?? 120_000)));
    const current = await api.service(s.service);
    const releases = current.release === null ? [] : (await api.releases(s.service)).releases;
    if (releases[0]?.path === s.path) return;
    await api.deploy(s.service, { path: s.path, sites, instances: options.instances ?? 1 });
  }));
}

const STORAGE_POLL_MS = 250;

/** Wait until a resource is ready, saying each change of its status; a failed one stops the wait with what to do. */
async function storageReady(api: ControlClient, name: string, say: (line: string) => void, timeoutMs: number): Promise<void> {
  const began = Date.now();
  let last = '';
  for (;;) {
    const now = await api.storage(name);
    if (now.status === 'failed') {
      throw new SquadronError('STORAGE_FAILED', `storage '${name}' of the demo failed: ${now.error ?? 'no reason given'}; fix the cause, destroy it (squadron storage destroy ${name}) and start the demo again`);
    }
    if (now.status !== last) say(`storage ${name}: ${now.status}${now.status === 'ready' ? ` (${((Date.now() - began) / 1000).toFixed(1)} s)` : ''}`);
    last = now.status;
    if (now.status === 'ready') return;
    if (Date.now() - began > timeoutMs) {
      throw new SquadronError('TIMEOUT', `storage '${name}' of the demo is still ${now.status} after ${timeoutMs / 1000} s; see squadron storage show ${name}`);
    }
    await new Promise((resolve) => setTimeout(resolve, STORAGE_POLL_MS));
  }
}
