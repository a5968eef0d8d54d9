import { chmod, chown, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { unpackArtifact } from '@squadron/artifact';

/** Where a release's unpacked artifact is, and the file its runtime imports. */
export interface UnpackedRelease {
  dir: string;
  entry: string;
}

/** The OS user and group a squad's instances run as (null: this agent does not run squads as users of their own). */
export type SquadOwner = (squad: string) => { uid: number; gid: number } | null;

/**
 * The agent's own copies of the release artifacts it runs, fetched from the control plane by
 * digest and checked against it: every start of an instance (first, after a crash, after a
 * scale-up, after a rollback) runs exactly the bytes its release names, whatever became of the
 * folder it was built from. Each squad's copies sit in a folder of their own, readable by that
 * squad's OS user and writable by none of them. Nothing is trusted from an earlier run: the cache
 * starts empty.
 */
export class ArtifactCache {
  /** Each copy, and the instances that run it (a copy no instance runs is removed at the next prune). */
  private readonly entries = new Map<string, { ready: Promise<UnpackedRelease>; users: Set<string> }>();
  /** Copies being removed: a new copy of the same release waits for its removal first. */
  private readonly removing = new Map<string, Promise<void>>();

  constructor(
    private readonly root: string,
    private readonly fetchArtifact: (digest: string) => Promise<Uint8Array>,
    private readonly ownerOf: SquadOwner = () => null,
  ) {}

  /** Empty the cache (a copy left by an earlier run may have been changed since); call once, before use. */
  async open(): Promise<void> {
    await removeTree(this.root);
    await mkdir(this.root, { recursive: true, mode: 0o711 });
    // Squads' users pass through to their own folder; none may list the others.
    await chmod(this.root, 0o711);
  }

  /** Remove every copy (the agent stops). */
  async close(): Promise<void> {
    this.entries.clear();
    await Promise.all(this.removing.values());
    await removeTree(this.root);
  }

  /**
   * The unpacked release for `squad`, for instance `user`: fetched and unpacked once however many
   * instances ask at once, and kept while any instance that asked for it runs.
   */
  unpacked(squad: string, digest: string, user: string): Promise<UnpackedRelease> {
    const key = `${squad}/${digest}`;
    let entry = this.entries.get(key);
    if (!entry) {
      const removed = this.removing.get(key) ?? Promise.resolve();
      const ready = removed.then(() => this.unpack(squad, digest));
      const made = { ready, users: new Set<string>() };
      entry = made;
      this.entries.set(key, made);
      // A failed fetch is tried again at the next start.
      ready.catch(() => this.entries.get(key) === made && this.entries.delete(key));
    }
    entry.users.add(user);
    return entry.ready;
  }

  /** The instance no longer runs (it was drained, or never started): its copy may go. */
  release(user: string): void {
    for (const entry of this.entries.values()) entry.users.delete(user);
  }

  /** Remove the copies no instance runs. */
  async prune(): Promise<void> {
    const gone: Array<Promise<void>> = [];
    for (const [key, entry] of this.entries) {
      if (entry.users.size > 0) continue;
      this.entries.delete(key);
      const removal = entry.ready.then((u) => removeTree(u.dir), () => undefined);
      this.removing.set(key, removal);
      gone.push(removal.finally(() => this.removing.get(key) === removal && this.removing.delete(key)).then(() => undefined));
    }
    await Promise.all(gone);
  }

  private async unpack(squad: string, digest: string): Promise<UnpackedRelease> {
    const contents = unpackArtifact(await this.fetchArtifact(digest), digest);
    const owner = this.ownerOf(squad);
    const squadDir = join(this.root, encodeURIComponent(squad));
    await mkdir(squadDir, { recursive: true, mode: 0o700 });
    if (owner) {
      // Root keeps ownership (the squad cannot change its copies); the squad's group may read them.
      await chown(squadDir, 0, owner.gid);
      await chmod(squadDir, 0o750);
    }
    const dir = join(squadDir, digest.replace(':', '-'));
    const partial = `${dir}.${randomBytes(4).toString('hex')}.partial`;
    const dirs = new Set([partial]);
    for (const [name, data] of Object.entries(contents.files)) {
      const file = join(partial, name);
      for (let d = dirname(file); d !== partial && !dirs.has(d); d = dirname(d)) dirs.add(d);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, data);
      // Explicitly: the agent's umask would take the squad's read away.
      await chmod(file, 0o444);
    }
    for (const d of [...dirs].sort((a, b) => b.length - a.length)) await chmod(d, 0o555);
    await removeTree(dir);
    await rename(partial, dir);
    return { dir, entry: join(dir, contents.entry) };
  }
}

/** `rm -rf` of a tree whose folders were made read-only (which stops a non-root owner removing their entries). */
async function removeTree(dir: string): Promise<void> {
  const writable = async (d: string): Promise<void> => {
    try {
      await chmod(d, 0o700);
      for (const e of await readdir(d, { withFileTypes: true })) if (e.isDirectory()) await writable(join(d, e.name));
    } catch {
      // Gone already, or not ours to change: rm says what matters.
    }
  };
  await writable(dir);
  await rm(dir, { recursive: true, force: true });
}
