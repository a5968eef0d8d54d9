import { Command } from 'commander';
import { registerUp } from './commands/up.ts';
import { registerRun } from './commands/run.ts';
import { registerMessaging } from './commands/messaging.ts';
import { registerStatus } from './commands/status.ts';
import { registerBroker } from './commands/broker.ts';

/** Build the squadron command. */
export function buildProgram(): Command {
  const program = new Command('squadron')
    .description('Squadron: a self-service backend platform for autonomous squads')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)');
  registerUp(program);
  registerRun(program);
  registerMessaging(program);
  registerStatus(program);
  registerBroker(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  });
  await program.parseAsync(argv);
}
