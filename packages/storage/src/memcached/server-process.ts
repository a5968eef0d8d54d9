import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, rmSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { StorageError } from '../provisioner.ts';
import { LoginRefusedError, memcachedVersion, type SaslLogin } from './binary-protocol.ts';
import { endWithThisProcess } from '../postgres/processes.ts';

/** Restart delays after an unexpected exit: `minMs` doubling up to `maxMs`. */
export interface RestartPolicy {
  /** Default 100 ms. */
  minMs: number;
  /** Default 10 s. */
  maxMs: number;
  /** Up this long, a process is healthy again: the next crash restarts after `minMs`. Default 10 s. */
  stableMs: number;
}

export const DEFAULT_RESTART: RestartPolicy = { minMs: 100, maxMs: 10_000, stableMs: 10_000 };

export interface MemcachedServerOptions {
  /** The site it serves. */
  site: string;
  binary: string;
  host: string;
  port: number;
  /** memcached's item memory (-m), in MiB. */
  memoryMb: number;
  /** `-u` user when running as root; null otherwise. */
  user: string | null;
  /** The folder of the resource's SASL config (SASL_CONF_PATH), which names its password database. */
  saslConfDir: string;
  /** The resource's login, with which the server is asked whether it answers. */
  login: SaslLogin;
  /** Appended with the process's output, across restarts. */
  logFile: string;
  /** Holds the pid of the running process, so a platform that restarts can find it. */
  pidFile: string;
  restart: RestartPolicy;
  /** How long a start may take until it answers `version`. */
  startTimeoutMs: number;
  /** Kills the process with this one, whatever way this one exits. */
  guard: ExitGuard;
  log: Logger;
}

/** `up` answers; `starting` runs but does not answer yet; `restarting` waits for its restart delay. */
export type MemcachedServerStatus = 'starting' | 'up' | 'restarting' | 'stopped';

/**
 * The arguments memcached runs with: loopback only, TCP only, the memory limit, a non-root user,
 * and a login required on every connection (SASL, which takes the binary protocol only: the text
 * protocol has no SASL, and memcached refuses to serve it unauthenticated beside SASL).
 */
export function memcachedArgs(o: Pick<MemcachedServerOptions, 'host' | 'port' | 'memoryMb' | 'user'>): string[] {
  return ['-l', o.host, '-p', String(o.port), '-U', '0', '-m', String(o.memoryMb), '-c', '1024', '-t', '2', '-S', '-B', 'binary', ...(o.user ? ['-u', o.user] : [])];
}

/**
 * One memcached process, kept running: started and waited for until it answers, restarted after
 * an unexpected exit (on the same port, since clients hold it) with a doubling delay, and stopped
 * on demand. A cache holds nothing that must survive, so a restart simply starts it empty.
 */
export class MemcachedServer {
  status: MemcachedServerStatus = 'stopped';
  /** Restarts after unexpected exits. */
  restarts = 0;
  /** The delay of the restart pending now, while `restarting`. */
  restartInMs: number | null = null;
  lastExit: { code: number | null; signal: string | null; at: number } | null = null;

  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private startedAt = 0;
  private stderrTail = '';
  private stopping = false;
  /** Set once a start succeeded: from then on, exits are restarted. */
  private supervised = false;

  constructor(readonly options: MemcachedServerOptions) {}

  get address(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /**
   * Start it and resolve once it answers. Throws a StorageError (`portInUse` set when another
   * process holds the port, so the caller can pick another) and leaves nothing running.
   */
  async start(): Promise<void> {
    if (this.status !== 'stopped') return;
    this.stopping = false;
    const child = this.launch();
    try {
      await this.untilAnswers(child);
      this.supervised = true;
    } catch (err) {
      this.stopping = true;
      await this.kill(child);
      this.status = 'stopped';
      rmSync(this.options.pidFile, { force: true });
      throw err;
    }
  }

  /** Stop it; it is not restarted. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.supervised = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.restartInMs = null;
    if (this.child) await this.kill(this.child);
    this.status = 'stopped';
    rmSync(this.options.pidFile, { force: true });
  }

  private launch(): ChildProcess {
    const o = this.options;
    const out = openSync(o.logFile, 'a');
    let child: ChildProcess;
    try {
      // A small, fixed environment: the resource's SASL config, and nothing of the platform's.
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', SASL_CONF_PATH: o.saslConfDir };
      // Its own process group: a terminal's Ctrl-C reaches the platform alone, which stops this
      // server after what uses it (an exit it did not ask for would be taken for a crash).
      child = spawn(o.binary, memcachedArgs(o), { stdio: ['ignore', out, 'pipe'], env, detached: true });
    } finally {
      closeSync(out);
    }
    this.child = child;
    this.status = 'starting';
    this.startedAt = Date.now();
    this.stderrTail = '';
    o.guard.add(child);
    // The exit guard covers every end of this process but SIGKILL; the watchdog covers that one.
    const watch = child.pid ? endWithThisProcess(child.pid, 'KILL') : null;
    if (child.pid) writeFileSync(o.pidFile, `${child.pid}\n`);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-2_000);
      appendFileSync(o.logFile, chunk);
    });
    this.exited = new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        watch?.release();
        o.guard.delete(child);
        if (this.child === child) this.child = null;
        this.onExit(child.exitCode, child.signalCode);
        resolve();
      };
      // 'close' comes once stderr is drained, so the reason a start failed is in the tail; but a
      // grandchild holding stderr (a wrapper script) would delay it, so the exit is enough soon after.
      child.once('close', finish);
      child.once('exit', () => setTimeout(finish, 200).unref());
    });
    child.once('error', (err) => {
      this.stderrTail += `\n${err.message}`;
    });
    return child;
  }

  private async untilAnswers(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + this.options.startTimeoutMs;
    let gone = false;
    void this.exited.then(() => (gone = true));
    for (;;) {
      if (gone || this.child !== child) throw this.startFailure(child);
      try {
        await memcachedVersion(this.address, this.options.login, 200);
        this.status = 'up';
        return;
      } catch (err) {
        // Refused the resource's own login: waiting longer changes nothing.
        if (err instanceof LoginRefusedError) throw this.startFailure(child, 'it refused the resource\'s own login (SASL PLAIN): its SASL files are unreadable to it, or Cyrus SASL\'s PLAIN module is missing (Debian package libsasl2-modules)');
        // Not listening yet.
      }
      if (Date.now() >= deadline) throw this.startFailure(child, `it did not answer within ${this.options.startTimeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private startFailure(child: ChildProcess, why?: string): StorageError & { portInUse: boolean } {
    const tail = this.stderrTail.trim().split('\n').slice(-3).join(' | ');
    const portInUse = /address already in use/i.test(tail);
    const reason = why ?? `it exited (code ${child.exitCode ?? 'none'}, signal ${child.signalCode ?? 'none'})`;
    const err = new StorageError(
      'STORAGE_UNAVAILABLE',
      `memcached on ${this.address} did not start: ${reason}${tail ? `: ${tail}` : ''}. ` +
        (portInUse ? 'Another process holds the port; free it or start the resource again.' : `See ${this.options.logFile}.`),
    );
    return Object.assign(err, { portInUse });
  }

  private onExit(code: number | null, signal: string | null): void {
    this.lastExit = { code, signal, at: Date.now() };
    if (this.stopping || !this.supervised) return;
    const o = this.options;
    if (Date.now() - this.startedAt >= o.restart.stableMs) this.attempt = 0;
    const delay = Math.min(o.restart.maxMs, o.restart.minMs * 2 ** this.attempt++);
    this.status = 'restarting';
    this.restartInMs = delay;
    o.log.warn({ address: this.address, code, signal, restartInMs: delay }, 'memcached exited; restarting it');
    this.timer = setTimeout(() => {
      this.timer = null;
      this.restartInMs = null;
      if (this.stopping) return;
      this.restarts++;
      const child = this.launch();
      this.untilAnswers(child).catch((err: unknown) => {
        // Its exit schedules the next try; one that hangs without answering is killed first.
        o.log.warn({ err, address: this.address }, 'memcached restart failed');
        if (this.child === child) child.kill('SIGKILL');
      });
    }, delay);
  }

  /**
   * SIGKILL: memcached has nothing to write out, and it acts on SIGTERM only at its next
   * once-a-second clock tick, which would make every stop take up to a second.
   */
  private async kill(child: ChildProcess): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * Kills the memcached processes still running when this process exits, whatever the way it
 * exits short of SIGKILL, so that a crash or an unhandled error leaves no server behind.
 * (After a SIGKILL, `start` finds them by their pid files.)
 */
export class ExitGuard {
  private readonly children = new Set<ChildProcess>();
  private readonly onExit = () => {
    for (const child of this.children) child.kill('SIGKILL');
  };

  add(child: ChildProcess): void {
    if (this.children.size === 0) process.on('exit', this.onExit);
    this.children.add(child);
  }

  delete(child: ChildProcess): void {
    if (!this.children.delete(child)) return;
    if (this.children.size === 0) process.off('exit', this.onExit);
  }
}
