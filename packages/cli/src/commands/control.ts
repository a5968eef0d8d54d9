import type { Command } from 'commander';
import { action, parseIntFlag } from '../output.ts';
import { dataDir } from '../env.ts';
import { onShutdown } from '../shutdown.ts';

interface ControlFlags { config?: string; dataDir?: string; port?: string; state?: string }

/**
 * `squadron control`: the control plane alone, for a platform whose sites run elsewhere. Brokers
 * register with it (`squadron broker --control URL`), agents too (`squadron agent --control URL`).
 */
export function registerControl(program: Command): void {
  program
    .command('control')
    .description('run the control plane on its own (API, catalog, deployments); sites join it with broker and agent')
    .option('--config <file>', 'platform config (YAML): the sites, the API address')
    .option('--data-dir <dir>', 'where the admin token and the default state store go')
    .option('--port <n>', 'API port (default 7700; 0 picks a free one)')
    .option('--state <where>', 'state store: a SQLite file (default <data-dir>/state.db) or postgres://…')
    .action(action(async (flags: ControlFlags) => {
      const [{ loadConfig }, { startControlPlane }] = await Promise.all([import('@squadron/control'), import('../platform/control-plane.ts')]);
      const config = loadConfig(flags.config);
      if (flags.port !== undefined) config.api = { ...config.api, port: parseIntFlag(flags.port, '--port', 0, 65535) };
      const { prepareDataDir, privateFileMode } = await import('../platform/data-dir.ts');
      privateFileMode();
      prepareDataDir(dataDir(flags.dataDir));
      const control = await startControlPlane(config, dataDir(flags.dataDir), flags.state);
      if (process.send) process.send({ type: 'ready', url: control.url });
      else process.stdout.write(`control plane listening on ${control.url}; sites: ${config.sites.map((s) => s.name).join(', ')}\n`);
      await onShutdown(() => control.stop());
      process.exit(process.exitCode ?? 0);
    }));
}
