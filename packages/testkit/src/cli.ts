import { spawn, type ChildProcess } from 'node:child_process';
import { SQUADRON_BIN } from './processes.ts';
import { waitFor } from './wait.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command to its end, its output collected; SIGKILLed (and rejected) past `timeoutMs`. */
export function runCommand(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...(options.cwd ? { cwd: options.cwd } : {}), env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not finish within ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Run one squadron command to its end (from `cwd`, default this process's). */
export function squadron(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000, cwd?: string): Promise<CliResult> {
  return runCommand(process.execPath, [SQUADRON_BIN, ...args], { env: { ...process.env, ...env }, timeoutMs, ...(cwd ? { cwd } : {}) });
}

/** A long-running squadron command whose output is collected as it comes. */
export interface LiveCommand {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Wait until stdout or stderr matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Signal it and wait for its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startSquadron(args: string[], env: Record<string, string> = {}): LiveCommand {
  const child = spawn(process.execPath, [SQUADRON_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor: (pattern, timeoutMs = 30_000) => waitFor(() => pattern.exec(out) ?? pattern.exec(err), `${pattern} from squadron ${args[0]} (stderr: ${err.slice(-500)})`, timeoutMs, 20),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
