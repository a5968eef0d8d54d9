import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { InstanceInfo } from '@squadron/protocol';

/** The squadron command's entry script. */
export const SQUADRON_BIN = fileURLToPath(new URL('../../cli/bin/squadron.mjs', import.meta.url));

/** The worker fixture: a service with echo, whoami, slow, flaky and spin methods. */
export const WORKER_DIR = fileURLToPath(new URL('../fixtures/worker/', import.meta.url));

export interface InstanceProcess {
  child: ChildProcess;
  info: InstanceInfo;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Run a service instance as its own process through `squadron run`, exactly as the platform
 * does; resolves once it has registered with its broker.
 */
export function spawnInstance(dir: string, site: string, broker: string, env: Record<string, string> = {}): Promise<InstanceProcess> {
  const child = fork(SQUADRON_BIN, ['run', dir, '--site', site, '--broker', broker], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, SQUADRON_LOG_LEVEL: 'warn', ...env },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`instance exited (${code}) before ready: ${stderr}`)));
    child.on('message', (m: { type?: string; instance?: InstanceInfo }) => {
      if (m?.type !== 'ready' || !m.instance) return;
      const info = m.instance;
      resolve({
        child,
        info,
        kill: (signal = 'SIGKILL') => new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          child.once('exit', () => done());
          child.kill(signal);
        }),
      });
    });
  });
}

/** Resident memory of a process in bytes, from /proc. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** True while a process with this pid exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

export interface BrokerProcess {
  child: ChildProcess;
  address: string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Run a site's broker as its own process through `squadron broker`. */
export function spawnBroker(site: string, extraArgs: string[] = []): Promise<BrokerProcess> {
  const child = fork(SQUADRON_BIN, ['broker', '--site', site, ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, SQUADRON_LOG_LEVEL: 'warn' },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`broker exited (${code}) before ready: ${stderr}`)));
    child.on('message', (m: { type?: string; address?: string }) => {
      if (m?.type !== 'ready' || !m.address) return;
      resolve({
        child,
        address: m.address,
        kill: (signal = 'SIGKILL') => new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          child.once('exit', () => done());
          child.kill(signal);
        }),
      });
    });
  });
}
