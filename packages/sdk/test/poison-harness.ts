/**
 * What the poison-payload tests and the payload fuzzer share: payloads no decoder can read, an
 * attacker that puts raw bytes where a payload goes (publish, enqueue, durable publish, request,
 * reply), and a target instance process that says what it got.
 */
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  FrameKind, encode, encodeEnvelopeField, decode, type InstanceInfo, type EnqueueBody, type PublishDurableBody,
} from '@squadron/protocol';
import { Connection, acceptHandshake, connectHandshake, dial, formatEndpoint, listen } from '@squadron/transport';
import type { Client, ClientStats } from '@squadron/sdk';

const TARGET_SCRIPT = fileURLToPath(new URL('./fixtures/poison-target.ts', import.meta.url));

/** msgpack arrays nested `depth` deep around nil: far deeper than any decoder's stack. */
export function deepArray(depth: number): Buffer {
  const b = Buffer.alloc(depth + 1, 0x91);
  b[depth] = 0xc0;
  return b;
}

/** msgpack maps nested `depth` deep ({"": {"": ...}}). */
export function deepMap(depth: number): Buffer {
  const b = Buffer.alloc(depth * 2 + 1);
  for (let i = 0; i < depth; i++) b.set([0x81, 0xa0], i * 2);
  b[depth * 2] = 0xc0;
  return b;
}

/** Payloads a subscriber, consumer, instance or caller cannot decode, by name. */
export const POISONS: Readonly<Record<string, Buffer>> = Object.freeze({
  'arrays nested 100,000 deep': deepArray(100_000),
  'maps nested 50,000 deep': deepMap(50_000),
  'an extension type no one defined': Buffer.from([0xd4, 0x05, 0x00]),
  'an array that promises two items and has one': Buffer.from([0x92, 0x01]),
  'a string longer than its bytes': Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]),
  'a structured-clone pointer to nothing': Buffer.from([0xd6, 0x70, 0, 0, 0, 1]),
  'bytes after the value': Buffer.from([0x01, 0x02]),
});

/** A request's body as the wire carries it, with `payload` spliced in as raw bytes. */
export function requestBody(method: string, payload: Uint8Array, deadline = Date.now() + 10_000, traceId = 'poison'): Buffer {
  return Buffer.concat([Buffer.from([0x94]), encode(method), encode(deadline), encode(traceId), payload]);
}

/** An attacker on an SDK client's broker connection, sending raw payload bytes. */
export class RawSender {
  constructor(private readonly client: Client) {}

  publish(topic: string, payload: Uint8Array): void {
    if (!this.client.session.publish(encodeEnvelopeField(topic), 'poison', payload)) throw new Error('not connected to the broker');
  }

  enqueue(queue: string, payload: Uint8Array): Promise<unknown> {
    const body: EnqueueBody = [queue, null, null, 0, 'poison', Buffer.from(payload)];
    return this.client.session.request(FrameKind.Enqueue, body);
  }

  publishDurable(topic: string, payload: Uint8Array): Promise<unknown> {
    const body: PublishDurableBody = [topic, null, 'poison', Buffer.from(payload)];
    return this.client.session.request(FrameKind.PublishDurable, body);
  }
}

/** A raw caller connection to one instance: requests with any bytes, answers as they come. */
export class RawCaller {
  private nextId = 0;
  private readonly waiting = new Map<number, (answer: { kind: number; body: Buffer }) => void>();

  private constructor(readonly conn: Connection) {
    conn.onFrame = (kind, id, body) => {
      if (kind === FrameKind.Ping) conn.send(FrameKind.Pong, id);
      else this.waiting.get(id)?.({ kind, body });
    };
  }

  static async open(address: string): Promise<RawCaller> {
    const conn = new Connection(await dial(address));
    await connectHandshake(conn, { role: 'client', site: 'sto', name: 'raw-caller' });
    return new RawCaller(conn);
  }

  /** Send a request with raw payload bytes; resolves with the answer's kind and decoded body. */
  request(method: string, payload: Uint8Array, timeoutMs = 5000): Promise<{ kind: number; value: unknown }> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to request ${id} (${method}) within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(id, ({ kind, body }) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve({ kind, value: decode(body) });
      });
      this.conn.send(FrameKind.Request, id, requestBody(method, payload));
    });
  }

  close(): void {
    this.conn.close();
  }
}

/**
 * An instance of `service` that answers every request with the raw bytes its payload carries
 * (a bin), or with `{ ok: payload }` otherwise: a callee that sends poison replies. It registers
 * itself at the broker as an instance would. `connections` counts callers' connections.
 */
export interface FakeInstance {
  readonly info: InstanceInfo;
  connections: number;
  close(): Promise<void>;
}

export async function startFakeInstance(broker: string, site: string, service: string): Promise<FakeInstance> {
  const server = net.createServer();
  const address = formatEndpoint(await listen(server, { kind: 'tcp', host: '127.0.0.1', port: 0 }));
  const id = `${service}-fake-${process.pid}`;
  const fake = { connections: 0 } as { connections: number };
  server.on('connection', (socket) => {
    fake.connections++;
    const conn = new Connection(socket);
    void acceptHandshake(conn, { site, server: 'instance', sites: () => [site] }).then(() => {
      conn.onFrame = (kind, rid, body) => {
        if (kind === FrameKind.Ping) return conn.send(FrameKind.Pong, rid);
        if (kind !== FrameKind.Request) return;
        const [, , , payload] = decode(body) as [string, number, string, unknown];
        if (payload instanceof Uint8Array) conn.send(FrameKind.Reply, rid, Buffer.from(payload));
        else conn.sendValue(FrameKind.Reply, rid, { ok: payload });
      };
    }, () => {});
  });
  const info: InstanceInfo = {
    id, service, site, address, host: 'elsewhere', pid: process.pid, methods: [{ name: 'answer', idempotent: false }],
    topics: [], startedAt: Date.now(), inFlight: 0,
  };
  const registration = new Connection(await dial(broker));
  await connectHandshake(registration, { role: 'instance', site, name: service, service, instance: id });
  // The broker closes a connection that stops answering its heartbeat.
  registration.onFrame = (kind, rid) => {
    if (kind === FrameKind.Ping) registration.send(FrameKind.Pong, rid);
  };
  registration.send(FrameKind.Register, 0, encode(info));
  return Object.assign(fake, {
    info,
    close: async () => {
      registration.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  });
}

/** What the target instance process says about itself (its `stats` method). */
export interface TargetStats {
  /** Marker messages (objects with a `good` field), in order of arrival. */
  received: Record<'events' | 'jobs' | 'durable', unknown[]>;
  /** Other messages that were decoded and handled. */
  others: Record<'events' | 'jobs' | 'durable', number>;
  client: ClientStats;
}

/** A real instance process of service `name` (fixtures/poison-target.ts), running the SDK's runtime. */
export interface TargetProcess {
  readonly child: ChildProcess;
  readonly info: InstanceInfo;
  kill(): Promise<void>;
}

export function startTarget(broker: string, name = 'target', site = 'sto'): Promise<TargetProcess> {
  const child = fork(TARGET_SCRIPT, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, TARGET_BROKER: broker, TARGET_NAME: name, TARGET_SITE: site },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const kill = () => new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`target exited (${code}) before ready: ${stderr}`)));
    child.on('message', (m: { type?: string; instance?: InstanceInfo }) => {
      if (m?.type === 'ready' && m.instance) resolve({ child, info: m.instance, kill });
    });
  });
}
