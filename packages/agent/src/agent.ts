import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ApiError, MEMORY_CEILING_MB, type AssignmentBody, type AssignmentsBody, type ControlClient } from '@squadron/client';
import { Backoff } from '@squadron/transport';
import { AgentError } from './errors.ts';
import { InstanceSupervisor, type Runner } from './instance-supervisor.ts';
import type { InsulationOptions } from './resource-guard.ts';
import { ReportScheduler } from './report-scheduler.ts';
import { InstancePolicies } from './instance-policies.ts';
import { InstanceStorage } from './instance-storage.ts';
import { InstanceCredentials, squadOf } from './instance-credentials.ts';
import { InstanceSandbox, type SandboxOptions } from './instance-sandbox.ts';
import { ArtifactCache } from './artifact-cache.ts';

/** What the agent needs of the control plane's client (a fake will do in tests). */
export type AgentControl = Pick<ControlClient, 'url' | 'registerAgent' | 'assignments' | 'report' | 'jwks' | 'instanceCredential' | 'revokedCredentials' | 'policies' | 'serviceStorage' | 'servicesStorage' | 'artifact'>;

export interface AgentOptions {
  control: AgentControl;
  site: string;
  /** This machine's name, as the control plane lists the agent. */
  host: string;
  /** Instance slots, overriding the site's default (datacenter sites). */
  slots?: number;
  runner: Runner;
  /** Where each instance's log file goes. */
  logDir: string;
  /** Where the agent keeps its copies of the release artifacts it runs (emptied at start; default: in the sandbox's scratch root, else beside logDir). Squads' OS users must be able to pass through every folder above it. */
  artifactDir?: string;
  logger: Logger;
  /** How long a drained instance may take to finish its in-flight requests (default 30 s). */
  drainGraceMs?: number;
  /** How long each long poll for assignments waits (default 25 s). */
  pollWaitMs?: number;
  /** Delays between attempts while the control plane is unreachable (default 250 ms to 10 s). */
  retry?: { minMs?: number; maxMs?: number };
  /** Environment for the instances on top of this process's own. */
  env?: Readonly<Record<string, string>>;
  /** Memory ceilings and CPU demotion (defaults in resource-guard.ts and cpu-insulation.ts). */
  insulation?: InsulationOptions;
  /**
   * How each squad's instances are kept apart (instance-sandbox.ts): its own OS user where this
   * process is root, Node's permission model, limits. `false`: instances run as this process.
   */
  sandbox?: SandboxOptions | false;
}

/** How often the revoked credentials are read, so that instances refuse them within about a second. */
const REVOCATIONS_EVERY_MS = 1000;

/** Polls again this soon while instances wait for the site's broker address to be known. */
const BROKER_WAIT_POLL_MS = 1000;
/** The last report on stop is best effort: a control plane that is down must not hold it up. */
const FINAL_REPORT_MS = 2000;

/** The control plane no longer knows this agent id (it forgot it): register again. */
const forgotten = (err: unknown) => err instanceof ApiError && err.status === 404;

/** Unreachable, overloaded or failing: worth trying again. A 4xx answer will not change. */
const transient = (err: unknown) => !(err instanceof ApiError) || err.status === 0 || err.status === 408 || err.status === 429 || err.status >= 500;

/**
 * A site's agent: registers with the control plane, long-polls for the instances it must run,
 * runs them through an `InstanceSupervisor`, and reports their state at once on every change.
 * The control plane is not needed to keep things running: while it is unreachable, the
 * instances keep running and the agent keeps retrying.
 */
export class Agent {
  readonly supervisor: InstanceSupervisor;
  /** Null when the agent was told to run instances as itself. */
  readonly sandbox: InstanceSandbox | null;
  private readonly log: Logger;
  private readonly reports: ReportScheduler;
  private readonly credentials: InstanceCredentials;
  private readonly policies: InstancePolicies;
  private readonly storage: InstanceStorage;
  private readonly artifacts: ArtifactCache;
  /** Instances between being listed and being started (credential, OS user, artifact). */
  private readonly preparing = new Set<string>();
  private readonly abort = new AbortController();
  /** Cuts short the long poll in flight when the agent registers again under a new id. */
  private pollAbort = new AbortController();
  private readonly backoff: Backoff;
  private agentId: string | null = null;
  private version = 0;
  private waitingForBroker = false;
  /** The last list of assignments, to act on again when starting an instance must wait. */
  private lastList: AssignmentsBody | null = null;
  private watchingRevocations = false;
  private registering: Promise<string> | null = null;
  private started = false;
  private stopped = false;
  private stopping: Promise<void> | null = null;

  constructor(private readonly options: AgentOptions) {
    this.log = options.logger;
    this.backoff = new Backoff(options.retry?.minMs ?? 250, options.retry?.maxMs ?? 10_000);
    this.reports = new ReportScheduler(() => this.sendReport());
    this.credentials = new InstanceCredentials(options.control, () => this.agentId, (id, env, message) => this.supervisor.update(id, env, message), options.logger);
    this.policies = new InstancePolicies(options.control, (id, env, message) => this.supervisor.update(id, env, message), options.logger);
    this.storage = new InstanceStorage(options.control, (id, env, message) => this.supervisor.update(id, env, message), options.logger);
    this.sandbox = options.sandbox === false ? null : new InstanceSandbox(options.runner.script, options.sandbox);
    this.artifacts = new ArtifactCache(options.artifactDir ?? this.sandbox?.releaseRoot ?? `${options.logDir.replace(/\/+$/, '')}-artifacts`,
      (digest) => options.control.artifact(digest, this.abort.signal), (squad) => this.sandbox?.ownerOf(squad) ?? null);
    for (const what of this.sandbox?.lost ?? ['instances are not sandboxed: each runs as the agent\'s own OS user, with its privileges']) {
      this.log.warn(`isolation between squads is weaker on this machine: ${what}`);
    }
    this.supervisor = new InstanceSupervisor({
      runner: options.runner,
      ...(this.sandbox ? { sandbox: this.sandbox } : {}),
      logDir: options.logDir,
      logger: options.logger,
      ...(options.env ? { env: options.env } : {}),
      ...(options.insulation ? { insulation: options.insulation } : {}),
      onChange: (c) => {
        this.log.debug({ instance: c.id, from: c.from, to: c.to }, 'instance state changed');
        if (c.to === null) this.releaseCopy(c.id);
        this.reports.soon();
      },
      onDemotion: () => this.reports.soon(),
    });
  }

  /** The id the control plane gave this agent; null until registered. */
  get id(): string | null {
    return this.agentId;
  }

  /**
   * Register (retrying while the control plane is unreachable), then run in the background until
   * `stop()`. Resolves with the agent's id; rejects with `AgentError` if the control plane refuses
   * the registration or `stop()` is called first.
   */
  async start(): Promise<string> {
    if (this.started) throw new AgentError('STARTED', 'start() was already called on this agent');
    this.started = true;
    // Stopped meanwhile: the cache may be gone under it, and registering says STOPPED.
    await this.artifacts.open().catch((err: unknown) => {
      if (!this.stopped) throw err;
    });
    const id = await this.register(null);
    void this.pollLoop();
    return id;
  }

  /** Stop polling, drain every instance, resolve when every child has exited. */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      this.stopped = true;
      this.abort.abort();
      this.log.info({ instances: this.supervisor.ids().length }, 'agent stopping: draining its instances');
      this.credentials.stop();
      this.policies.stop();
      this.storage.stop();
      await this.supervisor.stopAll(this.options.drainGraceMs ?? 30_000);
      await this.artifacts.close().catch((err: unknown) => this.log.warn({ err }, 'could not remove the copies of releases'));
      this.sandbox?.close();
      void this.reports.stop();
      if (this.agentId) await Promise.race([this.sendReport(), sleep(FINAL_REPORT_MS, undefined, { ref: false })]);
      this.log.info('agent stopped');
    })());
  }

  /** Register, or register again once the control plane forgot `staleId` (once for all callers). */
  private register(staleId: string | null): Promise<string> {
    if (staleId !== null && this.agentId !== staleId && this.agentId !== null) return Promise.resolve(this.agentId);
    return (this.registering ??= this.registerWithRetry().finally(() => (this.registering = null)));
  }

  private async registerWithRetry(): Promise<string> {
    const { control, site, host, slots } = this.options;
    const backoff = new Backoff(this.backoff.minMs, this.backoff.maxMs);
    for (;;) {
      if (this.stopped) throw new AgentError('STOPPED', 'the agent was stopped before it registered');
      try {
        const r = await control.registerAgent({ site, host, ...(slots !== undefined ? { slots } : {}) });
        if (this.stopped) throw new AgentError('STOPPED', 'the agent was stopped before it registered');
        this.agentId = r.id;
        this.version = 0;
        this.pollAbort.abort();
        // Half the period, so that a slow report still arrives in time.
        this.reports.every(Math.max(100, Math.floor(r.reportEveryMs / 2)));
        if (!this.watchingRevocations) {
          this.watchingRevocations = true;
          this.credentials.watchRevocations(REVOCATIONS_EVERY_MS, () => this.supervisor.ids());
          this.policies.watch(() => this.supervisor.ids());
          this.storage.watch();
        }
        this.reports.soon();
        this.log.info({ agent: r.id, site, host, control: control.url }, 'agent registered');
        return r.id;
      } catch (err) {
        if (err instanceof AgentError) throw err;
        if (!transient(err)) {
          const what = err instanceof Error ? err.message : String(err);
          throw new AgentError('REFUSED', `the control plane at ${control.url} refused to register an agent for site '${site}': ${what}. Check the site name and the token (--token or SQUADRON_TOKEN)`, { cause: err });
        }
        const delay = backoff.next();
        this.log.warn({ err: (err as Error).message, retryInMs: delay },
          `cannot register with the control plane at ${control.url}; retrying. Check that it is running and that --control points at it`);
        await this.pause(delay);
      }
    }
  }

  private async pollLoop(): Promise<void> {
    const { control } = this.options;
    let outage = false;
    while (!this.stopped) {
      const id = this.agentId!;
      const after = this.version;
      try {
        const waitMs = this.waitingForBroker ? BROKER_WAIT_POLL_MS : (this.options.pollWaitMs ?? 25_000);
        this.pollAbort = new AbortController();
        const body = await control.assignments(id, after, waitMs, AbortSignal.any([this.abort.signal, this.pollAbort.signal]));
        if (this.stopped) break;
        if (outage) this.log.info('control plane reachable again');
        outage = false;
        this.backoff.reset();
        if (this.agentId !== id) continue; // registered again meanwhile: this list is stale
        this.version = body.version;
        this.reconcile(body);
      } catch (err) {
        if (this.stopped) break;
        if (this.agentId !== id) continue; // registered again meanwhile: poll under the new id
        if (forgotten(err)) {
          this.log.warn({ agent: id }, 'the control plane does not know this agent any more; registering again');
          await this.register(id).catch((e: unknown) => this.retryLater(e, true));
          continue;
        }
        outage = true;
        await this.retryLater(err, false);
      }
    }
  }

  private async retryLater(err: unknown, registering: boolean): Promise<void> {
    if (this.stopped) return;
    const delay = this.backoff.next();
    this.log.warn({ err: (err as Error).message, retryInMs: delay, instances: this.supervisor.ids().length },
      `${registering ? 'cannot register again' : 'cannot get assignments'} from the control plane at ${this.options.control.url}; instances keep running, retrying`);
    await this.pause(delay);
  }

  /** Start what is newly listed, drain what is no longer listed. */
  private reconcile(body: AssignmentsBody): void {
    this.lastList = body;
    const listed = new Set(body.instances.map((a) => a.id));
    for (const id of this.supervisor.ids()) {
      if (listed.has(id) || this.supervisor.stateOf(id) === 'draining') continue;
      this.log.info({ instance: id }, 'instance no longer assigned: draining it');
      this.credentials.forget(id);
      this.storage.forget(id);
      void this.supervisor.drain(id, this.options.drainGraceMs ?? 30_000);
    }
    let waiting = 0;
    for (const a of body.instances) {
      if (this.supervisor.has(a.id) || this.credentials.pending(a.id) || this.preparing.has(a.id)) continue;
      if (body.broker === null) {
        waiting++;
        continue;
      }
      if (a.artifact === null) {
        this.log.error({ instance: a.id, service: a.service, release: a.release }, 'the release has no artifact to run (made before releases had one); deploy the service again');
        continue;
      }
      this.preparing.add(a.id);
      void this.prepareAndStart(a, a.artifact, body.broker).finally(() => this.preparing.delete(a.id));
    }
    if (waiting > 0 && !this.waitingForBroker) {
      this.log.warn({ instances: waiting }, `the broker address of site '${this.options.site}' is not known yet; instances wait for it`);
    }
    this.waitingForBroker = waiting > 0;
  }

  /**
   * What an instance needs before it starts: its credential and storage, its squad's OS user, and
   * its release's artifact unpacked here. What cannot be had yet (the control plane unreachable)
   * is tried again soon, not at the next list.
   */
  private async prepareAndStart(a: AssignmentBody, artifact: string, broker: string): Promise<void> {
    const again = () => void setTimeout(() => this.lastList && !this.stopped && this.reconcile(this.lastList), 1000).unref();
    // Each instance proves who it is with a credential of its own, got before it starts.
    const [env, storage] = await Promise.all([this.credentials.obtain(a.id), this.storage.env(a.id, a.service)]);
    if (this.stopped || this.supervisor.has(a.id)) return;
    if (env === null) return again();
    // The squad its own credential names: its instances run as that squad's OS user.
    const squad = squadOf(env);
    // A failure here is the start's: it is tried again, and logged, when the instance launches.
    if (squad) await this.sandbox?.prepare(squad).catch((err: unknown) => this.log.warn({ err, squad }, 'could not make the squad\'s OS user yet'));
    let release;
    try {
      release = await this.artifacts.unpacked(squad ?? '', artifact, a.id);
    } catch (err) {
      this.artifacts.release(a.id);
      if (this.stopped) return;
      this.log.warn({ err, instance: a.id, artifact }, 'could not fetch the release\'s artifact; trying again');
      return again();
    }
    if (this.stopped || this.supervisor.has(a.id)) return;
    // No longer assigned while it was being prepared: nothing to start.
    if (this.lastList && !this.lastList.instances.some((x) => x.id === a.id)) return this.releaseCopy(a.id);
    this.log.info({ instance: a.id, service: a.service, release: a.release, artifact, delayMs: a.provisionDelayMs, maxMemoryMb: a.maxMemoryMb }, 'starting instance');
    // A control plane from before memory ceilings sends none: the platform's default applies.
    const maxMemoryMb = a.maxMemoryMb ?? MEMORY_CEILING_MB.default;
    this.supervisor.start({
      id: a.id, path: release.entry, releaseDir: release.dir, site: a.site, broker, maxMemoryMb,
      ...(squad ? { squad } : {}), env: { ...env, ...this.policies.env(), ...storage },
    }, a.provisionDelayMs);
  }

  /** An instance is gone for good: the copy of its release goes once no other instance here runs it. */
  private releaseCopy(id: string): void {
    this.artifacts.release(id);
    void this.artifacts.prune().catch((err: unknown) => this.log.warn({ err }, 'could not remove the copy of a release no longer run here'));
  }

  /** Never rejects: a failed report is logged and the next one carries the state. */
  private async sendReport(): Promise<void> {
    const id = this.agentId;
    if (id === null) return;
    try {
      await this.options.control.report(id, { instances: this.supervisor.snapshot() });
    } catch (err) {
      if (forgotten(err) && !this.stopped) {
        this.log.warn({ agent: id }, 'the control plane does not know this agent any more; registering again');
        this.register(id).catch(() => { /* the poll loop retries */ });
        return;
      }
      this.log.debug({ err: (err as Error).message }, 'report failed; the next one will carry the state');
    }
  }

  /** Sleep, cut short by `stop()`. */
  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }
}
