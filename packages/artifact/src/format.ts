import { createHash } from 'node:crypto';
import { Packr } from 'msgpackr';
import { ArtifactError } from './errors.ts';

/** The largest artifact the platform stores: a service bundle is rarely above a few MiB. */
export const MAX_ARTIFACT_BYTES = 32 * 1024 * 1024;

/** Bumped when the container changes shape; agents refuse a format they do not know. */
export const ARTIFACT_FORMAT = 1;

/** What a release artifact holds: its files, and which of them the runtime imports. */
export interface ArtifactContents {
  format: number;
  /** The file the runtime imports (an ES module whose default export is the service's definition). */
  entry: string;
  /** Relative path to bytes. */
  files: Record<string, Uint8Array>;
}

// Plain maps and binaries only: no records or structures, so that the same contents always give the same bytes.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true });

/** `sha256:` and the hex digest of the artifact's bytes: its name everywhere. */
export function digestOf(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** A relative path that stays inside the folder it is unpacked into. */
function safePath(path: string): boolean {
  return path.length > 0 && path.length <= 255 && !path.startsWith('/') && !path.includes('\\') && !path.includes('\0')
    && path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/** The artifact's bytes: file names sorted, so that building the same folder twice gives the same digest. */
export function packArtifact(contents: Omit<ArtifactContents, 'format'>): Uint8Array {
  const files = Object.fromEntries(Object.keys(contents.files).sort().map((name) => [name, contents.files[name]!]));
  return packr.pack({ format: ARTIFACT_FORMAT, entry: contents.entry, files });
}

/**
 * The contents of an artifact's bytes, checked whole: the format, an entry that is one of its
 * files, and file names that cannot reach outside the folder they are unpacked into. `expected`,
 * when given, is the digest the bytes must have.
 */
export function unpackArtifact(bytes: Uint8Array, expected?: string): ArtifactContents {
  if (bytes.byteLength > MAX_ARTIFACT_BYTES) throw new ArtifactError(`the artifact is ${bytes.byteLength} bytes; the limit is ${MAX_ARTIFACT_BYTES}`);
  if (expected !== undefined) {
    const actual = digestOf(bytes);
    if (actual !== expected) throw new ArtifactError(`the artifact's bytes have digest ${actual}, not ${expected}: refused`);
  }
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (err) {
    throw new ArtifactError(`not a release artifact: ${(err as Error).message}`);
  }
  const c = value as Partial<ArtifactContents> | null;
  if (!c || typeof c !== 'object') throw new ArtifactError('not a release artifact');
  // Other MessagePack (or bytes that happen to decode as some) has no format: say what it is not.
  if (typeof c.format !== 'number') throw new ArtifactError('not a release artifact: it names no format');
  if (c.format !== ARTIFACT_FORMAT) throw new ArtifactError(`artifact format ${String(c.format)} is not known to this version (it knows ${ARTIFACT_FORMAT})`);
  if (typeof c.entry !== 'string' || !c.files || typeof c.files !== 'object') throw new ArtifactError('the artifact lacks its entry or files');
  for (const [name, data] of Object.entries(c.files)) {
    if (!safePath(name)) throw new ArtifactError(`the artifact holds a file named '${name}', which is not a plain relative path`);
    if (!(data instanceof Uint8Array)) throw new ArtifactError(`the artifact's file '${name}' is not bytes`);
  }
  if (!Object.hasOwn(c.files, c.entry)) throw new ArtifactError(`the artifact's entry '${c.entry}' is not one of its files`);
  return c as ArtifactContents;
}
