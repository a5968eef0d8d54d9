import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { InstanceInfo } from '@squadron/protocol';

/** The squadron command's entry script. */
export const SQUADRON_BIN = fileURLToPath(new URL('../../cli/bin/squadron.mjs', import.meta.url));

/** The worker fixture: a service with echo, write, flaky, setFlaky, boom and spin methods. */
export const WORKER_DIR = fileURLToPath(new URL('../fixtures/worker/', import.meta.url));

/** A squadron child process that has said it is ready. */
export interface ReadyProcess<M> {
  child: ChildProcess;
  ready: M;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Start `squadron ARGS` with an IPC channel, as the platform does, and resolve with its first
 * `{ type: 'ready' }` message.
 */
function forkReady<M extends { type: string }>(args: string[], env: Record<string, string> = {}): Promise<ReadyProcess<M>> {
  const child = fork(SQUADRON_BIN, args, {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, SQUADRON_LOG_LEVEL: 'warn', ...env },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const kill = (signal: NodeJS.Signals = 'SIGKILL') => new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    child.kill(signal);
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`squadron ${args[0]} exited (${code}) before ready: ${stderr}`)));
    child.on('message', (m: M) => {
      if (m?.type === 'ready') resolve({ child, ready: m, kill });
    });
  });
}

export interface InstanceProcess {
  child: ChildProcess;
  info: InstanceInfo;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Run a service instance as its own process through `squadron run`, exactly as the platform
 * does; resolves once it has registered with its broker.
 */
export async function spawnInstance(dir: string, site: string, broker: string, env: Record<string, string> = {}): Promise<InstanceProcess> {
  const p = await forkReady<{ type: string; instance: InstanceInfo }>(['run', dir, '--site', site, '--broker', broker], env);
  return { child: p.child, info: p.ready.instance, kill: p.kill };
}

export interface BrokerProcess {
  child: ChildProcess;
  address: string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Run a site's broker as its own process through `squadron broker`. */
export async function spawnBroker(site: string, extraArgs: string[] = []): Promise<BrokerProcess> {
  const p = await forkReady<{ type: string; address: string }>(['broker', '--site', site, ...extraArgs]);
  return { child: p.child, address: p.ready.address, kill: p.kill };
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
