import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { InstanceExitBody, InstanceExitReason, InstanceReportBody, InstanceState, ServiceInterfaceBody } from '@squadron/client';
import type { InstanceInfo } from '@squadron/protocol';
import { Backoff } from '@squadron/transport';
import { SupervisorError } from './errors.ts';
import { CpuSampler, readRssBytes } from './proc-stats.ts';
import { diedOfHeapLimit, heapCapFlag } from './memory-ceiling.ts';
import { ResourceGuard, type InsulationOptions } from './resource-guard.ts';
import { inheritedEnv, type InstanceSandbox, type SandboxedCommand } from './instance-sandbox.ts';

/**
 * How to run an instance: `node EXEC_ARGV SCRIPT ARGS PATH --site S --broker B --instance-id ID`.
 * The platform runs release artifacts with its instance runtime (SCRIPT, no ARGS, PATH the
 * artifact's entry); `squadron run` (ARGS `run`, PATH a service folder) runs a folder as it is.
 * The CLI passes its own scripts, so this package needs no CLI.
 */
export interface Runner {
  script: string;
  execArgv: readonly string[];
  /** Between the script and the path (default `['run']`, for the squadron command). */
  args?: readonly string[];
}

/** One instance to run. */
export interface InstanceSpec {
  id: string;
  /** What the runner runs: the release artifact's entry file (or, for `squadron run`, the service folder). */
  path: string;
  /** The folder holding the release's files, which the instance may read (default `path`). */
  releaseDir?: string;
  site: string;
  /** The site broker's address. */
  broker: string;
  /** Environment of this instance alone (its identity), on top of the supervisor's. */
  env?: Readonly<Record<string, string>>;
  /** Its memory ceiling in MiB: a V8 heap cap below it, and killed when it stays above. Absent: none. */
  maxMemoryMb?: number;
  /** The squad that owns the service: with a sandbox, the instance runs as that squad's OS user. */
  squad?: string;
}

/** A state transition; `null` is "not supervised" (before start, after it exited for good). */
export interface InstanceChange {
  id: string;
  from: InstanceState | null;
  to: InstanceState | null;
  /** Set when the transition is the process exiting (to `crashed` or `null`). */
  exit: InstanceExitBody | null;
  /** To `crashed`: when it will be started again. */
  restartInMs: number | null;
}

export interface SupervisorOptions {
  runner: Runner;
  /** One log file per instance is appended here (`<id>.log`, stdout and stderr). */
  logDir: string;
  /** Called on every state transition, so that the agent can report at once. */
  onChange?: (change: InstanceChange) => void;
  /** Environment for the instances, on top of the little they keep of this process's own (PATH, locale, log level). */
  env?: Readonly<Record<string, string>>;
  /** Runs each squad's instances apart (its own OS user, Node's permission model, limits); absent: as this process. */
  sandbox?: InstanceSandbox;
  /** Restart delays: `minMs` (default 100) doubling up to `maxMs` (default 30 s). */
  restart?: { minMs?: number; maxMs?: number };
  /** Exits before ready, in a row, that make an instance `crashLoop` (default 3). */
  crashLoopAfter?: number;
  /**
   * Instances starting at once (default: the machine's cores, at least 2); the others wait their
   * turn. A hundred Node processes booting together on two cores starve the agent itself, whose
   * reports then come late enough for the control plane to take it for dead.
   */
  maxStarting?: number;
  /** Memory ceilings and CPU demotion: how often instances are sampled, when to act. */
  insulation?: InsulationOptions;
  /** Called when an instance is demoted for its CPU use, or gets its priority back. */
  onDemotion?: (id: string, demoted: boolean) => void;
  logger?: Logger;
}

/** What the runner sends once its instance registered with the broker. */
interface ReadyMessage {
  type: 'ready';
  instance: InstanceInfo;
  interface?: ServiceInterfaceBody;
}

interface Managed {
  spec: InstanceSpec;
  state: InstanceState;
  child: ChildProcess | null;
  /** Resolves when the current child has exited (and been reaped). */
  exited: Promise<void> | null;
  cpu: CpuSampler | null;
  restarts: number;
  /** Exits before ready since the last ready. */
  failures: number;
  crashLoop: boolean;
  lastExit: InstanceExitBody | null;
  readyAt: number | null;
  iface: ServiceInterfaceBody | null;
  backoff: Backoff;
  /** The provisioning delay or the restart delay. */
  timer: NodeJS.Timeout | null;
  /** When the restart delay ends, while crashed. */
  restartAt: number | null;
  /** Why the supervisor is killing the current process, if it is. */
  killReason: InstanceExitReason | null;
  logFile: string;
  draining: Promise<void> | null;
}

const isReady = (m: unknown): m is ReadyMessage =>
  typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'ready' && typeof (m as { instance?: unknown }).instance === 'object';

/**
 * Runs service instances as child processes of `squadron run` and keeps them running. A child
 * that exits on its own is restarted: at once if it had become ready (it crashed once), with a
 * doubling delay if it died while starting (its code or config is broken, so it is flagged
 * `crashLoop` after a few in a row). Every child is waited for, so none is left a zombie, and
 * each has an IPC channel to this process, so that none outlives it: the runner exits when the
 * channel closes.
 */
export class InstanceSupervisor {
  private readonly instances = new Map<string, Managed>();
  /** Waiting for a turn to start, in order. */
  private readonly queued: Managed[] = [];
  private readonly maxStarting: number;
  private readonly guard: ResourceGuard;
  private closed = false;

  constructor(private readonly options: SupervisorOptions) {
    mkdirSync(options.logDir, { recursive: true });
    this.maxStarting = Math.max(1, options.maxStarting ?? Math.max(2, availableParallelism()));
    this.guard = new ResourceGuard(options.insulation ?? {}, {
      overMemory: (id, rssBytes, ceilingBytes) => this.killForMemory(id, rssBytes, ceilingBytes),
      priorityChanged: (id, demoted) => {
        try {
          options.onDemotion?.(id, demoted);
        } catch (err) {
          options.logger?.error({ err, instance: id }, 'demotion listener failed');
        }
      },
    }, options.logger);
  }

  /** Start an instance, after `delayMs` (state `pending` until then). */
  /** Environment for the instance's next starts (a renewed credential), and a message to the running one. */
  update(id: string, env: Readonly<Record<string, string>>, message?: object): void {
    const m = this.instances.get(id);
    if (!m) return;
    m.spec.env = { ...m.spec.env, ...env };
    if (message && m.child?.connected) m.child.send(message);
  }

  start(spec: InstanceSpec, delayMs = 0): void {
    if (this.closed) throw new SupervisorError(`cannot start instance ${spec.id}: the supervisor is stopping`);
    if (this.instances.has(spec.id)) throw new SupervisorError(`instance ${spec.id} is already supervised`);
    const { minMs = 100, maxMs = 30_000 } = this.options.restart ?? {};
    const m: Managed = {
      spec: { ...spec }, state: 'pending', child: null, exited: null, cpu: null, restarts: 0, failures: 0, crashLoop: false,
      lastExit: null, readyAt: null, iface: null, backoff: new Backoff(minMs, maxMs), timer: null, restartAt: null, killReason: null,
      logFile: join(this.options.logDir, `${spec.id.replace(/[^\w.-]/g, '_')}.log`), draining: null,
    };
    this.instances.set(spec.id, m);
    if (delayMs > 0) {
      this.emit(m, null, 'pending');
      m.timer = setTimeout(() => this.launch(m), delayMs);
    } else {
      this.launch(m, null);
    }
  }

  has(id: string): boolean {
    return this.instances.has(id);
  }

  /** The instance's state, or undefined when it is not supervised. */
  stateOf(id: string): InstanceState | undefined {
    return this.instances.get(id)?.state;
  }

  ids(): string[] {
    return [...this.instances.keys()];
  }

  /** Pids of the children alive now. */
  pids(): number[] {
    return [...this.instances.values()].flatMap((m) => (m.child?.pid ? [m.child.pid] : []));
  }

  /** Every supervised instance, with memory and CPU sampled now (null where /proc is missing). */
  snapshot(): InstanceReportBody[] {
    const now = Date.now();
    return [...this.instances.values()].map((m) => {
      const pid = m.child?.pid ?? null;
      return {
        id: m.spec.id,
        state: m.state,
        pid,
        rssBytes: pid === null ? null : readRssBytes(pid),
        cpuPercent: m.cpu?.sample(now) ?? null,
        restarts: m.restarts,
        crashLoop: m.crashLoop,
        lastExit: m.lastExit,
        readyAt: m.readyAt,
        demoted: this.guard.isDemoted(m.spec.id),
        restartAt: m.restartAt,
        ...(m.iface ? { interface: m.iface } : {}),
      };
    });
  }

  /**
   * Stop an instance for good: SIGTERM (the runner leaves the registry and finishes its in-flight
   * requests), SIGKILL after `graceMs`. Resolves once it exited; it is not restarted.
   */
  drain(id: string, graceMs: number): Promise<void> {
    const m = this.instances.get(id);
    if (!m) return Promise.resolve();
    if (m.draining) return m.draining;
    if (m.timer) clearTimeout(m.timer);
    m.timer = null;
    const { child, exited } = m;
    if (!child || !exited) {
      // Waiting to start or to restart: nothing runs, so it is gone at once.
      this.instances.delete(id);
      this.emit(m, m.state, null);
      return (m.draining = Promise.resolve());
    }
    const from = m.state;
    m.state = 'draining';
    this.emit(m, from, 'draining');
    this.launchQueued();
    child.kill('SIGTERM');
    const killer = setTimeout(() => {
      this.options.logger?.warn({ instance: id, graceMs }, 'instance did not stop within its grace period; killing it');
      child.kill('SIGKILL');
    }, graceMs);
    return (m.draining = exited.then(() => clearTimeout(killer)));
  }

  /** Drain every instance and start no more; resolves when every child has exited. */
  async stopAll(graceMs: number): Promise<void> {
    this.closed = true;
    await Promise.all(this.ids().map((id) => this.drain(id, graceMs)));
    this.guard.stop();
  }

  /** Start it now if fewer than `maxStarting` are starting, else when one of them is done starting. */
  private launch(m: Managed, from: InstanceState | null = m.state): void {
    m.timer = null;
    m.restartAt = null;
    if (this.startingCount() >= this.maxStarting) {
      if (from === null) this.emit(m, null, 'pending');
      this.queued.push(m);
      return;
    }
    this.spawnNow(m, from);
  }

  private startingCount(): number {
    let n = 0;
    for (const m of this.instances.values()) if (m.state === 'starting') n++;
    return n;
  }

  /** One finished starting (ready, exited, drained): the next waiting ones get their turn. */
  private launchQueued(): void {
    while (this.queued.length > 0 && this.startingCount() < this.maxStarting) {
      const m = this.queued.shift()!;
      // Drained or forgotten while it waited.
      if (this.instances.get(m.spec.id) !== m || m.child || this.closed) continue;
      this.spawnNow(m, m.state);
    }
  }

  private spawnNow(m: Managed, from: InstanceState | null): void {
    const { spec } = m;
    let child: ChildProcess;
    try {
      const log = openSync(m.logFile, 'a');
      try {
        // A JSON line like the instance's own, so that its log file is JSON lines only.
        writeSync(log, `${JSON.stringify({ level: 30, time: Date.now(), name: 'agent', instance: spec.id, restarts: m.restarts, msg: 'starting the instance' })}\n`);
        const command = this.commandFor(spec);
        child = spawn(command.file, command.args, {
          stdio: ['ignore', log, log, 'ipc'],
          cwd: command.cwd,
          env: command.env,
          ...(command.uid !== undefined ? { uid: command.uid, gid: command.gid } : {}),
        });
      } finally {
        closeSync(log);
      }
    } catch (err) {
      // No process (log dir gone, no more pids): counted as a failed start, retried with backoff.
      this.options.logger?.error({ instance: spec.id, err }, 'could not start the instance process');
      this.afterExit(m, from, { code: null, signal: null, at: Date.now() }, false);
      return;
    }
    m.child = child;
    m.state = 'starting';
    m.readyAt = null;
    m.cpu = child.pid === undefined ? null : new CpuSampler(child.pid);
    m.killReason = null;
    // A restart after a crash starts below normal priority: a crash loop or a leak pays for its own restarts.
    if (child.pid !== undefined) this.guard.watch(spec.id, child.pid, spec.maxMemoryMb ?? null, m.restarts > 0);
    let readySinceStart = false;
    let done = false;
    m.exited = new Promise<void>((resolve) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        if (done) return;
        done = true;
        if (m.child === child) {
          m.child = null;
          m.cpu = null;
          this.guard.forget(spec.id);
          const reason = m.killReason ?? (signal === 'SIGABRT' && spec.maxMemoryMb !== undefined && diedOfHeapLimit(m.logFile) ? 'heap-limit' : null);
          m.killReason = null;
          if (reason === 'heap-limit') this.options.logger?.warn({ instance: spec.id, maxMemoryMb: spec.maxMemoryMb }, 'instance ran out of the heap its memory ceiling allows');
          this.afterExit(m, m.state, { code, signal, at: Date.now(), ...(reason ? { reason } : {}) }, readySinceStart);
          this.launchQueued();
        }
        resolve();
      };
      child.once('exit', onExit);
      child.on('error', (err) => {
        this.options.logger?.error({ instance: spec.id, err }, 'instance process error');
        // A child that could not be spawned emits no exit.
        if (child.pid === undefined) onExit(null, null);
      });
    });
    child.on('message', (msg: unknown) => {
      if (!isReady(msg) || m.child !== child) return;
      readySinceStart = true;
      m.readyAt = Date.now();
      m.iface = msg.interface ?? {
        methods: msg.instance.methods.map((x) => x.name),
        topics: [...msg.instance.topics],
        queues: [],
      };
      m.failures = 0;
      m.crashLoop = false;
      m.backoff.reset();
      this.guard.ready(spec.id);
      if (m.state === 'starting') {
        m.state = 'ready';
        this.emit(m, 'starting', 'ready');
      }
      this.launchQueued();
    });
    this.emit(m, from, 'starting');
  }

  /** `node [flags] squadron run …` for this instance, sandboxed for its squad when there is a sandbox. */
  private commandFor(spec: InstanceSpec): SandboxedCommand {
    const nodeArgs = [
      // Last, so that it wins over the same flag in the runner's own.
      ...this.options.runner.execArgv, ...(spec.maxMemoryMb === undefined ? [] : [heapCapFlag(spec.maxMemoryMb)]),
      this.options.runner.script, ...(this.options.runner.args ?? ['run']), spec.path, '--site', spec.site, '--broker', spec.broker, '--instance-id', spec.id,
    ];
    // Nothing of this process's environment but the harmless: the agent's token is not the instance's.
    const env = { ...inheritedEnv(), ...this.options.env, ...spec.env };
    const { sandbox } = this.options;
    if (!sandbox || spec.squad === undefined) return { file: process.execPath, args: nodeArgs, cwd: process.cwd(), env };
    const command = sandbox.command(spec.squad, spec.releaseDir ?? spec.path, nodeArgs);
    return { ...command, env: { ...env, ...command.env } };
  }

  /** The instance's process is gone: forget it if it was told to stop, else restart it later. */
  private afterExit(m: Managed, from: InstanceState | null, exit: InstanceExitBody, wasReady: boolean): void {
    m.lastExit = exit;
    if (from === 'draining' || this.closed) {
      this.instances.delete(m.spec.id);
      this.emit(m, from, null, exit);
      return;
    }
    // A ready instance had its backoff reset when it became ready, so it comes back at once.
    if (!wasReady && ++m.failures >= (this.options.crashLoopAfter ?? 3)) m.crashLoop = true;
    const delay = m.backoff.next();
    m.state = 'crashed';
    m.restartAt = exit.at + delay;
    this.options.logger?.warn(
      { instance: m.spec.id, code: exit.code, signal: exit.signal, reason: exit.reason, wasReady, crashLoop: m.crashLoop, restartInMs: delay },
      wasReady ? 'instance exited; restarting it' : 'instance exited before it was ready; restarting it after a delay',
    );
    m.timer = setTimeout(() => {
      m.restarts++;
      this.launch(m);
    }, delay);
    this.emit(m, from, 'crashed', exit, delay);
  }

  /** Its resident memory stayed above its ceiling: SIGKILL, since a process that big may not get to a graceful stop. */
  private killForMemory(id: string, rssBytes: number, ceilingBytes: number): void {
    const m = this.instances.get(id);
    if (!m?.child) return;
    m.killReason = 'memory-limit';
    this.options.logger?.warn({ instance: id, rssMb: Math.round(rssBytes / 1048576), maxMemoryMb: m.spec.maxMemoryMb },
      'instance stayed above its memory ceiling: killing it');
    m.child.kill('SIGKILL');
  }

  private emit(m: Managed, from: InstanceState | null, to: InstanceState | null, exit: InstanceExitBody | null = null, restartInMs: number | null = null): void {
    try {
      this.options.onChange?.({ id: m.spec.id, from, to, exit, restartInMs });
    } catch (err) {
      this.options.logger?.error({ err, instance: m.spec.id }, 'instance change listener failed');
    }
  }
}
