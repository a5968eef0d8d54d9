// Parent-side child process helpers. Every child is tracked from spawn to exit so that a run
// that fails, times out or is interrupted still leaves no process behind.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { FromChild, ToChild } from './ipc.ts';

const OUTPUT_TAIL_CHARS = 4000;

/** Anything this run started and must stop: scenario children and server binaries. */
interface Stoppable {
  stop(graceMs?: number): Promise<void>;
  killNow(): void;
}
const live = new Set<Stoppable>();

type Of<T extends FromChild['type']> = Extract<FromChild, { type: T }>;

/**
 * A process this run started: its output tail kept to explain failures, its exit tracked, and
 * it stops politely (SIGTERM, then SIGKILL after a grace period) or at once.
 */
abstract class TrackedProcess implements Stoppable {
  protected tail = '';
  protected exitInfo: string | null = null;
  abstract readonly exited: Promise<void>;

  constructor(readonly name: string, protected readonly proc: ChildProcess) {
    live.add(this);
    const keep = (chunk: Buffer) => {
      this.tail = (this.tail + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
      if (process.env.BENCH_VERBOSE) process.stderr.write(`[${name}] ${chunk.toString()}`);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
  }

  /** Ask politely (SIGTERM: the process closes its sockets), then SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exitInfo !== null) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  killNow(): void {
    if (this.exitInfo === null) this.proc.kill('SIGKILL');
  }
}

/** One child process running a scenario file in one role, with a typed message inbox. */
export class Child extends TrackedProcess {
  private readonly inbox: FromChild[] = [];
  private wake: (() => void) | null = null;
  readonly exited: Promise<void>;

  /**
   * A scenario file (TypeScript, in a role with a config), or a JavaScript `script` with its
   * arguments, run as the platform runs it (the bundled broker). `runtime`: Node flags and
   * environment the process is meant to run with (a broker's).
   */
  constructor(name: string, scenario: string | { script: string; args: string[] }, role: string, cfg: object, runtime: { execArgv?: readonly string[]; env?: Readonly<Record<string, string>> } = {}) {
    const command = typeof scenario === 'string'
      ? ['--import', 'tsx', fileURLToPath(new URL(`./scenarios/${scenario}.ts`, import.meta.url)), role, JSON.stringify(cfg)]
      : [scenario.script, ...scenario.args];
    // BENCH_CHILD_FLAGS lets a profiling run add e.g. `--cpu-prof` (refused in NODE_OPTIONS).
    const extra = (process.env.BENCH_CHILD_FLAGS ?? '').split(' ').filter(Boolean);
    super(name, spawn(process.execPath, [...extra, ...(runtime.execArgv ?? []), ...command], {
      // Output is kept (tail only) to explain a failure, not shown: it would break the table.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ...runtime.env, SQUADRON_LOG_LEVEL: process.env.SQUADRON_LOG_LEVEL ?? 'warn' },
    }));
    this.proc.on('message', (msg) => {
      this.inbox.push(msg as FromChild);
      this.wake?.();
    });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exitInfo = signal ? `signal ${signal}` : `code ${code}`;
        live.delete(this);
        this.wake?.();
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  send(msg: ToChild): void {
    if (this.proc.connected) this.proc.send(msg);
  }

  /** The next message of `type`; rejects on the child's error report, its exit, or the timeout. */
  async next<T extends FromChild['type']>(type: T, timeoutMs: number): Promise<Of<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((m) => m.type === type || m.type === 'error');
      if (i >= 0) {
        const msg = this.inbox.splice(i, 1)[0]!;
        if (msg.type === 'error') throw new Error(`${this.name} failed: ${msg.message}`);
        return msg as Of<T>;
      }
      if (this.exitInfo !== null) throw new Error(`${this.name} exited (${this.exitInfo}) before '${type}'${this.describeTail()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no '${type}' within ${timeoutMs} ms${this.describeTail()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = null;
    }
  }

  private describeTail(): string {
    const t = this.tail.trim();
    return t ? `\n--- last output of ${this.name} ---\n${t.slice(-1500)}` : '';
  }
}

/**
 * A server binary of the machine (nats-server, redis-server) that a suite starts for one row on
 * a free port. Tracked like a Child: stopped by its suite, and killed on any exit of the run.
 */
export class ServerProcess extends TrackedProcess {
  readonly exited: Promise<void>;

  constructor(name: string, bin: string, args: readonly string[]) {
    super(name, spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    this.exited = new Promise((resolve) => {
      const done = (info: string) => {
        if (this.exitInfo === null) this.exitInfo = info;
        live.delete(this);
        resolve();
      };
      this.proc.on('exit', (code, signal) => done(signal ? `signal ${signal}` : `code ${code}`));
      // A binary that is not there: spawn reports it here, and no 'exit' follows.
      this.proc.on('error', (err) => {
        this.tail += err.message;
        done(`error ${err.message}`);
      });
    });
  }

  /** What it printed last (its own explanation of a refusal, e.g. an unknown config field). */
  get output(): string {
    return this.tail.trim();
  }

  /** Resolves once host:port accepts connections; rejects if the process exits first. */
  async listening(host: string, port: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exitInfo !== null) throw new Error(`${this.name} exited (${this.exitInfo}) before listening${this.output ? `: ${this.output.slice(-1500)}` : ''}`);
      if (await reachable(host, port, 200)) return;
      if (Date.now() > deadline) throw new Error(`${this.name} not listening on ${host}:${port} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

}

const cleanups = new Set<() => Promise<unknown>>();

/**
 * Have `fn` run by `stopAll` if the run ends (Ctrl-C, a crash) before its owner ran it, e.g. to
 * delete a stream on a server the benchmark does not own. Returns the deregistration.
 */
export function cleanupOnExit(fn: () => Promise<unknown>): () => void {
  cleanups.add(fn);
  return () => void cleanups.delete(fn);
}

/**
 * Stop every child still running (children started later first: clients before servers), then
 * run the cleanups still registered, each given at most 2 s.
 */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].reverse().map((c) => c.stop()));
  for (const fn of [...cleanups]) {
    cleanups.delete(fn);
    await Promise.race([fn().catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
  }
}

/** How many children and servers are still alive (the orchestrator asserts zero at the end). */
export function liveCount(): number {
  return live.size;
}

/**
 * Make sure no child survives the orchestrator: on Ctrl-C / SIGTERM stop them and exit; on any
 * exit (including an uncaught error) SIGKILL whatever is left, synchronously.
 */
export function installCleanup(): void {
  const bail = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping child processes\n`);
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', bail);
  process.once('SIGTERM', bail);
  process.on('exit', () => {
    for (const c of live) c.killNow();
  });
}

/** A port nothing listens on right now (the OS picks it; we hand it to a child). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections at host:port within `timeoutMs`. */
export function reachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}
