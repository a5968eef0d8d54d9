import { ErrorCode, NoInstancesError, ConnectionLostError, SquadronError, TimeoutError } from '@squadron/protocol';
import type { Directory, InstanceEntry } from './directory.ts';
import type { RetryBudget } from './retry-budget.ts';
import type { RetryPolicy } from './options.ts';
import type { ChannelCall, InstanceChannel } from './instance-channel.ts';
import { DeadlineWheel, type Expiring, type DueList } from './deadline-wheel.ts';

/** The request never reached a handler: safe to send elsewhere, whatever the method. */
function notStarted(err: unknown): boolean {
  if (err instanceof ConnectionLostError) return !err.sent;
  return err instanceof SquadronError && err.code === ErrorCode.UNAVAILABLE;
}

/** Failures that say something about the instance, not about the request. */
function instanceFault(err: unknown): boolean {
  if (err instanceof ConnectionLostError || err instanceof TimeoutError) return true;
  return err instanceof SquadronError && err.code === ErrorCode.HANDLER_ERROR && err.retryable;
}

/**
 * One call in flight. On a failure that allows it, it goes to another instance; one timer covers
 * the whole call, retries included.
 */
class Call implements ChannelCall, Expiring {
  channel: InstanceChannel | null = null;
  id = 0;
  entry: InstanceEntry | null = null;
  exclude: Set<InstanceEntry> | null = null;
  attempts = 0;
  lastError: Error | null = null;
  done = false;
  prevDue: Expiring | null = null;
  nextDue: Expiring | null = null;
  dueList: DueList | null = null;

  constructor(
    private readonly caller: Caller,
    readonly service: string,
    readonly method: string,
    readonly payload: unknown,
    readonly deadline: number,
    readonly traceId: string,
    readonly preferSite: string | undefined,
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (err: Error) => void,
  ) {}

  replied(value: unknown): void {
    if (this.done) return;
    this.done = true;
    this.caller.settled(this);
    this.entry?.health.success();
    this.resolve(value);
  }

  failed(err: Error): void {
    if (!this.done) this.caller.failed(this, err);
  }

  finish(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.caller.settled(this);
    this.reject(err);
  }

  /** The deadline passed with no reply. */
  expire(): void {
    if (this.done) return;
    this.channel?.cancel(this);
    this.entry?.health.failure(Date.now());
    this.done = true;
    this.reject(new TimeoutError(`no reply from ${this.service}.${this.method} within the deadline`));
  }
}

/**
 * Sends calls to instances and decides what a failure means. A request that never started is
 * always sent elsewhere (another instance, another site). One that may have run is sent again only
 * for an idempotent method, within the retry budget and `maxAttempts`. Every outcome feeds the
 * instance's circuit breaker.
 */
export class Caller {
  private readonly deadlines = new DeadlineWheel();

  constructor(
    private readonly directory: Directory,
    private readonly budget: RetryBudget,
    private readonly policy: RetryPolicy,
  ) {}

  call(service: string, method: string, payload: unknown, deadline: number, traceId: string, preferSite: string | undefined): Promise<unknown> {
    this.budget.deposit();
    return new Promise((resolve, reject) => {
      const call = new Call(this, service, method, payload, deadline, traceId, preferSite, resolve, reject);
      this.deadlines.add(call, Date.now());
      this.dispatch(call);
    });
  }

  /** A call ended before its deadline. */
  settled(call: Call): void {
    this.deadlines.remove(call);
  }

  private dispatch(call: Call): void {
    const entry = this.directory.pick(call.service, call.exclude, call.preferSite);
    if (entry === null) {
      call.finish(call.lastError ?? new NoInstancesError(call.service));
      return;
    }
    call.entry = entry;
    entry.channelFor().send(call);
  }

  /** A channel reports a failure of the call's current attempt. */
  failed(call: Call, err: Error): void {
    call.lastError = err;
    const entry = call.entry!;
    const now = Date.now();
    if (instanceFault(err)) entry.health.failure(now);
    else entry.health.success();
    if (now >= call.deadline) return call.finish(err);
    if (!notStarted(err)) {
      call.attempts++;
      const retryable = err instanceof ConnectionLostError || (err instanceof SquadronError && err.retryable && err.code !== ErrorCode.TIMEOUT);
      if (!retryable || !entry.isIdempotent(call.method) || call.attempts >= this.policy.maxAttempts || !this.budget.tryWithdraw()) {
        return call.finish(err);
      }
    }
    (call.exclude ??= new Set()).add(entry);
    this.dispatch(call);
  }
}
