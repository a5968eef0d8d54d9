import type { Command } from 'commander';
import { hostname } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ApiError, ControlClient } from '@squadron/client';
import { action, parseIntFlag, reportFailure } from '../output.ts';
import { dataDir } from '../env.ts';
import { instanceScript, INSTANCE_EXEC_ARGV } from '../platform/runtime-bundles.ts';
import { onShutdown } from '../shutdown.ts';

interface AgentFlags { site: string; control: string; slots?: string; token?: string; dataDir?: string }

/**
 * `squadron agent --site S --control URL`: run the instances the control plane assigns to this
 * machine, in the foreground until Ctrl-C, which drains them. Each instance is a child process
 * running its release's artifact under the platform's instance runtime.
 */
export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('run the service instances the control plane assigns to this machine in a site')
    .requiredOption('--site <site>', 'the site this machine is in')
    .requiredOption('--control <url>', 'the control plane\'s API address, e.g. http://10.0.0.5:7700')
    .option('--slots <n>', 'instances this machine can run (default: the site\'s slots per agent)')
    .option('--token <token>', 'bearer token for the control plane (default SQUADRON_TOKEN)')
    .option('--data-dir <dir>', 'where the instances\' logs go (default .squadron or SQUADRON_DATA_DIR)')
    .action(action(async (flags: AgentFlags) => {
      // Its logs and queues are its own: nothing it writes is readable by other users.
      process.umask(0o077);
      const { Agent, AgentError } = await import('@squadron/agent');
      const slots = flags.slots === undefined ? undefined : parseIntFlag(flags.slots, '--slots', 1, 10_000);
      const token = flags.token ?? process.env.SQUADRON_TOKEN;
      const logDir = join(dataDir(flags.dataDir), 'logs', `agent-${flags.site}`);
      const logger = pino({ name: `agent:${flags.site}`, level: process.env.SQUADRON_LOG_LEVEL ?? 'info' });
      const agent = new Agent({
        control: new ControlClient({ url: flags.control, ...(token ? { token } : {}) }),
        site: flags.site,
        host: hostname(),
        ...(slots !== undefined ? { slots } : {}),
        // Releases run under plain Node from the instance runtime's bundle: nothing compiled at start.
        runner: { script: await instanceScript(), execArgv: INSTANCE_EXEC_ARGV, args: [] },
        logDir,
        logger,
      });
      // Listen for Ctrl-C before registering: registration may wait for the control plane.
      const shutdown = onShutdown(() => agent.stop());
      agent.start().then((id) => {
        if (process.send) process.send({ type: 'ready', id });
        else process.stdout.write(`agent ${id} of site ${flags.site} ready; instance logs in ${logDir}\n`);
      }, (err: unknown) => {
        if (err instanceof AgentError && err.code === 'STOPPED') return;
        if (err instanceof AgentError && err.cause instanceof ApiError) {
          // The control plane's own code (e.g. BAD_REQUEST for an unknown site), with the hint.
          process.stderr.write(`${err.cause.code}: ${err.message}\n`);
          process.exit(1);
        }
        process.exit(reportFailure(err));
      });
      await shutdown;
      process.exit(process.exitCode ?? 0);
    }));
}
