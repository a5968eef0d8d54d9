import type { Command } from 'commander';
import { loadService } from '../service-loader.ts';
import { action } from '../output.ts';
import { runInstance, type InstanceFlags } from '../instance-runtime.ts';

/**
 * `squadron run DIR --site S`: one instance of a service folder, in the foreground, its
 * TypeScript loaded as it is (a developer's loop: edit, run again). Ctrl-C leaves the registry at
 * once and lets in-flight requests finish. The platform's agents run releases instead: the
 * artifact a deploy built, under plain Node (instance-main.ts).
 */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run one instance of a service folder, attached to the running platform')
    .argument('<dir>', 'service folder (index.ts, index.mjs or index.js exporting defineService)')
    .requiredOption('--site <site>', 'site to run in')
    .option('--broker <address>', 'site broker address (default: asked of the platform)')
    .option('--instance-id <id>', 'instance id (default: service name and a random suffix)')
    .option('--listen <address>', 'address callers connect to (default tcp://127.0.0.1:0)')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (dir: string, flags: InstanceFlags) => {
      // Started by a parent: never outlive it, even while still starting. Once running, a
      // parent that goes away stops this process gracefully (onShutdown) instead.
      const orphaned = () => process.exit(1);
      process.once('disconnect', orphaned);
      const definition = await loadService(dir);
      process.removeListener('disconnect', orphaned);
      await runInstance(definition, flags);
    }));
}
