import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Broker } from '@squadron/broker';
import { PermissionDeniedError } from '@squadron/protocol';
import { CredentialIssuer, CredentialVerifier, Identity, type CredentialClaims } from '@squadron/identity';
import { Policies, DEFAULT_RATE_LIMIT, type ServicePolicy, type GrantRule } from '@squadron/policy';
import { defineService, runService, PolicyHolder, type RunningService } from '@squadron/sdk';

const silent = pino({ level: 'silent' });
const METHODS = ['m1', 'm2', 'm3'] as const;
const CALLERS = { alpha: 'red', beta: 'blue', gamma: 'green' } as const;
type CallerName = keyof typeof CALLERS;

const grant = (caller: string, methods: string[]): GrantRule => ({ caller, methods, rate: null, publish: [], subscribe: [], consume: [] });
const policy = (squad: string, p: Partial<ServicePolicy>): ServicePolicy => ({ squad, access: 'open', grants: [], denies: [], topics: [], queues: [], ...p });

/** Four services, each with m1, m2 and m3 (m3 private to the squad), under different policies. */
const TARGETS: Record<string, ServicePolicy> = {
  'open-red': policy('red', { denies: [{ caller: 'beta', methods: ['m2'] }] }),
  'restricted-blue': policy('blue', { access: 'restricted', grants: [grant('gamma', ['m1', 'm2']), grant('squad:red', ['m1', 'm3'])] }),
  'closed-green': policy('green', { access: 'restricted' }),
  'deny-red': policy('red', { denies: [{ caller: 'squad:blue', methods: null }, { caller: 'alpha', methods: ['m2'] }] }),
};

/**
 * What each caller may do, written out by hand from the policies above (not computed by the
 * code under test): the cells that must succeed. Every other cell must be PERMISSION_DENIED.
 */
const ALLOWED = new Set([
  'alpha open-red m1', 'alpha open-red m2', 'alpha open-red m3', 'beta open-red m1', 'gamma open-red m1', 'gamma open-red m2',
  'alpha restricted-blue m1', 'beta restricted-blue m1', 'beta restricted-blue m2', 'beta restricted-blue m3', 'gamma restricted-blue m1', 'gamma restricted-blue m2',
  'gamma closed-green m1', 'gamma closed-green m2', 'gamma closed-green m3',
  'alpha deny-red m1', 'alpha deny-red m3', 'gamma deny-red m1', 'gamma deny-red m2',
]);

/**
 * The permission matrix: N callers × M services × their methods, over verified identities. Every
 * unauthorised attempt gets PERMISSION_DENIED and its handler never runs; every authorised one
 * succeeds. First the callees alone enforce (callers without policies), then the callers' mirror
 * refuses the same calls before they leave.
 */
describe('permission matrix', () => {
  let issuer: CredentialIssuer;
  let broker: Broker;
  const policies = new PolicyHolder();
  const targets: RunningService[] = [];
  const runs = new Map<string, number>();

  async function identity(claims: CredentialClaims): Promise<Identity> {
    const { privateKey, publicJwk } = Identity.newKey();
    return new Identity((await issuer.issue(claims, publicJwk, 600_000)).credential, privateKey);
  }
  const instanceOf = (service: string, squad: string) => identity({ role: 'instance', site: 'sto', name: `${service}-1`, service, squad });

  async function callers(withPolicies: boolean): Promise<Record<CallerName, RunningService>> {
    const out = {} as Record<CallerName, RunningService>;
    for (const [name, squad] of Object.entries(CALLERS) as Array<[CallerName, string]>) {
      out[name] = await runService(defineService({ name, methods: {} }), {
        site: 'sto', broker: broker.address, logger: silent, identity: await instanceOf(name, squad), socketDir: null, instanceId: `${name}-1`,
        ...(withPolicies ? { policies } : {}),
      });
      for (const t of Object.keys(TARGETS)) await out[name].client.waitForInstances(t);
    }
    return out;
  }

  /** Every cell: 'ok', or the refusal (checked to be PERMISSION_DENIED naming a policy). */
  async function matrix(from: Record<CallerName, RunningService>): Promise<Map<string, 'ok' | PermissionDeniedError>> {
    const cells = new Map<string, 'ok' | PermissionDeniedError>();
    for (const caller of Object.keys(CALLERS) as CallerName[]) {
      for (const target of Object.keys(TARGETS)) {
        for (const method of METHODS) {
          const cell = `${caller} ${target} ${method}`;
          try {
            await from[caller].client.call(target, method, null, { timeoutMs: 3000 });
            cells.set(cell, 'ok');
          } catch (err) {
            assert.ok(err instanceof PermissionDeniedError, `${cell}: expected PERMISSION_DENIED, got ${String(err)}`);
            assert.ok(typeof err.details?.policy === 'string' && err.details.policy.length > 0, `${cell}: the refusal names its policy`);
            cells.set(cell, err);
          }
        }
      }
    }
    return cells;
  }

  function check(cells: Map<string, 'ok' | PermissionDeniedError>): void {
    for (const [cell, outcome] of cells) {
      assert.equal(outcome === 'ok', ALLOWED.has(cell), `${cell}: ${outcome === 'ok' ? 'allowed' : `refused (${outcome.message})`}, expected ${ALLOWED.has(cell) ? 'allowed' : 'refused'}`);
    }
  }

  before(async () => {
    issuer = await CredentialIssuer.generate();
    const verifier = new CredentialVerifier({ trust: [issuer.publicJwk()] });
    broker = new Broker({ site: 'sto', logger: silent, identity: { verifier, self: await identity({ role: 'broker', site: 'sto', name: 'broker:sto', squad: 'admin' }) } });
    await broker.start();
    policies.set(new Policies({ version: '1', defaultRate: DEFAULT_RATE_LIMIT, services: TARGETS }));
    for (const [name, p] of Object.entries(TARGETS)) {
      const count = (method: string) => async () => runs.set(`${name} ${method}`, (runs.get(`${name} ${method}`) ?? 0) + 1);
      targets.push(await runService(defineService({
        name,
        methods: { m1: count('m1'), m2: count('m2'), m3: { visibility: 'squad', handler: count('m3') } },
      }), { site: 'sto', broker: broker.address, logger: silent, identity: await instanceOf(name, p.squad), instanceId: `${name}-1`, verifier, policies, socketDir: null }));
    }
  });

  after(async () => {
    for (const t of targets) await t.stop();
    await broker?.stop();
  });

  it(`refuses every unauthorised call at the callee (${Object.keys(CALLERS).length} callers × ${Object.keys(TARGETS).length} services × ${METHODS.length} methods), and no refused handler runs`, async () => {
    const from = await callers(false);
    try {
      const cells = await matrix(from);
      assert.equal(cells.size, 36);
      check(cells);
      for (const err of cells.values()) if (err !== 'ok') assert.notEqual(err.details?.mirrored, true, 'refused by the callee, not a mirror');
      // Each handler ran exactly once per allowed cell, never for a refused one.
      for (const target of Object.keys(TARGETS)) {
        for (const method of METHODS) {
          const allowed = (Object.keys(CALLERS) as CallerName[]).filter((c) => ALLOWED.has(`${c} ${target} ${method}`)).length;
          assert.equal(runs.get(`${target} ${method}`) ?? 0, allowed, `${target}.${method} ran ${runs.get(`${target} ${method}`) ?? 0} times, allowed ${allowed}`);
        }
      }
    } finally {
      for (const c of Object.values(from)) await c.stop();
    }
  });

  it('gives the same answers from the caller\'s mirror, before any call leaves', async () => {
    const before = new Map(runs);
    const from = await callers(true);
    try {
      const cells = await matrix(from);
      check(cells);
      for (const [cell, err] of cells) {
        if (err === 'ok') continue;
        // The squad-private rule is the callee's own code; the mirror only knows the policies.
        if (!cell.endsWith('m3') || !err.message.includes('private')) assert.equal(err.details?.mirrored, true, `${cell} refused by the mirror`);
      }
      for (const [key, n] of before) {
        const [target, method] = key.split(' ');
        const allowed = (Object.keys(CALLERS) as CallerName[]).filter((c) => ALLOWED.has(`${c} ${target} ${method}`)).length;
        assert.equal(runs.get(key), n + allowed, `${key} ran only for the allowed calls`);
      }
    } finally {
      for (const c of Object.values(from)) await c.stop();
    }
  });
});
