import {
  ErrorCode, NoInstancesError, ConnectionLostError, SquadronError, TimeoutError, PayloadTooLargeError,
  encode, maxFrameLength, FRAME_HEADER_BYTES, DEFAULT_LIMITS, type WireLimits,
} from '@squadron/protocol';
import type { Directory, InstanceEntry } from './directory.ts';
import type { RetryBudget } from './retry-budget.ts';
import type { RetryPolicy } from './options.ts';
import type { ChannelCall, InstanceChannel } from './instance-channel.ts';

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
 * One call in flight. It is encoded once; on a failure that allows it, the same bytes go to
 * another instance. One timer covers the whole call, retries included.
 */
class Call implements ChannelCall {
  channel: InstanceChannel | null = null;
  id = 0;
  entry: InstanceEntry | null = null;
  exclude: Set<InstanceEntry> | null = null;
  attempts = 0;
  lastError: Error | null = null;
  done = false;
  readonly timer: NodeJS.Timeout;

  constructor(
    private readonly caller: Caller,
    readonly service: string,
    readonly method: string,
    readonly body: Buffer,
    readonly deadline: number,
    readonly preferSite: string | undefined,
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (err: Error) => void,
  ) {
    this.timer = setTimeout(expire, Math.max(0, deadline - Date.now()), this);
  }

  replied(value: unknown): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.entry?.health.success();
    this.resolve(value);
  }

  failed(err: Error): void {
    if (!this.done) this.caller.failed(this, err);
  }

  finish(err: Error): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.reject(err);
  }
}

function expire(call: Call): void {
  call.channel?.cancel(call);
  call.entry?.health.failure(Date.now());
  call.finish(new TimeoutError(`no reply from ${call.service}.${call.method} within the deadline`));
}

/**
 * Sends calls to instances and decides what a failure means. A request that never started is
 * always sent elsewhere (another instance, another site). One that may have run is sent again only
 * for an idempotent method, within the retry budget and `maxAttempts`. Every outcome feeds the
 * instance's circuit breaker.
 */
export class Caller {
  private readonly maxBody: number;

  constructor(
    private readonly directory: Directory,
    private readonly budget: RetryBudget,
    private readonly policy: RetryPolicy,
    limits: WireLimits = DEFAULT_LIMITS,
  ) {
    this.maxBody = maxFrameLength(limits) - (FRAME_HEADER_BYTES - 4);
  }

  call(service: string, method: string, payload: unknown, deadline: number, traceId: string, preferSite: string | undefined): Promise<unknown> {
    const body = encode([method, deadline, traceId, payload]);
    if (body.length > this.maxBody) return Promise.reject(new PayloadTooLargeError(body.length, this.maxBody));
    this.budget.deposit();
    return new Promise((resolve, reject) => {
      this.dispatch(new Call(this, service, method, body, deadline, preferSite, resolve, reject));
    });
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
