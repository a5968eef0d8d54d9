import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CreatedSquadBody, StorageBody, StorageCredentialsBody } from '@squadron/client';
import { KvProvisioner, type KvEndpoints } from '@squadron/storage';
import { waitFor } from '@squadron/testkit';
import { startControl, type StoreKind, type TestControl } from './harness.ts';

/** A control plane with the kv kind (real kv server processes), listening on a free port. */
export interface KvTestControl {
  control: TestControl;
  url: string;
  kv: KvProvisioner;
  /** Where the storage resources live: `<storageDir>/<resource>/`. */
  storageDir: string;
  /** A request over HTTP; the JSON answer and its status. */
  call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  squad(name: string): Promise<CreatedSquadBody>;
  /** A kv store for `service`, made through the API and waited for; its credentials. */
  kvStore(token: string, name: string, service: string, sites?: string[]): Promise<KvEndpoints>;
  close(): Promise<void>;
}

export async function startKvControl(store: StoreKind, label: string): Promise<KvTestControl> {
  const storageDir = mkdtempSync(join(tmpdir(), 'squadron-kv-control-'));
  const kv = new KvProvisioner();
  const control = await startControl(store, label, undefined, undefined, { dir: storageDir, provisioners: () => ({ kv }) });
  const url = await control.app.listen({ host: '127.0.0.1', port: 0 });
  const call: KvTestControl['call'] = async (method, path, token, body) => {
    const res = await fetch(`${url}${path}`, {
      method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) as unknown : null };
  };
  return {
    control, url, kv, storageDir, call,
    squad: async (name) => (await call('POST', '/v1/squads', control.adminToken, { name })).body as CreatedSquadBody,
    kvStore: async (token, name, service, sites = ['sto']) => {
      const made = await call('POST', '/v1/storage', token, { name, kind: 'kv', service, sites });
      if (made.status !== 202) throw new Error(`storage ${name}: ${JSON.stringify(made.body)}`);
      await waitFor(async () => ((await call('GET', `/v1/storage/${name}`, token)).body as StorageBody).status === 'ready', `kv store ${name} ready`, 30_000);
      return ((await call('GET', `/v1/storage/${name}/credentials`, token)).body as StorageCredentialsBody).credentials as unknown as KvEndpoints;
    },
    close: async () => {
      await control.close();
      rmSync(storageDir, { recursive: true, force: true });
    },
  };
}
