import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { StorageError } from '../provisioner.ts';
import { settingsToArgs, type KvSiteSettings } from './settings.ts';

/** The server's entry, and tsx's loader by absolute URL (a bare `--import tsx` resolves from the cwd). */
const SERVER_MAIN = fileURLToPath(new URL('./server-main.ts', import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Restarts after an unexpected exit: exponential backoff, reset once a run has lasted `stableMs`. */
export interface RestartPolicy {
  minMs: number;
  maxMs: number;
  stableMs: number;
}

export const DEFAULT_RESTART: RestartPolicy = { minMs: 200, maxMs: 10_000, stableMs: 30_000 };

export interface SiteProcessOptions {
  settings: KvSiteSettings;
  /** Its output (a JSON log) is appended here. */
  logFile: string;
  log: Logger;
  /** How long a start may take before it counts as failed (default 30 s: tsx compiles on a cold start). */
  readyTimeoutMs?: number;
  restart?: RestartPolicy;
}

/**
 * One site's kv server as a supervised child process: started with Node and tsx's loader, with
 * an IPC channel (it says when it is ready, and exits by itself if this process goes away),
 * restarted with backoff whenever it dies until `stop`.
 */
export class SiteProcess {
  private child: ChildProcess | null = null;
  private stopped = false;
  private delayMs: number;
  private restartTimer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  /** Times it was started again after dying. */
  restarts = 0;
  ready = false;
  private everReady = false;

  constructor(private readonly options: SiteProcessOptions) {
    this.delayMs = this.policy.minMs;
  }

  get site(): string {
    return this.options.settings.site;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  private get policy(): RestartPolicy {
    return this.options.restart ?? DEFAULT_RESTART;
  }

  /** Start it; resolves once it is ready, rejects (having killed it) if it exits or hangs first. */
  start(): Promise<void> {
    this.stopped = false;
    return this.launch();
  }

  /** Stop it for good (no restart): SIGTERM, then SIGKILL if it has not gone within 5 s. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  private launch(): Promise<void> {
    const { settings, logFile, log } = this.options;
    const { args, env } = settingsToArgs(settings);
    let child: ChildProcess;
    try {
      const out = openSync(logFile, 'a');
      try {
        child = spawn(process.execPath, ['--import', TSX_LOADER, SERVER_MAIN, ...args], {
          stdio: ['ignore', out, out, 'ipc'],
          env: { ...process.env, ...env, SQUADRON_KV_SITE: settings.site },
          // Its own process group: a terminal's Ctrl-C reaches the platform alone, which stops this
          // server after what uses it (an exit it did not ask for would be taken for a crash).
          detached: true,
        });
      } finally {
        closeSync(out);
      }
    } catch (err) {
      // Its folder gone, or no file descriptors left: no process, so no exit to restart from.
      if (this.everReady && !this.stopped) this.scheduleRestart();
      return Promise.reject(this.failure(`could not be started (${(err as Error).message})`));
    }
    // The servers do not hold this process open; if it goes, they see their channel close and exit.
    child.unref();
    child.channel?.unref();
    this.child = child;
    this.ready = false;
    this.startedAt = Date.now();
    const timeoutMs = this.options.readyTimeoutMs ?? 30_000;

    let settle: { resolve(): void; reject(err: Error): void } | null = null;
    const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      settle?.reject(this.failure(`did not say it was ready within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', (m: { type?: string }) => {
      if (m?.type !== 'ready') return;
      clearTimeout(timer);
      this.ready = true;
      this.everReady = true;
      settle?.resolve();
    });

    // Called once, whether the process exits or could not be spawned at all ('error' without 'exit').
    let ended = false;
    const end = (how: string): void => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      settle?.reject(this.failure(`${how} before it was ready`));
      this.ready = false;
      if (this.child === child) this.child = null;
      if (this.stopped) return;
      // A failed first start is the caller's to report; once it has run, it is kept running.
      if (!this.everReady) return;
      if (Date.now() - this.startedAt >= this.policy.stableMs) this.delayMs = this.policy.minMs;
      log.warn({ site: settings.site, how, inMs: this.delayMs }, 'kv server exited; restarting it');
      this.scheduleRestart();
    };
    child.once('exit', (code, signal) => end(`exited (${signal ?? code})`));
    child.once('error', (err) => {
      if (child.pid === undefined) end(`could not be spawned (${err.message})`);
    });
    return ready;
  }

  private scheduleRestart(): void {
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.policy.maxMs);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopped) return;
      this.restarts++;
      this.launch().catch((err: Error) => {
        // The next try is scheduled already (by the exit, or the failed spawn).
        this.options.log.warn({ site: this.site, error: err.message }, 'kv server restart failed');
      });
    }, delay);
  }

  private failure(what: string): StorageError {
    return new StorageError(
      'STORAGE_UNAVAILABLE',
      `the kv server of site '${this.site}' ${what}; its log is ${this.options.logFile}`,
    );
  }
}
