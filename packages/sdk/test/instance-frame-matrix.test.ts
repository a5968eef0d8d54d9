/**
 * The frame-by-role matrix at an instance: every frame kind of the wire protocol, sent straight
 * to a running instance's own server by each role (client, instance, control, broker) over a
 * connection whose credential the instance verified. An instance takes requests (from whoever
 * may call it), pings and renewed credentials; anything else closes that connection alone, and
 * the handler never runs for it. A frame kind missing from the table fails the test.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Broker } from '@squadron/broker';
import { FrameKind, PROTOCOL_VERSION, buildEnvelope, encode, errorToWire, PermissionDeniedError } from '@squadron/protocol';
import { CredentialIssuer, CredentialVerifier, Identity, type CredentialClaims } from '@squadron/identity';
import { defineService, runService, type RunningService } from '@squadron/sdk';
import { rawPeer, silent, waitFor, type RawPeer } from '@squadron/testkit';

type Role = 'client' | 'instance' | 'control' | 'broker';
const ROLES: Role[] = ['client', 'instance', 'control', 'broker'];
type Outcome = 'ok' | `closed:${string}` | 'ends';
const NEVER: Outcome = 'closed:PROTOCOL_ERROR';
const all = (o: Outcome): Record<Role, Outcome> => ({ client: o, instance: o, control: o, broker: o });

/** A broker never calls an instance: its connection is refused as soon as it is open. */
const callers: Record<Role, Outcome> = { client: 'ok', instance: 'ok', control: 'ok', broker: 'closed:PERMISSION_DENIED' };
const brokerRefused = (o: Outcome): Record<Role, Outcome> => ({ ...all(o), broker: 'closed:PERMISSION_DENIED' });

const MATRIX: Record<keyof typeof FrameKind, Record<Role, Outcome>> = {
  Hello: brokerRefused(NEVER), Auth: brokerRefused(NEVER), Ready: brokerRefused(NEVER),
  Reauth: callers,
  Request: callers,
  Reply: brokerRefused(NEVER), ErrorReply: brokerRefused(NEVER),
  Publish: brokerRefused(NEVER), Message: brokerRefused(NEVER), Subscribe: brokerRefused(NEVER), Unsubscribe: brokerRefused(NEVER),
  Refused: brokerRefused(NEVER), Register: brokerRefused(NEVER), Deregister: brokerRefused(NEVER), Watch: brokerRefused(NEVER),
  RegistryEvent: brokerRefused(NEVER), Load: brokerRefused(NEVER), Drops: brokerRefused(NEVER),
  Ping: callers, Pong: callers,
  Query: brokerRefused(NEVER), Interest: brokerRefused(NEVER), Forward: brokerRefused(NEVER),
  Enqueue: brokerRefused(NEVER), Consume: brokerRefused(NEVER), Delivery: brokerRefused(NEVER), Ack: brokerRefused(NEVER),
  Nack: brokerRefused(NEVER), StopConsume: brokerRefused(NEVER), SubscribeDurable: brokerRefused(NEVER), PublishDurable: brokerRefused(NEVER),
  Goaway: brokerRefused('ends'),
};

const CLAIMS: Record<Role, CredentialClaims> = {
  client: { role: 'client', site: 'sto', name: 'matrix-client', squad: 'tools' },
  instance: { role: 'instance', site: 'sto', name: 'relay-m1', service: 'relay', squad: 'tools' },
  control: { role: 'client', site: 'sto', name: 'control', squad: 'admin' },
  broker: { role: 'broker', site: 'sto', name: 'broker:sto', squad: 'admin' },
};

describe('frame-by-role matrix at an instance', () => {
  let issuer: CredentialIssuer;
  let broker: Broker;
  let target: RunningService;
  let runs = 0;
  const identities = new Map<Role, Identity>();

  const identity = async (claims: CredentialClaims) => {
    const { privateKey, publicJwk } = Identity.newKey();
    return new Identity((await issuer.issue(claims, publicJwk, 600_000)).credential, privateKey);
  };

  before(async () => {
    issuer = await CredentialIssuer.generate();
    const verifier = new CredentialVerifier({ trust: [issuer.publicJwk()] });
    broker = new Broker({ site: 'sto', logger: silent, identity: { verifier } });
    await broker.start();
    target = await runService(defineService({ name: 'target', methods: { hit: async () => ++runs } }), {
      site: 'sto', broker: broker.address, logger: silent, socketDir: null, verifier,
      identity: await identity({ role: 'instance', site: 'sto', name: 'target-1', service: 'target', squad: 'owner' }), instanceId: 'target-1',
    });
    for (const role of ROLES) identities.set(role, await identity(CLAIMS[role]));
  });

  after(async () => {
    await target.stop();
    await broker.stop();
  });

  const authOf = (role: Role) => {
    const c = CLAIMS[role];
    return role === 'instance'
      ? { role: 'instance' as const, site: c.site, name: 'relay', service: c.service!, instance: c.name }
      : { role: role === 'control' ? 'control' as const : c.role, site: c.site, name: c.name };
  };

  function bodyOf(kind: number, role: Role, peer: RawPeer): Buffer | undefined {
    switch (kind) {
      case FrameKind.Reauth: return encode({ version: PROTOCOL_VERSION, ...authOf(role), ...identities.get(role)!.prove(peer.conn.hello!.nonce) });
      case FrameKind.Request: return encode(['hit', Date.now() + 5000, 'trace-1', encode(null)]);
      case FrameKind.Reply: return encode(null);
      case FrameKind.ErrorReply: case FrameKind.Refused: return encode(errorToWire(new PermissionDeniedError('no')));
      case FrameKind.Publish: case FrameKind.Message: case FrameKind.Forward: return buildEnvelope('t', 'trace-1', 'g', encode(1));
      case FrameKind.Goaway: return encode(['CLOSED', 'bye']);
      case FrameKind.Ping: case FrameKind.Pong: case FrameKind.Unsubscribe: case FrameKind.Deregister: case FrameKind.StopConsume: return undefined;
      default: return encode({ topic: 't', group: 'g', queue: 'q', what: 'stats' });
    }
  }

  async function outcomeOf(role: Role, kind: number): Promise<{ outcome: Outcome; ran: boolean }> {
    const ranBefore = runs;
    let peer: RawPeer;
    try {
      peer = await rawPeer(target.info.address, authOf(role), identities.get(role)!);
    } catch (err) {
      return { outcome: `closed:${(err as { code?: string }).code ?? 'handshake failed'}`, ran: false };
    }
    try {
      const from = peer.frames.length;
      peer.send(kind, 7, bodyOf(kind, role, peer));
      if (kind !== FrameKind.Goaway) peer.send(FrameKind.Ping, 424242);
      await waitFor(() => peer.closed() || peer.frames.slice(from).some((f) => f.kind === FrameKind.Pong && f.id === 424242), `the instance to answer ${role}'s kind ${kind}`, 5000, 2);
      const outcome: Outcome = peer.closed() ? (peer.goaway() ? `closed:${peer.goaway()![0]}` : 'ends') : 'ok';
      return { outcome, ran: runs !== ranBefore };
    } finally {
      peer.close();
    }
  }

  it('has a decision for every frame kind of the protocol', () => {
    assert.deepEqual(Object.keys(MATRIX).sort(), Object.keys(FrameKind).sort(), 'add the new frame kind to the matrix');
  });

  for (const role of ROLES) {
    it(`${role}: every frame kind does what the matrix says, and the handler runs only for a request it may send`, async () => {
      const wrong: string[] = [];
      for (const [name, byRole] of Object.entries(MATRIX)) {
        const kind = FrameKind[name as keyof typeof FrameKind];
        const { outcome, ran } = await outcomeOf(role, kind);
        if (outcome !== byRole[role]) wrong.push(`${name}: expected ${byRole[role]}, got ${outcome}`);
        if (ran !== (kind === FrameKind.Request && byRole[role] === 'ok')) wrong.push(`${name}: the handler ${ran ? 'ran' : 'did not run'}`);
      }
      assert.deepEqual(wrong, []);
    });
  }
});
