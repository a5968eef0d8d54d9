/**
 * The demo's storage for tests that run its services in-process: the resources of
 * examples/squads.yaml (users' kv store, playlists' PostgreSQL), made by the platform's own
 * provisioners in a folder of the test's, and handed to each service as its agent would, through
 * a StorageHolder of its own.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { StorageHolder } from '@squadron/sdk';
import { KvProvisioner, PostgresProvisioner, type Provisioner, type StorageSpec } from '@squadron/storage';

/** What squads.yaml declares, as the platform would record it. */
const SPECS: StorageSpec[] = [
  { name: 'users', kind: 'kv', service: 'users', squad: 'identity', sites: ['sto', 'gcp-eu'], primary: 'sto', sync: false },
  { name: 'playlists', kind: 'postgres', service: 'playlists', squad: 'collections', sites: ['sto', 'gcp-eu'], primary: 'sto', sync: true },
];

interface Made {
  spec: StorageSpec;
  provisioner: Provisioner;
  state: unknown;
  dir: string;
}

export interface DemoStorage {
  /** The storage `service` owns, for runService's `storage` option (empty for a service without any). */
  holderFor(service: string): StorageHolder;
  /** Stop every server and delete its data. */
  destroy(): Promise<void>;
}

/** Make every resource of the demo under `dir`, in parallel; undone whole if one cannot be made. */
export async function createDemoStorage(dir: string): Promise<DemoStorage> {
  const log = pino({ level: 'silent' });
  const kinds: Record<string, () => Provisioner> = { kv: () => new KvProvisioner(), postgres: () => new PostgresProvisioner() };
  const made: Made[] = [];
  const destroy = async (): Promise<void> => {
    await Promise.allSettled(made.map((m) => m.provisioner.destroy(m.spec, m.state, { dir: m.dir, log })));
  };
  const results = await Promise.allSettled(SPECS.map(async (spec) => {
    const provisioner = kinds[spec.kind]!();
    const own = join(dir, spec.name);
    mkdirSync(own, { recursive: true });
    const state = await provisioner.create(spec, { dir: own, log });
    made.push({ spec, provisioner, state, dir: own });
  }));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await destroy();
    throw failed.reason;
  }
  return {
    holderFor(service) {
      const holder = new StorageHolder();
      holder.set(Object.fromEntries(made.filter((m) => m.spec.service === service)
        .map((m) => [m.spec.name, { kind: m.spec.kind, credentials: m.provisioner.credentials(m.spec, m.state) }])));
      return holder;
    },
    destroy,
  };
}
