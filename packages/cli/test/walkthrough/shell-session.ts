import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CommandResult {
  code: number;
  output: string;
}

/** A command started in the background, and where its output goes. */
interface BackgroundCommand {
  command: string;
  pid: number;
  file: string;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Poll `check` every 20 ms until it returns a value, or reject with `what` at the deadline; unlike
 * the testkit's waitFor, an error thrown by `check` ends the wait at once (the shell is gone, a
 * background command ended): nothing would change by waiting longer.
 */
async function until<T>(check: () => T | null, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== null) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether a process still runs (not gone, not a zombie its shell has yet to reap). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * One bash, fed one command at a time, as a reader's terminal is: variables, exports, the folder
 * and background jobs carry from one command to the next. Each command's stdout and stderr come
 * back together with its exit code; a background command writes to a file of its own, so that
 * what it prints later does not land in another command's output.
 */
export class ShellSession {
  private output = '';
  /** Where the next command's output starts. */
  private cursor = 0;
  private readonly mark = `__walkthrough_${randomBytes(6).toString('hex')}__`;
  private readonly background: BackgroundCommand[] = [];
  private exited = false;

  private constructor(private readonly bash: ChildProcess, private readonly scratch: string) {
    bash.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    bash.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    bash.on('exit', () => (this.exited = true));
  }

  /** A bash in `cwd` with `env`; `scratch` is a folder for the background commands' output. */
  static start(cwd: string, env: NodeJS.ProcessEnv, scratch: string): ShellSession {
    // A process group of its own, so that close() ends whatever the commands left running.
    const bash = spawn('bash', ['--noprofile', '--norc'], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    return new ShellSession(bash, scratch);
  }

  /** Run one command to its end; rejects when it takes longer than `timeoutMs`. */
  async run(command: string, timeoutMs: number): Promise<CommandResult> {
    const start = this.cursor;
    // Grouped in this shell (not a subshell), so that assignments and `cd` stay; stdin is not
    // the script's, which a command reading its input would otherwise swallow. Then `jobs`, as an
    // interactive shell does at each prompt: it reports finished jobs and forgets them, so that
    // the next background job is %1 again, as in a reader's terminal.
    this.bash.stdin!.write(`{ ${command}\n} </dev/null 2>&1; set -- "$?"; jobs >/dev/null; printf '\\n${this.mark} %s\\n' "$1"\n`);
    const pattern = new RegExp(`\\n?${this.mark} (\\d+)\\n`);
    const done = await until(() => {
      const found = pattern.exec(this.output.slice(start));
      if (!found && this.exited) throw new Error(`the shell exited while running \`${command}\`; its output:\n${this.output.slice(start)}`);
      return found;
    }, `\`${command}\` to finish`, timeoutMs).catch((err: Error) => {
      throw new Error(`${err.message}\nits output so far:\n${this.output.slice(start)}`);
    });
    this.cursor = start + done.index + done[0].length;
    return { code: Number(done[1]), output: this.output.slice(start, start + done.index) };
  }

  /**
   * Start a command in the background, its output to a file, and wait until it says it is
   * ready (`ready`), or fail when it ends first or `timeoutMs` passes.
   */
  async start(command: string, ready: RegExp, timeoutMs: number): Promise<void> {
    const file = join(this.scratch, `background-${this.background.length + 1}.out`);
    const { code, output } = await this.run(`${command} >${shellQuote(file)} 2>&1 &\necho "pid $!"`, 10_000);
    const pid = Number(/pid (\d+)/.exec(output)?.[1]);
    if (code !== 0 || !pid) throw new Error(`could not start \`${command}\` in the background: ${output}`);
    this.background.push({ command, pid, file });
    const said = () => (existsSync(file) ? readFileSync(file, 'utf8') : '');
    await until(() => {
      if (ready.test(said())) return true;
      if (!running(pid)) throw new Error(`\`${command}\` ended before saying it was ready (${ready})`);
      return null;
    }, `\`${command}\` to say it is ready (${ready})`, timeoutMs).catch((err: Error) => {
      throw new Error(`${err.message}; it printed:\n${said()}`);
    });
  }

  /** What each background command has printed so far, for a failure's report. */
  backgroundOutput(): string {
    return this.background.map((b) => {
      const text = existsSync(b.file) ? readFileSync(b.file, 'utf8') : '';
      return `[background${running(b.pid) ? ', still running' : ''}] ${b.command}\n${text}`;
    }).join('\n');
  }

  /** End the shell and everything its commands left running. */
  async close(): Promise<void> {
    if (this.bash.pid === undefined) return;
    const group = -this.bash.pid;
    const signal = (s: NodeJS.Signals) => {
      try {
        process.kill(group, s);
      } catch {
        /* nothing left in the group */
      }
    };
    signal('SIGTERM');
    this.bash.stdin!.end();
    const left = () => this.background.some((b) => running(b.pid));
    await until(() => (this.exited && !left() ? true : null), 'the walkthrough shell and its background commands to end', 10_000)
      .catch(() => signal('SIGKILL'));
  }
}
