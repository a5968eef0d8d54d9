import type { Command } from 'commander';
import { baseProgram } from './program.ts';
import { registerUp } from './commands/up.ts';
import { registerRun } from './commands/run.ts';
import { registerMessaging } from './commands/messaging.ts';
import { registerStatus } from './commands/status.ts';
import { registerBroker } from './commands/broker.ts';
import { registerQueues } from './commands/queues.ts';
import { registerCatalog } from './commands/catalog.ts';
import { registerDeploy } from './commands/deploy.ts';
import { registerControl } from './commands/control.ts';
import { registerAgent } from './commands/agent.ts';
import { registerAccess } from './commands/access.ts';
import { registerStorage } from './commands/storage.ts';
import { registerNew } from './commands/new.ts';
import { registerLogs } from './commands/logs.ts';

export { brokerScript, instanceScript, BROKER_PROCESS, INSTANCE_EXEC_ARGV } from './platform/runtime-bundles.ts';

/** Build the squadron command. */
export function buildProgram(): Command {
  const program = baseProgram();
  registerUp(program);
  registerRun(program);
  registerMessaging(program);
  registerStatus(program);
  registerQueues(program);
  registerCatalog(program);
  registerDeploy(program);
  registerControl(program);
  registerBroker(program);
  registerAgent(program);
  registerAccess(program);
  registerStorage(program);
  registerNew(program);
  registerLogs(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // Output piped into a reader that stopped early (`| head`): nothing more to say, not a crash.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  await buildProgram().parseAsync(argv);
}
