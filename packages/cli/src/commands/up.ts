import type { Command } from 'commander';
import { loadConfig, ControlClient } from '@squadron/control';
import { action, parseIntFlag } from '../output.ts';
import { dataDir } from '../env.ts';
import { onShutdown } from '../shutdown.ts';
import { LocalPlatform } from '../platform/platform.ts';
import { demoServices } from '../platform/demo.ts';

interface UpFlags { config?: string; dataDir?: string; port?: string; demo?: boolean; service: string[] }

/** `squadron up`: the whole platform on this machine, in the foreground, until Ctrl-C. */
export function registerUp(program: Command): void {
  program
    .command('up')
    .description('run the whole platform on this machine: control plane, a broker per site, and services')
    .option('--config <file>', 'platform config (YAML); default: sites sto (datacenter) and gcp-eu (cloud)')
    .option('--data-dir <dir>', 'where logs and local state go (default .squadron or SQUADRON_DATA_DIR)')
    .option('--port <n>', 'API port (default 7700; 0 picks a free one)')
    .option('--demo', 'also run the demo services of examples/ in every site')
    .option('--service <dir>', 'also run this service folder in every site (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action(action(async (flags: UpFlags) => {
      const began = Date.now();
      const config = loadConfig(flags.config);
      if (flags.port !== undefined) config.api = { ...config.api, port: parseIntFlag(flags.port, '--port', 0, 65535) };
      const services = [...(flags.demo ? demoServices() : []), ...flags.service];
      const say = (line: string) => process.stdout.write(`squadron: ${line}\n`);
      const platform = new LocalPlatform({ config, dataDir: dataDir(flags.dataDir), services, say });
      let started = false;
      const stopped = onShutdown(async () => {
        say('stopping');
        await platform.stop();
        say('stopped');
      });
      try {
        await platform.start();
        await new ControlClient({ url: platform.url }).health();
        started = true;
      } catch (err) {
        await platform.stop();
        throw err;
      }
      const instances = services.length * config.sites.length;
      process.stdout.write(`squadron ready: ${instances} instances in ${config.sites.length} sites, API ${platform.url} (${((Date.now() - began) / 1000).toFixed(1)} s). Try: npx squadron status\n`);
      if (started) await stopped;
      process.exit(process.exitCode ?? 0);
    }));
}
