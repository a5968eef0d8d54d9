import { Command } from 'commander';
import { SquadronError } from '@squadron/protocol';
import { ApiError } from '@squadron/client';
import { actingAs, refusalNote } from './acting-as.ts';

/** A mistake in how the command was called; exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'BAD_REQUEST';
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Print rows as aligned columns under a header. */
export function printTable(header: string[], rows: Array<Array<string | number>>): void {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const r of cells) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
}

/** One line on stderr, `CODE: message` (and `note`, if any), and the exit code for it. */
export function reportFailure(err: unknown, note = ''): number {
  if (err instanceof SquadronError || err instanceof ApiError) {
    process.stderr.write(`${err.code}: ${err.message}${note ? ` ${note}` : ''}\n`);
    return 1;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`${err.code}: ${err.message}\n`);
    return 2;
  }
  // By name: importing the control plane's package here would load its server into every command.
  if (err instanceof Error && err.name === 'ConfigError') {
    process.stderr.write(`CONFIG_ERROR: ${err.message}\n`);
    return 2;
  }
  process.stderr.write(`INTERNAL: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}

/** Refusals of who the CLI acts as: the token is not accepted, or its holder may not do that. */
const REFUSALS_OF_WHO = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'PERMISSION_DENIED']);

/**
 * Run a command body; a failure prints one line and exits with its code at once, so that nothing
 * the command had opened (a listening socket, a reconnecting client) keeps the process alive.
 * A refusal of who the CLI acts as names that identity and where its token came from: a saved
 * login silently changes who every command acts as.
 */
export function action<A extends unknown[]>(body: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await body(...args);
    } catch (err) {
      const code = err instanceof SquadronError || err instanceof ApiError ? err.code : null;
      // Commander passes the command last; its options tell the data directory, and a --token of its own.
      const opts = (args.find((a): a is Command => a instanceof Command))?.opts<{ dataDir?: string; token?: string }>() ?? {};
      const note = code !== null && REFUSALS_OF_WHO.has(code) && opts.token === undefined ? refusalNote(await actingAs(opts.dataDir), opts.dataDir) : '';
      process.exit(reportFailure(err, note));
    }
  };
}

/** Parse a JSON argument, or fail as BAD_REQUEST naming it. */
export function parseJsonArg(text: string | undefined, what: string): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON (${(err as Error).message}); quote it, e.g. '{"name":"ada"}'`);
  }
}

/** A whole number flag within [min, max], or a usage error naming the flag. */
export function parseIntFlag(value: string, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${what} must be a whole number from ${min} to ${max}, got '${value}'`);
  return n;
}
