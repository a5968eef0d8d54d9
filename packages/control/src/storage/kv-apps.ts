import { KvClient, appNamespace, setKvQuota, type KvEndpoints } from '@squadron/storage';
import type { Db } from '../state/db.ts';
import { actorOf, mustOwn, type Principal } from '../auth/principal.ts';
import { hashToken, newToken } from '../auth/tokens.ts';
import { ConflictError, UnauthenticatedError } from '../control-errors.ts';
import { recordAudit } from '../catalog/audit.ts';
import type { StorageManager } from './storage-manager.ts';

import type { AppBody, CreateAppRequest, CreatedAppBody } from '@squadron/client';

interface AppRow {
  name: string;
  squad: string;
  storage: string;
  created_at: number;
  created_by: string;
}

const bodyOf = (r: AppRow): AppBody => ({ name: r.name, squad: r.squad, storage: r.storage, createdAt: Number(r.created_at), createdBy: r.created_by });

/**
 * API apps: clients outside the platform (a mobile back end, a partner) that use a squad's kv
 * store over HTTP with a key of their own, within a quota of keys and bytes. A squad makes apps
 * for its own stores; the key is shown once and kept as a hash.
 */
export class KvApps {
  constructor(private readonly db: Db, private readonly storage: StorageManager) {}

  async create(by: Principal, req: CreateAppRequest): Promise<CreatedAppBody> {
    const store = await this.storage.ready(req.storage, 'kv');
    mustOwn(by, store.squad, `storage '${req.storage}'`);
    if ((await this.db.query('SELECT 1 FROM apps WHERE name = $1', [req.name])).length > 0) throw new ConflictError(`app '${req.name}' exists already`);
    // The quota first: an app that exists always has the limits it was made with.
    if (req.maxKeys !== undefined || req.maxBytes !== undefined) {
      await setKvQuota(store.credentials as unknown as KvEndpoints, appNamespace(req.name), {
        ...(req.maxKeys !== undefined ? { maxKeys: req.maxKeys } : {}), ...(req.maxBytes !== undefined ? { maxBytes: req.maxBytes } : {}),
      });
    }
    const token = newToken('app');
    const row = await this.db.tx(async (q) => {
      await q.query('INSERT INTO apps (name, squad, storage, token_hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)',
        [req.name, store.squad, req.storage, hashToken(token), Date.now(), actorOf(by)]);
      await recordAudit(q, actorOf(by), 'app.create', `app:${req.name}`, { storage: req.storage, ...(req.maxKeys !== undefined ? { maxKeys: req.maxKeys } : {}), ...(req.maxBytes !== undefined ? { maxBytes: req.maxBytes } : {}) });
      return (await q.query<AppRow>('SELECT * FROM apps WHERE name = $1', [req.name]))[0]!;
    });
    return { ...bodyOf(row), token };
  }

  async list(): Promise<AppBody[]> {
    return (await this.db.query<AppRow>('SELECT * FROM apps ORDER BY name')).map(bodyOf);
  }

  /** The kv client of the app whose key is in `header`, in `site` (default the store's first). */
  async clientFor(header: string | undefined, site?: string): Promise<KvClient> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m) throw new UnauthenticatedError("no app key; pass one with 'Authorization: Bearer <key>' (squadron apps create makes one)");
    const rows = await this.db.query<AppRow>('SELECT * FROM apps WHERE token_hash = $1', [hashToken(m[1]!)]);
    if (!rows[0]) throw new UnauthenticatedError('this key belongs to no app on this platform; make one with squadron apps create');
    const store = await this.storage.ready(rows[0].storage, 'kv');
    // Each app's keys live in a namespace of its own (app.NAME, which no service's can be), so that its quota holds it alone.
    return new KvClient({ credentials: store.credentials as unknown as KvEndpoints, namespace: appNamespace(rows[0].name), site: site ?? store.sites[0]! });
  }
}
