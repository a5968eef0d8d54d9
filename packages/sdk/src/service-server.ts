import net from 'node:net';
import { unlinkSync } from 'node:fs';
import type { Logger } from 'pino';
import {
  FrameKind, decode, decodePayload, encodeTransient, errorToWire, BadRequestError, maxFrameLength, PayloadTooLargeError, FRAME_HEADER_BYTES, asRequest, ProtocolError, DeadlineExceededError,
  NoSuchMethodError, UnavailableError, HandlerError, SquadronError, ErrorCode, DEFAULT_LIMITS, RateLimitedError, PermissionDeniedError, type WireLimits,
  type AuthBody, asAuth,
} from '@squadron/protocol';
import { Connection, acceptHandshake, listen, formatEndpoint, parseEndpoint } from '@squadron/transport';
import { mustMatch, type CredentialVerifier, type VerifiedPeer } from '@squadron/identity';
import { callerKey, type Caller as PolicyCaller, type RateLimit } from '@squadron/policy';
import { CallerLimits } from './caller-limits.ts';
import type { PolicySource } from './policy-source.ts';
import { Rejections } from './rejections.ts';
import type { PayloadFailures } from './payload-failures.ts';
import { RequestContext, type ContextHost } from './context.ts';
import type { NormalizedService } from './define.ts';

export interface ServiceServerOptions {
  site: string;
  /** TCP listen address (default tcp://127.0.0.1:0). */
  listen?: string;
  /** Also listen on this Unix socket, for callers on the same host. */
  unixPath?: string;
  limits?: WireLimits;
  log: Logger;
  /** When set, only callers that prove a credential the control plane signed get in (AUTH_FAILED otherwise). */
  verifier?: CredentialVerifier;
  /**
   * The platform's access policies (who may call which method, at what rate), kept current by
   * the runtime. Applied to callers whose credential was verified.
   */
  policies?: PolicySource;
  /** A fixed limit per caller, instead of what the policies say (a service run on its own). */
  rateLimit?: (caller: string) => RateLimit;
  /** Where refusals are counted (shared with the instance's own caller-side mirror). */
  rejections?: Rejections;
  /** How many live instances share each caller's limit: the service's in this site (default 1). */
  instances?: () => number;
  /** The squad that owns this service, from the instance's credential: methods of `visibility: 'squad'` are its own. */
  squad?: string;
  /** Where requests that cannot be decoded are counted (shared with the instance's client). */
  failures?: PayloadFailures;
}

/** Who called: the key its calls count against, and who it is when its credential was verified. */
interface Caller {
  key: string;
  /** From the verified credential; null when identities are not checked. */
  who: PolicyCaller | null;
}

/**
 * Who a connection's calls count against: the service of a calling instance, or the squad of a
 * client, as its credential says (as it claims, where identities are not checked).
 */
function callerOf(auth: AuthBody, peer: VerifiedPeer | null): Caller {
  if (peer) {
    const who: PolicyCaller = { service: peer.role === 'instance' ? peer.service ?? null : null, squad: peer.squad };
    return { key: callerKey(who), who };
  }
  return { key: auth.role === 'instance' && auth.service ? `service:${auth.service}` : `client:${auth.name}`, who: null };
}

/**
 * An instance's own server: callers connect to it directly and send requests. It refuses a
 * request whose deadline has passed without starting it, answers NO_SUCH_METHOD for unknown
 * methods, and while draining refuses new requests as UNAVAILABLE (safe to retry elsewhere).
 */
export class ServiceServer {
  private readonly servers: net.Server[] = [];
  private readonly conns = new Set<Connection>();
  /** Verified callers' credentials, checked again every second: revoked or expired ones are cut off. */
  private readonly peers = new Map<Connection, VerifiedPeer>();
  private recheck: NodeJS.Timeout | null = null;
  private draining = false;
  private idleWaiters: Array<() => void> = [];
  inFlight = 0;
  handled = 0;
  address = '';
  unixAddress: string | undefined;
  private readonly maxBody: number;
  private readonly limits: CallerLimits;
  /** Calls refused per pair (RATE_LIMITED, PERMISSION_DENIED), reported to the broker for `squadron status`. */
  readonly rejections: Rejections;

  constructor(
    private readonly service: NormalizedService,
    private readonly host: ContextHost,
    private readonly options: ServiceServerOptions,
  ) {
    this.maxBody = maxFrameLength(options.limits ?? DEFAULT_LIMITS) - (FRAME_HEADER_BYTES - 4);
    this.limits = new CallerLimits(options.instances);
    this.rejections = options.rejections ?? new Rejections();
  }

  async start(): Promise<void> {
    const tcp = net.createServer((s) => this.accept(s));
    this.servers.push(tcp);
    this.address = formatEndpoint(await listen(tcp, parseEndpoint(this.options.listen ?? 'tcp://127.0.0.1:0')));
    const verifier = this.options.verifier;
    if (verifier) {
      this.recheck = setInterval(() => {
        for (const [conn, peer] of this.peers) {
          const refusal = verifier.recheck(peer);
          if (refusal) conn.close(refusal.code, refusal.message);
        }
      }, 1000);
      this.recheck.unref();
    }
    if (this.options.unixPath) {
      try { unlinkSync(this.options.unixPath); } catch { /* none left over */ }
      const unix = net.createServer((s) => this.accept(s));
      this.servers.push(unix);
      await listen(unix, { kind: 'unix', path: this.options.unixPath });
      this.unixAddress = this.options.unixPath;
    }
  }

  private accept(socket: net.Socket): void {
    const conn = new Connection(socket, { limits: this.options.limits ?? DEFAULT_LIMITS });
    this.conns.add(conn);
    conn.onClose(() => {
      this.conns.delete(conn);
      this.peers.delete(conn);
    });
    const verifier = this.options.verifier;
    let peer: VerifiedPeer | null = null;
    const verify = verifier && (async (auth: AuthBody, nonce: string) => {
      peer = await verifier.verify(auth.credential, auth.proof, nonce);
      mustMatch(peer, auth);
    });
    acceptHandshake(conn, { site: this.options.site, server: 'instance', sites: () => [this.options.site], ...(verify ? { verify } : {}) })
      .then((auth) => {
        // Brokers never call instances: a broker's credential (the admin's squad) gets no calls.
        if (auth.role === 'broker') return conn.protocolViolation(new PermissionDeniedError('a broker does not call instances'));
        const caller = callerOf(auth, peer);
        if (peer && !conn.closed) this.peers.set(conn, peer);
        conn.onFrame = (kind, id, body) => this.onFrame(conn, kind, id, body, caller);
      })
      .catch((err: Error) => this.options.log.debug({ err: err.message }, 'caller handshake refused'));
  }

  private onFrame(conn: Connection, kind: number, id: number, body: Buffer, caller: Caller): void {
    if (kind === FrameKind.Ping) return conn.send(FrameKind.Pong, id);
    if (kind === FrameKind.Pong) return;
    if (kind === FrameKind.Goaway) return conn.destroy();
    if (kind === FrameKind.Reauth) return void this.reauthenticate(conn, asAuth(decode(body)));
    if (kind !== FrameKind.Request) throw new ProtocolError(`an instance does not take frames of kind ${kind}`);
    let request: unknown;
    try {
      request = decodePayload(body);
    } catch (err) {
      // The payload travels inside the request's body: one that cannot be decoded fails this
      // request alone, as BAD_REQUEST; the caller's connection and its other requests go on.
      this.options.failures?.count('request', `a request from ${caller.key}`, err as Error);
      return this.fail(conn, id, new BadRequestError(`${this.service.name} cannot decode this request (${String((err as BadRequestError).details?.reason)}); send a payload of plain msgpack values, nested less deep`, { details: { undecodable: true } }));
    }
    // A body that decodes but is not a request is a broken peer: that connection is closed.
    const [method, deadline, traceId, payload] = asRequest(request);
    if (this.draining) return this.fail(conn, id, new UnavailableError(`instance ${this.host.instance} is draining`));
    if (Date.now() >= deadline) {
      return this.fail(conn, id, new DeadlineExceededError(`request for ${this.service.name}.${method} arrived after its deadline`));
    }
    const spec = this.service.methods.get(method);
    if (spec === undefined) return this.fail(conn, id, NoSuchMethodError.of(this.service.name, method));
    const refusal = this.admit(caller, method, spec.visibility);
    if (refusal !== null) return this.fail(conn, id, refusal);
    this.inFlight++;
    let result: unknown;
    try {
      result = spec.handler(payload, new RequestContext(this.host, traceId, deadline));
    } catch (err) {
      this.done();
      return this.fail(conn, id, asHandlerError(err));
    }
    if (result instanceof Promise) {
      result.then(
        (value) => {
          this.done();
          this.reply(conn, id, value);
        },
        (err: unknown) => {
          this.done();
          this.fail(conn, id, asHandlerError(err));
        },
      );
    } else {
      this.done();
      this.reply(conn, id, result);
    }
  }

  /** A caller's renewed credential on its open connection: kept, or AUTH_FAILED and closed. */
  private async reauthenticate(conn: Connection, auth: AuthBody): Promise<void> {
    const verifier = this.options.verifier;
    const current = this.peers.get(conn);
    if (!verifier || !current) return; // identities are not checked here: nothing to renew
    try {
      this.peers.set(conn, await verifier.renew(current, auth.credential, auth.proof, conn.hello!.nonce));
    } catch (err) {
      const e = err as SquadronError;
      conn.close(e.code ?? 'AUTH_FAILED', e.message);
    }
  }

  /**
   * Whether this call may run: the method's visibility, then the service's policy (deny rules,
   * restricted access), then the pair's rate limit. A refusal is the typed error the caller
   * gets, naming the policy; nothing of the handler runs.
   */
  private admit(caller: Caller, method: string, visibility: 'public' | 'squad'): SquadronError | null {
    const name = this.service.name;
    if (visibility === 'squad' && !this.sameSquad(caller)) {
      this.rejections.count(caller.key, name, 'denied');
      return new PermissionDeniedError(
        `${name}.${method} is private to squad '${this.options.squad ?? '?'}'; ${caller.who === null ? 'the caller\'s squad is not known (identities are not checked here)' : `the caller is of squad '${caller.who.squad}'`}`,
        { details: { policy: 'visibility: squad', caller: caller.key } },
      );
    }
    const policies = this.options.policies?.current;
    let limit: RateLimit | null = null;
    if (policies && caller.who) {
      const decision = policies.call(caller.who, name, method);
      if (!decision.ok) {
        this.rejections.count(caller.key, name, 'denied');
        return new PermissionDeniedError(decision.reason, { details: { policy: decision.policy, caller: caller.key } });
      }
      limit = decision.limit;
    }
    if (this.options.rateLimit) limit = this.options.rateLimit(caller.key);
    const admitted = this.limits.admit(caller.key, limit);
    if (admitted.ok) return null;
    this.rejections.count(caller.key, name, 'rateLimited');
    const { ratePerSecond, burst } = limit!;
    const granted = policies?.service(name)?.grants.some((g) => g.rate !== null && (g.caller === caller.who?.service || g.caller === `squad:${caller.who?.squad}`));
    const policy = `${ratePerSecond}/s burst ${burst}${granted ? ' (granted)' : ' (the platform default)'}`;
    return new RateLimitedError(
      `${caller.key} is over its limit toward ${name}: ${policy}; retry in ${admitted.retryAfterMs} ms${granted ? '' : `, or ask squad '${policies?.service(name)?.squad ?? this.options.squad ?? 'owning ' + name}' for a grant: squadron grant ${caller.who?.service ?? (caller.who ? `squad:${caller.who.squad}` : 'CALLER')} ${name} --rate N/s`}`,
      admitted.retryAfterMs, { details: { caller: caller.key, policy } },
    );
  }

  /** Squad-private methods: the owner squad's callers, and the platform's admin. Unknown squads are refused. */
  private sameSquad(caller: Caller): boolean {
    const squad = caller.who?.squad;
    return squad !== undefined && this.options.squad !== undefined && (squad === this.options.squad || squad === 'admin');
  }

  /** A reply over the frame limit would make the caller drop the connection: refuse it instead. */
  private reply(conn: Connection, id: number, value: unknown): void {
    let body: Buffer;
    try {
      body = encodeTransient(value ?? null);
    } catch (err) {
      // A value nested too deep (or cyclic) to encode: the handler's failure, not the connection's.
      return this.fail(conn, id, new HandlerError(`${this.service.name} returned a value that cannot be encoded: ${err instanceof RangeError ? 'nested too deep, or cyclic' : (err as Error).message}`));
    }
    if (body.length > this.maxBody) return this.fail(conn, id, new PayloadTooLargeError(body.length, this.maxBody));
    conn.send(FrameKind.Reply, id, body);
  }

  private fail(conn: Connection, id: number, err: SquadronError): void {
    conn.sendValue(FrameKind.ErrorReply, id, errorToWire(err));
  }

  private done(): void {
    this.inFlight--;
    this.handled++;
    if (this.inFlight === 0 && this.idleWaiters.length > 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Refuse new requests, wait for those in flight (up to `timeoutMs`), then close. */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    if (this.recheck) clearInterval(this.recheck);
    for (const s of this.servers) s.close();
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    for (const c of this.conns) c.close('CLOSED', 'instance stopping');
  }
}

/** Codes a handler may throw as they are; anything else is wrapped as HANDLER_ERROR. */
const PASSED_THROUGH = new Set<string>([ErrorCode.HANDLER_ERROR, ErrorCode.BAD_REQUEST]);

/**
 * A handler's throw, as the typed error its caller receives. A failure of the handler's own
 * downstream call (say UNAVAILABLE) must not reach the caller as if it were this instance's: the
 * caller would think the request never started here and send it again.
 */
function asHandlerError(err: unknown): SquadronError {
  if (err instanceof SquadronError) {
    if (PASSED_THROUGH.has(err.code)) return err;
    return new HandlerError(`${err.code}: ${err.message}`, { details: { cause: err.code } });
  }
  const message = err instanceof Error ? err.message : String(err);
  const retryable = typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === true;
  return new HandlerError(message, { retryable });
}
