import { relative } from 'node:path';
import type { ArtifactBody, ControlClient } from '@squadron/client';
import { ArtifactError, buildArtifact } from '@squadron/artifact';
import { UsageError } from './output.ts';

/** `sha256:` and the first 12 hex digits: enough to tell releases apart in a table. */
export const shortDigest = (digest: string) => digest.slice(0, 'sha256:'.length + 12);

const kib = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`);

/**
 * Build a service folder into its release artifact, here, as the user who deploys (the platform
 * never reads the folder), and upload it: the control plane keeps it by its digest.
 */
export async function buildAndUpload(client: ControlClient, folder: string, say: (line: string) => void): Promise<ArtifactBody> {
  const shown = relative(process.cwd(), folder) || '.';
  say(`building ${shown} into a release artifact`);
  let built;
  try {
    built = await buildArtifact(folder);
  } catch (err) {
    throw err instanceof ArtifactError ? new UsageError(err.message) : err;
  }
  say(`uploading ${shortDigest(built.digest)} (${kib(built.bytes.byteLength)})`);
  return client.uploadArtifact(built.bytes);
}
