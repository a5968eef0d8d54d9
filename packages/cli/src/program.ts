import { Command } from 'commander';

/** The squadron command with no subcommands yet: its name, version and exit codes. */
export function baseProgram(): Command {
  return new Command('squadron')
    .description('Squadron: a self-service backend platform for autonomous squads')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    // Set before the subcommands are added, so that they inherit it: usage errors exit 2.
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : 2);
    });
}
