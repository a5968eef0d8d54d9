import { Command } from 'commander';
import { registerUp } from './commands/up.ts';
import { registerRun } from './commands/run.ts';
import { registerMessaging } from './commands/messaging.ts';
import { registerStatus } from './commands/status.ts';
import { registerBroker } from './commands/broker.ts';
import { registerQueues } from './commands/queues.ts';

/** Build the squadron command. */
export function buildProgram(): Command {
  const program = new Command('squadron')
    .description('Squadron: a self-service backend platform for autonomous squads')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    // Set before the subcommands are added, so that they inherit it: usage errors exit 2.
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : 2);
    });
  registerUp(program);
  registerRun(program);
  registerMessaging(program);
  registerStatus(program);
  registerQueues(program);
  registerBroker(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
