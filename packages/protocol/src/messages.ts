import { ProtocolError } from './errors.ts';

/** What kind of peer opened a connection. */
export type PeerRole = 'client' | 'instance' | 'broker' | 'control';

/** First frame from the accepting side. Identity proofs (issue: insulation) sign `nonce`. */
export interface HelloBody {
  version: number;
  /** Fresh random bytes, base64; a credential must sign this to be accepted. */
  nonce: string;
  /** The accepting side's site. */
  site: string;
  /** 'broker' or 'instance'. */
  server: 'broker' | 'instance';
}

/** The connecting side's answer to Hello. */
export interface AuthBody {
  version: number;
  role: PeerRole;
  site: string;
  /** Free-form name for logs and status (`cli`, service name, broker site). */
  name: string;
  /** Service and instance id when role = 'instance'. */
  service?: string;
  instance?: string;
  /** The connecting side's credential (a JWT the control plane signed), where identity is checked. */
  credential?: string;
  /** Its holder's signature over Hello's nonce (base64url). */
  proof?: string;
}

export interface ReadyBody {
  /** Sites in configured order; callers fail over along it. */
  sites: string[];
}

/** One live instance as the registry holds it. */
export interface InstanceInfo {
  id: string;
  service: string;
  site: string;
  /** `tcp://host:port` */
  address: string;
  /** Unix socket path, usable by callers on the same host. */
  unixPath?: string;
  /** Host identity; callers with the same one prefer `unixPath`. */
  host: string;
  pid: number;
  methods: MethodInfo[];
  topics: string[];
  startedAt: number;
  /** Requests in flight, as last reported. */
  inFlight: number;
}

/** Calls an instance refused, per caller key (`service:NAME`, `squad:NAME`), since it started. */
export type LoadRejections = Record<string, { rateLimited: number; denied: number }>;

/** What a Load frame carries: requests in flight, and the refusals when there were any. */
export interface LoadReport {
  inFlight: number;
  rejections: LoadRejections | null;
}

/** What a Drops frame carries: per subscription that dropped messages, its id and how many it dropped. */
export type DropReport = Array<[sid: number, dropped: number]>;

/** A report names each subscription of one connection at most once: no more than this many. */
export const MAX_DROP_REPORT_ENTRIES = 65_536;

export interface MethodInfo {
  name: string;
  idempotent: boolean;
}

/** Registry stream: a snapshot first, then changes. */
export type RegistryEvent =
  | { type: 'snapshot'; site: string; sites: string[]; instances: InstanceInfo[] }
  | { type: 'up'; instance: InstanceInfo }
  | { type: 'down'; id: string; site: string; reason: string };

export interface SubscribeBody {
  topic: string;
  /** Instances that share a group share its messages; each group gets every message. */
  group: string;
}

export interface InterestBody {
  topic: string;
  group: string;
  present: boolean;
}

/** Query: broker stats (the default), its queues, a queue's dead letters, or their replay. */
export type QueryBody = { what?: 'stats' | 'queues' } | { what: 'dlq' | 'replay'; queue: string };

// ---- validation of bodies that arrive from the wire ----

function fail(what: string): never {
  throw new ProtocolError(`malformed ${what} frame`);
}

const isString = (v: unknown, max = 256): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

export function asAuth(v: unknown): AuthBody {
  const o = v as Partial<AuthBody> | null;
  if (!o || typeof o !== 'object' || typeof o.version !== 'number' || !isString(o.role) || !isString(o.site) || !isString(o.name)) fail('auth');
  if (!['client', 'instance', 'broker', 'control'].includes(o.role)) fail('auth');
  if (o.role === 'instance' && (!isString(o.service) || !isString(o.instance))) fail('auth');
  if ((o.credential !== undefined && !isString(o.credential, 8192)) || (o.proof !== undefined && !isString(o.proof, 1024))) fail('auth');
  return o as AuthBody;
}

export function asHello(v: unknown): HelloBody {
  const o = v as Partial<HelloBody> | null;
  if (!o || typeof o !== 'object' || typeof o.version !== 'number' || !isString(o.nonce, 1024) || !isString(o.site)) fail('hello');
  return o as HelloBody;
}

export function asReady(v: unknown): ReadyBody {
  const o = v as Partial<ReadyBody> | null;
  if (!o || typeof o !== 'object' || !Array.isArray(o.sites) || !o.sites.every((s) => isString(s))) fail('ready');
  return o as ReadyBody;
}

/** A Load frame's body: `inFlight`, or `[inFlight, rejections]`. */
export function asLoadReport(v: unknown): LoadReport {
  if (typeof v === 'number' && Number.isFinite(v)) return { inFlight: v, rejections: null };
  if (Array.isArray(v) && Number.isFinite(v[0]) && v[1] !== null && typeof v[1] === 'object' && !Array.isArray(v[1])) {
    const rejections: LoadRejections = {};
    for (const [caller, counts] of Object.entries(v[1] as Record<string, unknown>)) {
      const c = counts as { rateLimited?: unknown; denied?: unknown } | null;
      if (!c || !Number.isFinite(c.rateLimited) || !Number.isFinite(c.denied) || caller === '__proto__') throw new ProtocolError('malformed load frame');
      rejections[caller] = { rateLimited: c.rateLimited as number, denied: c.denied as number };
    }
    return { inFlight: v[0] as number, rejections };
  }
  throw new ProtocolError('malformed load frame');
}

/** A Drops frame's body: pairs of non-negative integers (subscription id, messages dropped). */
export function asDropReport(v: unknown): DropReport {
  if (!Array.isArray(v) || v.length > MAX_DROP_REPORT_ENTRIES) fail('drops');
  for (const e of v as unknown[]) {
    if (!Array.isArray(e) || e.length !== 2 || !Number.isSafeInteger(e[0]) || !Number.isSafeInteger(e[1]) || (e[0] as number) < 0 || (e[1] as number) < 0) fail('drops');
  }
  return v as DropReport;
}

export function asInstanceInfo(v: unknown): InstanceInfo {
  const o = v as Partial<InstanceInfo> | null;
  if (
    !o || typeof o !== 'object' || !isString(o.id) || !isString(o.service) || !isString(o.site) ||
    !isString(o.address, 1024) || !isString(o.host, 1024) || typeof o.pid !== 'number' ||
    !Array.isArray(o.methods) || !Array.isArray(o.topics) || typeof o.startedAt !== 'number'
  ) fail('register');
  for (const m of o.methods) if (!m || !isString(m.name) || typeof m.idempotent !== 'boolean') fail('register');
  for (const t of o.topics) if (!isString(t)) fail('register');
  if (o.unixPath !== undefined && o.unixPath !== null && !isString(o.unixPath, 1024)) fail('register');
  return { ...(o as InstanceInfo), inFlight: typeof o.inFlight === 'number' ? o.inFlight : 0 };
}

export function asSubscribe(v: unknown): SubscribeBody {
  const o = v as Partial<SubscribeBody> | null;
  if (!o || typeof o !== 'object' || !isString(o.topic, 255) || !isString(o.group, 255)) fail('subscribe');
  return o as SubscribeBody;
}

export function asInterest(v: unknown): InterestBody {
  const o = v as Partial<InterestBody> | null;
  if (!o || typeof o !== 'object' || !isString(o.topic) || !isString(o.group) || typeof o.present !== 'boolean') fail('interest');
  return o as InterestBody;
}

export function asRegistryEvent(v: unknown): RegistryEvent {
  const o = v as { type?: unknown } | null;
  if (!o || typeof o !== 'object') fail('registry event');
  switch (o.type) {
    case 'snapshot': {
      const s = o as { site?: unknown; sites?: unknown; instances?: unknown };
      if (!isString(s.site) || !Array.isArray(s.sites) || !Array.isArray(s.instances)) fail('registry snapshot');
      return { type: 'snapshot', site: s.site, sites: s.sites as string[], instances: s.instances.map(asInstanceInfo) };
    }
    case 'up':
      return { type: 'up', instance: asInstanceInfo((o as { instance?: unknown }).instance) };
    case 'down': {
      const d = o as { id?: unknown; site?: unknown; reason?: unknown };
      if (!isString(d.id) || !isString(d.site)) fail('registry down');
      return { type: 'down', id: d.id, site: d.site, reason: typeof d.reason === 'string' ? d.reason : 'gone' };
    }
    default:
      fail('registry event');
  }
}

/** Request body: [method, deadlineEpochMs, traceId, payload]. */
export type RequestBody = [method: string, deadline: number, traceId: string, payload: unknown];

export function asRequest(v: unknown): RequestBody {
  if (!Array.isArray(v) || v.length !== 4 || !isString(v[0]) || typeof v[1] !== 'number' || typeof v[2] !== 'string') fail('request');
  return v as RequestBody;
}

/** Enqueue: [queue, producerId|null, key|null, delayMs, traceId, payload (msgpack bytes)]. */
export type EnqueueBody = [queue: string, id: string | null, key: string | null, delayMs: number, traceId: string, payload: Uint8Array];

export interface EnqueueReply {
  id: string;
  duplicate: boolean;
}

export interface ConsumeBody {
  queue: string;
  /** Deliveries this consumer may hold unacknowledged at once. */
  concurrency: number;
  maxDeliveries: number;
  visibilityTimeoutMs: number;
}

/** Delivery: [seq, messageId, deliveryCount, traceId, payload (msgpack bytes)]. */
export type DeliveryBody = [seq: number, id: string, deliveryCount: number, traceId: string, payload: Uint8Array];

const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 255;
const isOptString = (v: unknown): v is string | null => v === null || v === undefined || (typeof v === 'string' && v.length <= 255);

export function asEnqueue(v: unknown): EnqueueBody {
  if (!Array.isArray(v) || v.length !== 6 || !isName(v[0]) || !isOptString(v[1]) || !isOptString(v[2]) ||
      typeof v[3] !== 'number' || !(v[3] >= 0) || typeof v[4] !== 'string' || !(v[5] instanceof Uint8Array)) fail('enqueue');
  return [v[0], v[1] ?? null, v[2] ?? null, v[3], v[4], v[5]];
}

export function asConsume(v: unknown): ConsumeBody {
  const o = v as Partial<ConsumeBody> | null;
  if (!o || typeof o !== 'object' || !isName(o.queue) || !Number.isInteger(o.concurrency) || o.concurrency! < 1 || o.concurrency! > 10_000 ||
      !Number.isInteger(o.maxDeliveries) || o.maxDeliveries! < 1 || typeof o.visibilityTimeoutMs !== 'number' || !(o.visibilityTimeoutMs >= 10)) fail('consume');
  return o as ConsumeBody;
}

export function asDelivery(v: unknown): DeliveryBody {
  if (!Array.isArray(v) || v.length !== 5 || typeof v[0] !== 'number' || typeof v[1] !== 'string' || typeof v[2] !== 'number' ||
      typeof v[3] !== 'string' || !(v[3].length <= 255) || !(v[4] instanceof Uint8Array)) fail('delivery');
  return v as DeliveryBody;
}

/** PublishDurable: [topic, producerId|null, traceId, payload (msgpack bytes)]. */
export type PublishDurableBody = [topic: string, id: string | null, traceId: string, payload: Uint8Array];

export function asPublishDurable(v: unknown): PublishDurableBody {
  if (!Array.isArray(v) || v.length !== 4 || !isName(v[0]) || !isOptString(v[1]) || typeof v[2] !== 'string' || !(v[3] instanceof Uint8Array)) fail('durable publish');
  return [v[0], v[1] ?? null, v[2], v[3]];
}

/** The queue that holds a durable subscription's messages. */
export function durableQueueName(topic: string, group: string): string {
  return `${group}@${topic}`;
}
