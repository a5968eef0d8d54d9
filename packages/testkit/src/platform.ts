import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlClient } from '@squadron/client';
import { startSquadron, type LiveCommand } from './cli.ts';

export interface TestPlatform {
  /** The platform's data directory (logs, storage, the admin token). */
  dataDir: string;
  /** Environment for `squadron` commands against it, as the admin. */
  env: Record<string, string>;
  up: LiveCommand;
  url: string;
  adminToken: string;
  /** The API, as the admin. */
  api: ControlClient;
  /** Stop it and delete its data directory. */
  stop(): Promise<void>;
}

/**
 * `squadron up` in a fresh data directory on a free port, once it says it is ready; `config` is
 * the YAML of a platform config (default: the two sites sto and gcp-eu).
 */
export async function startTestPlatform(name: string, options: { config?: string; logLevel?: string } = {}): Promise<TestPlatform> {
  const dataDir = mkdtempSync(join(tmpdir(), `squadron-${name}-`));
  // Storage servers run as their own system user (PostgreSQL refuses root): they must reach it.
  chmodSync(dataDir, 0o711);
  const env = { SQUADRON_DATA_DIR: dataDir, SQUADRON_LOG_LEVEL: options.logLevel ?? 'warn' };
  const args = ['up', '--port', '0'];
  if (options.config !== undefined) {
    const file = join(dataDir, 'platform.yaml');
    writeFileSync(file, options.config);
    args.push('--config', file);
  }
  const up = startSquadron(args, env);
  await up.waitFor(/squadron ready/, 60_000);
  const { url } = JSON.parse(readFileSync(join(dataDir, 'platform.json'), 'utf8')) as { url: string };
  const adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  return {
    dataDir, env, up, url, adminToken, api: new ControlClient({ url, token: adminToken }),
    stop: async () => {
      await up.stop('SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
