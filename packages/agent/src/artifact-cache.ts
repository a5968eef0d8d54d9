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
  private readonly ready = new Map<string, Promise<UnpackedRelease>>();

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
    this.ready.clear();
    await removeTree(this.root);
  }

  /** The unpacked release for `squad`, fetched and unpacked once however many instances ask at once. */
  unpacked(squad: string, digest: string): Promise<UnpackedRelease> {
    const key = `${squad}/${digest}`;
    let p = this.ready.get(key);
    if (!p) {
      p = this.unpack(squad, digest);
      this.ready.set(key, p);
      // A failed fetch is tried again at the next start.
      p.catch(() => this.ready.delete(key));
    }
    return p;
  }

  /** Remove every copy of a release whose digest is not in `keep`: the releases no instance here runs any more. */
  async retain(keep: ReadonlySet<string>): Promise<void> {
    for (const [key, p] of [...this.ready]) {
      if (keep.has(key.slice(key.lastIndexOf('/') + 1))) continue;
      this.ready.delete(key);
      const unpacked = await p.catch(() => null);
      if (unpacked) await removeTree(unpacked.dir);
    }
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
