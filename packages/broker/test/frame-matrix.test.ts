/**
 * The frame-by-role matrix at the broker: every frame kind of the wire protocol, sent by each
 * role (client, instance, control, broker) over a connection whose credential the broker
 * verified. The table below says what each may do, written by hand; a frame kind missing from it
 * fails the test, so a new kind cannot ship without a decision. What a role may not send is
 * refused (a typed error, the connection open) or closes its connection alone (a Goaway with the
 * code); either way nothing changes at the broker.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '@squadron/broker';
import { FrameKind, PROTOCOL_VERSION, buildEnvelope, encode, errorToWire, PermissionDeniedError, decode, errorFromWire } from '@squadron/protocol';
import { CredentialIssuer, CredentialVerifier, Identity, type CredentialClaims } from '@squadron/identity';
import { Policies, DEFAULT_RATE_LIMIT } from '@squadron/policy';
import { rawPeer, silent, waitFor, type RawPeer } from '@squadron/testkit';

type Role = 'client' | 'instance' | 'control' | 'broker';
const ROLES: Role[] = ['client', 'instance', 'control', 'broker'];

/**
 * What happens: `ok` (taken; answered with a Reply where the kind is answered), `refused` (a
 * typed PERMISSION_DENIED answer, the connection stays open), `closed:CODE` (a Goaway with that
 * code, then closed), `ends` (the sender said goodbye: closed without a word).
 */
type Outcome = 'ok' | 'refused' | `closed:${string}` | 'ends';
const NEVER_TAKEN: Outcome = 'closed:PROTOCOL_ERROR';
const all = (o: Outcome): Record<Role, Outcome> => ({ client: o, instance: o, control: o, broker: o });
/** Frames of a squad's own messaging: any connection acting for a squad, never a peer broker. */
const messaging: Record<Role, Outcome> = { client: 'ok', instance: 'ok', control: 'ok', broker: NEVER_TAKEN };

const MATRIX: Record<keyof typeof FrameKind, Record<Role, Outcome>> = {
  Hello: all(NEVER_TAKEN),
  Auth: all(NEVER_TAKEN),
  Ready: all(NEVER_TAKEN),
  Reauth: all('ok'),
  Request: all(NEVER_TAKEN),
  Reply: all(NEVER_TAKEN),
  ErrorReply: all(NEVER_TAKEN),
  Publish: messaging,
  Message: all(NEVER_TAKEN),
  Subscribe: messaging,
  Unsubscribe: messaging,
  Refused: all(NEVER_TAKEN),
  Register: { client: 'closed:PERMISSION_DENIED', instance: 'ok', control: 'closed:PERMISSION_DENIED', broker: NEVER_TAKEN },
  Deregister: { client: NEVER_TAKEN, instance: 'ok', control: NEVER_TAKEN, broker: NEVER_TAKEN },
  Watch: all('ok'),
  RegistryEvent: all(NEVER_TAKEN),
  Load: { client: NEVER_TAKEN, instance: 'ok', control: NEVER_TAKEN, broker: NEVER_TAKEN },
  // What a connection's own subscriptions dropped: counted for the subscriptions it holds, nobody else's.
  Drops: messaging,
  Ping: all('ok'),
  Pong: all('ok'),
  Query: messaging,
  Interest: all(NEVER_TAKEN),
  Forward: { client: NEVER_TAKEN, instance: NEVER_TAKEN, control: NEVER_TAKEN, broker: 'ok' },
  Enqueue: messaging,
  Consume: messaging,
  Delivery: all(NEVER_TAKEN),
  Ack: messaging,
  Nack: messaging,
  StopConsume: messaging,
  // A durable subscription is kept for the service that makes it: a client has none.
  SubscribeDurable: { client: 'refused', instance: 'ok', control: 'refused', broker: NEVER_TAKEN },
  PublishDurable: messaging,
  Goaway: all('ends'),
};

/** Kinds the broker answers with Reply or ErrorReply (the others are checked with a Ping behind them). */
const ANSWERED = new Set<number>([FrameKind.Query, FrameKind.Enqueue, FrameKind.Consume, FrameKind.SubscribeDurable, FrameKind.PublishDurable]);

const CLAIMS: Record<Role, Omit<CredentialClaims, 'name'> & { name: string }> = {
  client: { role: 'client', site: 'sto', name: 'matrix-client', squad: 'tools' },
  instance: { role: 'instance', site: 'sto', name: 'relay-m1', service: 'relay', squad: 'tools' },
  control: { role: 'client', site: 'sto', name: 'control', squad: 'tools' },
  broker: { role: 'broker', site: 'gcp-eu', name: 'broker:gcp-eu', squad: 'admin' },
};

describe('frame-by-role matrix at the broker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'squadron-frame-matrix-'));
  let issuer: CredentialIssuer;
  let broker: Broker;
  const identities = new Map<Role, Identity>();

  before(async () => {
    issuer = await CredentialIssuer.generate();
    const verifier = new CredentialVerifier({ trust: [issuer.publicJwk()] });
    broker = new Broker({ site: 'sto', dataDir: dir, logger: silent, identity: { verifier } });
    await broker.start();
    broker.setPolicies(new Policies({ version: 'matrix', defaultRate: DEFAULT_RATE_LIMIT, services: {} }));
    for (const role of ROLES) {
      const { privateKey, publicJwk } = Identity.newKey();
      identities.set(role, new Identity((await issuer.issue(CLAIMS[role], publicJwk, 600_000)).credential, privateKey));
    }
  });

  after(async () => {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function connectAs(role: Role): Promise<RawPeer> {
    const c = CLAIMS[role];
    const auth = role === 'instance'
      ? { role: 'instance' as const, site: c.site, name: 'relay', service: c.service!, instance: c.name }
      : { role: role === 'control' ? 'control' as const : c.role, site: c.site, name: c.name };
    return rawPeer(broker.address, auth, identities.get(role)!);
  }

  /** A well-formed body of each kind, so that what decides is the role, never the shape. */
  function bodyOf(kind: number, role: Role, peer: RawPeer): Buffer | undefined {
    const envelope = (group = '') => buildEnvelope('matrix.topic', 'trace-1', group, encode({ n: 1 }));
    switch (kind) {
      case FrameKind.Hello: return encode({ nonce: 'n', site: 'sto', server: 'broker', version: PROTOCOL_VERSION, sites: ['sto'] });
      case FrameKind.Auth: return encode({ version: PROTOCOL_VERSION, role: 'client', site: 'sto', name: 'again' });
      case FrameKind.Ready: return encode({ site: 'sto', sites: ['sto'] });
      case FrameKind.Reauth: {
        const c = CLAIMS[role];
        return encode({ version: PROTOCOL_VERSION, role: role === 'control' ? 'control' : c.role, site: c.site, name: role === 'instance' ? 'relay' : c.name,
          ...(role === 'instance' ? { service: c.service, instance: c.name } : {}), ...identities.get(role)!.prove(peer.conn.hello!.nonce) });
      }
      case FrameKind.Request: return encode(['m', Date.now() + 5000, 'trace-1', encode(null)]);
      case FrameKind.Reply: return encode(null);
      case FrameKind.ErrorReply: return encode(errorToWire(new PermissionDeniedError('no')));
      case FrameKind.Publish: case FrameKind.Message: return envelope();
      case FrameKind.Forward: return envelope('g');
      case FrameKind.Subscribe: return encode({ topic: 'matrix.topic', group: `g-${role}` });
      case FrameKind.Refused: return encode(['subscription', errorToWire(new PermissionDeniedError('no'))]);
      case FrameKind.Register: return encode({ id: 'relay-m1', service: 'relay', site: 'sto', address: 'tcp://127.0.0.1:9', host: 'h', pid: 1, methods: [], topics: [], startedAt: Date.now() });
      case FrameKind.Watch: return encode(null);
      case FrameKind.RegistryEvent: return encode({ type: 'down', id: 'x', site: 'sto', reason: 'r' });
      case FrameKind.Load: return encode(0);
      case FrameKind.Drops: return encode([[1, 5]]);
      case FrameKind.Query: return encode({ what: 'stats' });
      case FrameKind.Interest: return encode({ topic: 'matrix.topic', group: 'g', present: true });
      case FrameKind.Enqueue: return encode(['matrix.queue', null, null, 0, 'trace-1', encode({ n: 1 })]);
      case FrameKind.Consume: return encode({ queue: 'matrix.queue', concurrency: 1, maxDeliveries: 3, visibilityTimeoutMs: 1000 });
      case FrameKind.Delivery: return encode([1, 'id', 1, 'trace-1', encode(1)]);
      case FrameKind.Ack: return encode([1]);
      case FrameKind.Nack: return encode([1, 'failed']);
      case FrameKind.SubscribeDurable: return encode({ topic: 'matrix.topic', group: 'relay' });
      case FrameKind.PublishDurable: return encode(['matrix.topic', null, 'trace-1', encode({ n: 1 })]);
      case FrameKind.Goaway: return encode(['CLOSED', 'bye']);
      default: return undefined; // Unsubscribe, Deregister, Ping, Pong, StopConsume: no body
    }
  }

  /** What the broker holds that a refused frame must not change. */
  const state = () => {
    const s = broker.stats();
    return JSON.stringify({ instances: s.instances.map((i) => i.id), subscriptions: s.subscriptions.filter((x) => x.members > 0), published: s.published });
  };

  async function outcomeOf(role: Role, kind: number): Promise<{ outcome: Outcome; changed: boolean }> {
    const peer = await connectAs(role);
    try {
      const before = state();
      const id = 7;
      const from = peer.frames.length;
      peer.send(kind, id, bodyOf(kind, role, peer));
      if (kind !== FrameKind.Goaway) peer.send(FrameKind.Ping, 424242);
      await waitFor(() => peer.closed() || peer.frames.slice(from).some((f) =>
        (ANSWERED.has(kind) ? f.id === id && (f.kind === FrameKind.Reply || f.kind === FrameKind.ErrorReply) : f.kind === FrameKind.Pong && f.id === 424242)
        || (f.kind === FrameKind.Refused && f.id === id)), `the broker to answer ${role}'s frame of kind ${kind}`, 5000, 2);
      const got = peer.frames.slice(from);
      const refusal = got.find((f) => (f.kind === FrameKind.ErrorReply || f.kind === FrameKind.Refused) && f.id === id);
      let outcome: Outcome;
      if (peer.closed()) outcome = peer.goaway() ? `closed:${peer.goaway()![0]}` : 'ends';
      else if (refusal) {
        const wire = decode(refusal.body) as unknown[];
        const err = errorFromWire(refusal.kind === FrameKind.Refused ? wire[1] : wire);
        outcome = err.code === 'PERMISSION_DENIED' ? 'refused' : `closed:unexpected ${err.code}: ${err.message}` as Outcome;
      } else outcome = 'ok';
      return { outcome, changed: outcome !== 'ok' && state() !== before };
    } finally {
      peer.close();
      await waitFor(() => broker.stats().connections === 0, 'the connection to be gone', 5000, 2);
    }
  }

  it('has a decision for every frame kind of the protocol', () => {
    const kinds = Object.keys(FrameKind).sort();
    assert.deepEqual(Object.keys(MATRIX).sort(), kinds, 'add the new frame kind to the matrix, with what each role may do');
  });

  for (const role of ROLES) {
    it(`${role}: every frame kind does what the matrix says, and a refused one changes nothing`, async () => {
      const wrong: string[] = [];
      for (const [name, byRole] of Object.entries(MATRIX)) {
        const kind = FrameKind[name as keyof typeof FrameKind];
        const { outcome, changed } = await outcomeOf(role, kind);
        if (outcome !== byRole[role]) wrong.push(`${name}: expected ${byRole[role]}, got ${outcome}`);
        if (changed) wrong.push(`${name}: refused, yet the broker's state changed`);
      }
      assert.deepEqual(wrong, []);
    });
  }

  it('closes a connection that sends a frame kind the protocol does not have', async () => {
    const peer = await connectAs('client');
    peer.conn.socket.write(Buffer.from([0, 0, 0, 5, 0xee, 0, 0, 0, 1]));
    assert.equal((await peer.closedWith())?.[0], 'PROTOCOL_ERROR');
  });
});
