import type { Command } from 'commander';
import { ControlClient } from '@squadron/client';
import { action, printJson } from '../output.ts';
import { platformUrl } from '../env.ts';
import { removeLogin, saveLogin } from '../credentials.ts';
import { actingAs, principalName, sourceText, type Acting } from '../acting-as.ts';

interface Flags { json?: boolean; dataDir?: string }

/** `squad radio (from SQUADRON_TOKEN)`, or what the CLI has instead of an identity. */
function describe(acting: Acting): string {
  if (!acting.credential) return 'nobody: no token (set SQUADRON_TOKEN, or run `squadron login --token TOKEN`)';
  const who = acting.who ? principalName(acting.who) : 'a token the platform does not accept';
  return `${who} (${sourceText(acting.credential.source)})`;
}

/** `login`, `logout` and `whoami`: who every other command acts as, and where that comes from. */
export function registerLogin(program: Command): void {
  program
    .command('login')
    .description('save a token for this platform: later commands act as it (unless SQUADRON_TOKEN is set)')
    .requiredOption('--token <token>', 'a squad token (squadron squads create) or the admin token')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (flags: { token: string; dataDir?: string }) => {
      const url = platformUrl(flags.dataDir);
      const who = await new ControlClient({ url, token: flags.token }).whoami();
      const file = saveLogin(url, flags.token);
      process.stdout.write(`logged in to ${url} as ${principalName(who)} (saved in ${file}); `
        + (process.env.SQUADRON_TOKEN
          ? 'but SQUADRON_TOKEN is set and wins: unset it for commands to act as this login\n'
          : `commands now act as ${principalName(who)}; squadron logout undoes it\n`));
    }));

  program
    .command('logout')
    .description('forget the token saved for this platform; says who commands act as now')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (flags: Flags) => {
      const url = platformUrl(flags.dataDir);
      const removed = removeLogin(url);
      const now = describe(await actingAs(flags.dataDir));
      process.stdout.write(`${removed ? `logged out of ${url}` : `no login saved for ${url}`}; commands act as ${now}\n`);
    }));

  program
    .command('whoami')
    .description('who the CLI acts as on this platform, and where its token comes from')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (flags: Flags) => {
      const acting = await actingAs(flags.dataDir);
      // Asked again, for the platform's own refusal (UNAUTHENTICATED, unreachable) as the failure.
      const who = acting.who ?? await new ControlClient({ url: acting.url, ...(acting.credential ? { token: acting.credential.token } : {}) }).whoami();
      const source = acting.credential?.source ?? null;
      if (flags.json) return printJson({ ...who, source: source?.kind ?? null, ...(source && 'file' in source ? { file: source.file } : {}) });
      process.stdout.write(`${describe({ ...acting, who })}\n`);
    }));
}
