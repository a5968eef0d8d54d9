import { ArtifactError, DIGEST, digestOf, unpackArtifact } from '@squadron/artifact';
import type { ArtifactBody } from '@squadron/client';
import type { Db, Queryable } from '../state/db.ts';
import type { Principal } from '../auth/principal.ts';
import { ForbiddenError, InvalidInputError, NotFoundError } from '../control-errors.ts';

/** Releases kept per service, past which the oldest (that no instance runs) are removed with their artifacts. */
export const RELEASE_RETENTION = 20;
/** An artifact no release names is kept this long, so that an upload and the deploy that follows it never race its removal. */
export const UNUSED_ARTIFACT_GRACE_MS = 60 * 60 * 1000;

/** The squad an artifact belongs to when the admin uploads it. */
const ADMIN_OWNER = 'admin';
const ownerOf = (by: Principal) => (by.kind === 'admin' ? ADMIN_OWNER : by.name);

/**
 * Release artifacts, stored in the state store by their digest: what a release runs, byte for
 * byte, on every agent that starts one of its instances. An artifact is its uploader's: a squad
 * may deploy, and read back, only the artifacts it uploaded (the same bytes uploaded by two
 * squads belong to both), so that knowing a digest gives no squad another's code.
 */
export class ArtifactStore {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  /** Store an artifact (checked whole first: format, entry, file names); storing it again is a no-op. */
  async put(by: Principal, bytes: Uint8Array, digest?: string): Promise<ArtifactBody> {
    let contents;
    try {
      contents = unpackArtifact(bytes, digest);
    } catch (err) {
      if (err instanceof ArtifactError) throw new InvalidInputError([{ path: '/', message: err.message }]);
      throw err;
    }
    const d = digest ?? digestOf(bytes);
    const createdAt = this.now();
    await this.db.tx(async (q) => {
      await q.query('INSERT INTO artifacts (digest, bytes, size, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (digest) DO NOTHING',
        [d, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes.byteLength, createdAt]);
      await q.query('INSERT INTO artifact_owners (digest, squad) VALUES ($1, $2) ON CONFLICT (digest, squad) DO NOTHING', [d, ownerOf(by)]);
    });
    return {
      digest: d, size: bytes.byteLength, entry: contents.entry,
      files: Object.entries(contents.files).map(([name, data]) => ({ name, bytes: data.byteLength })),
    };
  }

  /** The artifact's bytes, for the admin (and the agents, which act as it) or a squad that uploaded it. */
  async get(by: Principal, digest: string): Promise<Uint8Array> {
    await this.mustUse(this.db, by, digest);
    const [row] = await this.db.query<{ bytes: Uint8Array }>('SELECT bytes FROM artifacts WHERE digest = $1', [digest]);
    if (!row) throw new NotFoundError('artifact', digest);
    return row.bytes;
  }

  /** Refuses, as NOT_FOUND or FORBIDDEN, an artifact that does not exist or is not `by`'s to use. */
  async mustUse(q: Queryable, by: Principal, digest: string): Promise<void> {
    if (!DIGEST.test(digest)) throw new InvalidInputError([{ path: '/artifact', message: `'${digest}' is not an artifact digest (sha256:<64 hex digits>)` }]);
    const owners = (await q.query<{ squad: string }>('SELECT squad FROM artifact_owners WHERE digest = $1', [digest])).map((r) => r.squad);
    if (owners.length === 0) throw new NotFoundError('artifact', digest, 'upload it first (squadron deploy builds and uploads the folder)');
    if (by.kind !== 'admin' && !owners.includes(by.name)) {
      throw new ForbiddenError(`artifact ${digest} was not uploaded by squad '${by.name}'; a squad deploys only the artifacts it uploads`);
    }
  }

  /**
   * Past the retention: a service's releases older than its newest RELEASE_RETENTION (but the
   * current one, and any an instance still runs) are removed, then every artifact no release
   * names and older than the grace period.
   */
  async prune(q: Queryable, service?: string): Promise<void> {
    const services = service === undefined
      ? (await q.query<{ name: string }>('SELECT name FROM services')).map((r) => r.name)
      : [service];
    for (const name of services) {
      const [top] = await q.query<{ n: number | null }>('SELECT MAX(number) AS n FROM releases WHERE service = $1', [name]);
      const oldestKept = Number(top?.n ?? 0) - RELEASE_RETENTION + 1;
      if (oldestKept <= 1) continue;
      await q.query(
        `DELETE FROM releases WHERE service = $1 AND number < $2
           AND number NOT IN (SELECT release FROM instances WHERE service = $1)
           AND number NOT IN (SELECT release FROM services WHERE name = $1 AND release IS NOT NULL)`,
        [name, oldestKept],
      );
    }
    await q.query(
      'DELETE FROM artifacts WHERE created_at < $1 AND digest NOT IN (SELECT artifact FROM releases WHERE artifact IS NOT NULL)',
      [this.now() - UNUSED_ARTIFACT_GRACE_MS],
    );
  }
}
