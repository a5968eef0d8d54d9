import { fork, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { Backoff } from '@squadron/transport';
import { SquadronError } from '@squadron/protocol';
import { BIN } from '../env.ts';

export interface ChildSpec {
  /** Unique name; also the log file's name. */
  name: string;
  /** Arguments of the squadron command. */
  args: string[];
  /**
   * A script that runs the command with plain Node, in place of the squadron command (which
   * loads TypeScript); it gets `runtime.execArgv` and nothing of this process's flags.
   */
  script?: string;
  /** Start again after an unexpected exit, with exponential backoff. */
  restart: boolean;
  /** Called on every `ready` message, the first and those after restarts. */
  onReady?: (message: unknown) => void;
  /** Stopped in order of stage, highest first: instances (1) drain before brokers (0) go. */
  stage: number;
  /** Node flags and environment the child needs beyond this process's own. */
  runtime?: { execArgv?: readonly string[]; env?: Readonly<Record<string, string>> };
}

/** A child that exited before it ever said it was ready: the platform cannot start. */
export class StartupError extends SquadronError {
  override readonly name = 'StartupError';
  constructor(message: string) {
    super('STARTUP_FAILED', message);
  }
}

interface Managed {
  spec: ChildSpec;
  child: ChildProcess | null;
  backoff: Backoff;
  startedAt: number;
  readyMessage: unknown;
  readyWaiters: Array<{ resolve(m: unknown): void; reject(e: Error): void }>;
}

const RESTART_MIN_MS = 200;
const RESTART_MAX_MS = 10_000;
const STABLE_MS = 30_000;

/**
 * The processes `squadron up` started. Each child runs the squadron command with an IPC channel:
 * it reports when it is ready, and it exits by itself when this process goes away, so that none
 * is left behind even if this one is killed. Output goes to one log file per child.
 */
export class ProcessTree {
  private readonly children = new Map<string, Managed>();
  private stopping = false;

  constructor(private readonly logDir: string, private readonly onEvent: (line: string) => void) {}

  /** Start a child; resolves with its first `{ type: 'ready' }` message. */
  start(spec: ChildSpec): Promise<unknown> {
    const m: Managed = { spec, child: null, backoff: new Backoff(RESTART_MIN_MS, RESTART_MAX_MS), startedAt: 0, readyMessage: null, readyWaiters: [] };
    this.children.set(spec.name, m);
    const ready = new Promise<unknown>((resolve, reject) => m.readyWaiters.push({ resolve, reject }));
    this.launch(m);
    return ready;
  }

  /** Arguments for later restarts (a broker keeps the port it first got). */
  setArgs(name: string, args: string[]): void {
    const m = this.children.get(name);
    if (m) m.spec.args = args;
  }

  send(name: string, message: object): void {
    this.children.get(name)?.child?.send(message);
  }

  pids(): number[] {
    return [...this.children.values()].flatMap((m) => (m.child?.pid ? [m.child.pid] : []));
  }

  private launch(m: Managed): void {
    const log = openSync(join(this.logDir, `${m.spec.name}.log`), 'a');
    const { execArgv = [], env = {} } = m.spec.runtime ?? {};
    const child = fork(m.spec.script ?? BIN, m.spec.args, {
      stdio: ['ignore', log, log, 'ipc'],
      // Its own process group: a terminal's Ctrl-C reaches this process alone, which stops the
      // children in order (instances drain while their brokers still run); signalled directly,
      // each would exit at once, in any order. Without this process, each exits by itself.
      detached: true,
      env: { ...process.env, ...env },
      execArgv: m.spec.script ? [...execArgv] : [...process.execArgv, ...execArgv],
    });
    closeSync(log);
    m.child = child;
    m.startedAt = Date.now();
    child.on('message', (msg: { type?: string }) => {
      if (msg?.type !== 'ready') return;
      m.readyMessage = msg;
      m.spec.onReady?.(msg);
      for (const w of m.readyWaiters.splice(0)) w.resolve(msg);
    });
    child.on('exit', (code, signal) => {
      m.child = null;
      if (this.stopping) return;
      const why = signal ? `signal ${signal}` : `code ${code}`;
      if (m.readyMessage === null) {
        // Never came up: restarting would only loop. The caller reports it and stops.
        const log = join(this.logDir, `${m.spec.name}.log`);
        for (const w of m.readyWaiters.splice(0)) w.reject(new StartupError(`${m.spec.name} exited (${why}) before it was ready; its log is ${log}`));
        return;
      }
      if (!m.spec.restart) return;
      // A child that stayed up a while crashed once; one that dies at once is crash-looping.
      if (Date.now() - m.startedAt > STABLE_MS) m.backoff.reset();
      const delay = m.backoff.next();
      this.onEvent(`${m.spec.name} exited (${why}); restarting in ${delay} ms`);
      setTimeout(() => {
        if (!this.stopping) this.launch(m);
      }, delay).unref();
    });
  }

  /**
   * Stop every child, stage by stage (instances, then brokers, so that draining instances can
   * still reach their broker): SIGTERM, then SIGKILL whatever has not exited after `graceMs`.
   */
  async stopAll(graceMs = 12_000): Promise<void> {
    this.stopping = true;
    const stages = [...new Set([...this.children.values()].map((m) => m.spec.stage))].sort((a, b) => b - a);
    for (const stage of stages) {
      const live = [...this.children.values()]
        .filter((m) => m.spec.stage === stage)
        .flatMap((m) => (m.child && m.child.exitCode === null && m.child.signalCode === null ? [m.child] : []));
      await stopChildren(live, graceMs);
    }
  }
}

async function stopChildren(children: ChildProcess[], graceMs: number): Promise<void> {
  const exited = children.map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve())));
  for (const c of children) c.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }, graceMs);
  await Promise.all(exited);
  clearTimeout(timer);
}
