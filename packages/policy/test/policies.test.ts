import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Policies, parseRate, rateLimit, DEFAULT_RATE_LIMIT, type PolicySet, type ServicePolicy, type Caller, type GrantRule } from '@squadron/policy';

const policy = (p: Partial<ServicePolicy> & { squad: string }): ServicePolicy => ({
  access: 'open', grants: [], denies: [], topics: [], queues: [], ...p,
});
const grant = (g: Partial<GrantRule> & { caller: string }): GrantRule => ({ methods: null, rate: null, publish: [], subscribe: [], consume: [], ...g });
const set = (services: Record<string, ServicePolicy>): Policies => new Policies({ version: '1', defaultRate: DEFAULT_RATE_LIMIT, services });

const search: Caller = { service: 'search', squad: 'discovery' };
const notifications: Caller = { service: 'notifications', squad: 'engagement' };
const discoveryCli: Caller = { service: null, squad: 'discovery' };

describe('access policies', () => {
  it('an open service lets any caller in at the default threshold; its own squad unlimited', () => {
    const p = set({ playlists: policy({ squad: 'collections' }), library: policy({ squad: 'collections' }) });
    assert.deepEqual(p.call(search, 'playlists', 'get'), { ok: true, limit: DEFAULT_RATE_LIMIT });
    assert.deepEqual(p.call({ service: 'library', squad: 'collections' }, 'playlists', 'get'), { ok: true, limit: null });
    assert.deepEqual(p.call({ service: null, squad: 'admin' }, 'playlists', 'get'), { ok: true, limit: null });
  });

  it('a restricted service refuses callers without a grant, naming the policy and the command that fixes it', () => {
    const p = set({ playlists: policy({ squad: 'collections', access: 'restricted', grants: [grant({ caller: 'search', methods: ['get'], rate: rateLimit(500) })] }) });
    assert.deepEqual(p.call(search, 'playlists', 'get'), { ok: true, limit: { ratePerSecond: 500, burst: 1000 } });
    const refused = p.call(search, 'playlists', 'delete');
    assert.equal(refused.ok, false);
    assert.ok(!refused.ok && refused.policy === 'access playlists restricted');
    assert.match(!refused.ok ? refused.reason : '', /squadron grant search playlists --methods delete/);
    assert.equal(p.call(notifications, 'playlists', 'get').ok, false);
  });

  it('a grant to a squad covers its services and clients; a grant to the service itself wins', () => {
    const p = set({
      playlists: policy({
        squad: 'collections', access: 'restricted',
        grants: [grant({ caller: 'squad:discovery', rate: rateLimit(100) }), grant({ caller: 'search', rate: rateLimit(900) })],
      }),
    });
    assert.deepEqual(p.call(search, 'playlists', 'get'), { ok: true, limit: rateLimit(900) });
    assert.deepEqual(p.call({ service: 'radio', squad: 'discovery' }, 'playlists', 'get'), { ok: true, limit: rateLimit(100) });
    assert.deepEqual(p.call(discoveryCli, 'playlists', 'get'), { ok: true, limit: rateLimit(100) });
  });

  it('deny wins over allow, even over the owner squad and a grant', () => {
    const p = set({
      playlists: policy({
        squad: 'collections',
        grants: [grant({ caller: 'search' })],
        denies: [{ caller: 'squad:discovery', methods: ['delete'] }, { caller: 'library', methods: null }],
        topics: ['playlist.created'],
      }),
    });
    assert.equal(p.call(search, 'playlists', 'get').ok, true);
    const d = p.call(search, 'playlists', 'delete');
    assert.ok(!d.ok && d.policy === 'deny squad:discovery on playlists --methods delete');
    assert.equal(p.call({ service: 'library', squad: 'collections' }, 'playlists', 'get').ok, false);
    assert.equal(p.messaging({ service: 'library', squad: 'collections' }, 'subscribe', 'topic', 'playlist.created').ok, false);
  });

  it('topics and queues: the owner squad, and grants for others; undeclared ones are free', () => {
    const p = set({
      users: policy({ squad: 'identity', topics: ['user.created'], grants: [grant({ caller: 'notifications', methods: [], subscribe: ['user.created'] })] }),
      exports: policy({ squad: 'collections', queues: ['playlist-exports'], grants: [grant({ caller: 'search', methods: [], publish: ['playlist-exports'] })] }),
    });
    assert.equal(p.messaging(notifications, 'subscribe', 'topic', 'user.created').ok, true);
    assert.equal(p.messaging(notifications, 'publish', 'topic', 'user.created').ok, false);
    assert.equal(p.messaging({ service: 'accounts', squad: 'identity' }, 'publish', 'topic', 'user.created').ok, true);
    assert.equal(p.messaging(search, 'publish', 'queue', 'playlist-exports').ok, true);
    const consume = p.messaging(search, 'consume', 'queue', 'playlist-exports');
    assert.ok(!consume.ok && /squadron grant search exports --consume playlist-exports/.test(consume.reason));
    assert.equal(p.messaging(search, 'publish', 'topic', 'nobody.owns.this').ok, true);
    // A grant of topics only does not open a restricted service's methods.
    const r = set({ users: policy({ squad: 'identity', access: 'restricted', grants: [grant({ caller: 'notifications', methods: [], subscribe: ['user.created'] })] }) });
    assert.equal(r.call(notifications, 'users', 'get').ok, false);
  });

  it('property: a denied caller is refused whatever else the policy says; admin is never refused', () => {
    const name = fc.constantFrom('a', 'b', 'c');
    const squad = fc.constantFrom('s1', 's2', 'admin');
    const callerName = fc.oneof(name, squad.map((s) => `squad:${s}`));
    const methods = fc.option(fc.subarray(['m1', 'm2', 'm3']), { nil: null });
    const servicePolicy = fc.record({
      squad: fc.constantFrom('s1', 's2'),
      access: fc.constantFrom('open' as const, 'restricted' as const),
      grants: fc.array(fc.record({ caller: callerName, methods, rate: fc.constant(null), publish: fc.constant<string[]>([]), subscribe: fc.constant<string[]>(['t']), consume: fc.constant<string[]>([]) }), { maxLength: 3 }),
      denies: fc.array(fc.record({ caller: callerName, methods }), { maxLength: 2 }),
      topics: fc.constant<string[]>(['t']), queues: fc.constant<string[]>([]),
    });
    fc.assert(fc.property(servicePolicy, name, squad, fc.constantFrom('m1', 'm2', 'm3'), (sp, svc, sq, method) => {
      const caller: Caller = { service: svc, squad: sq };
      const p = set({ target: sp });
      const decision = p.call(caller, 'target', method);
      const denied = sq !== 'admin' && sp.denies.some((d) => (d.caller === svc || d.caller === `squad:${sq}`) && (d.methods === null || d.methods.includes(method)));
      if (sq === 'admin') assert.equal(decision.ok, true);
      if (denied) assert.equal(decision.ok, false);
      const granted = sp.grants.some((g) => (g.caller === svc || g.caller === `squad:${sq}`) && (g.methods === null || g.methods.includes(method)));
      if (!denied && (sq === sp.squad || granted || sp.access === 'open')) assert.equal(decision.ok, true);
      if (!denied && sq !== 'admin' && sq !== sp.squad && !granted && sp.access === 'restricted') assert.equal(decision.ok, false);
    }), { numRuns: 2000 });
  });
});

describe('rates', () => {
  it('reads rates as people write them, and refuses anything else with the accepted forms', () => {
    assert.equal(parseRate('500/s'), 500);
    assert.equal(parseRate('30/m'), 0.5);
    assert.equal(parseRate('3600/h'), 1);
    assert.equal(parseRate('20'), 20);
    for (const bad of ['', 'fast', '0/s', '-5/s', '10/fortnight', '5/s/s']) assert.throws(() => parseRate(bad), /write it as 500\/s/);
  });
});
