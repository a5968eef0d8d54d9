import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor, silent } from '@squadron/testkit';
import { StorageError, type ProvisionContext, type Provisioner, type StorageDescription, type StorageSpec } from '../src/index.ts';

/** How one kind runs the shared provisioner suite. */
export interface ConformanceOptions<State> {
  /**
   * A new provisioner, as the platform makes one when it starts. Called again for the steps after
   * a stop, so that `start` is shown to work from the kept state alone, as after a restart.
   */
  provisioner: () => Provisioner<State>;
  /** Overrides of the resource the suite makes (its name comes from each test's title). */
  spec?: Partial<Omit<StorageSpec, 'name' | 'kind'>>;
  /** Asserts the kind's credentials shape; they must be plain JSON in any case. */
  checkCredentials(credentials: Record<string, unknown>, spec: StorageSpec): void;
  /**
   * Whether the resource serves at what its credentials say: true when it does everywhere, false
   * when it does nowhere (anything between fails the test). Default: the endpoints `describe`
   * listed after create (`host:port`, comma-separated) accept TCP connections.
   */
  answers?: (credentials: Record<string, unknown>, created: StorageDescription) => Promise<boolean>;
  /**
   * False for a kind that runs nothing of its own (a cluster the user names): stop then leaves it
   * serving, and only destroy ends what its credentials reach. Default true.
   */
  runsOnPlatform?: boolean;
  /** `refused`: failover throws NOT_SUPPORTED (no primary); `moves`: it returns a state. */
  failover: 'refused' | 'moves';
  /** How long a step may take to show its effect. Default 10 s. */
  timeoutMs?: number;
}

/**
 * The contract every kind of storage keeps, as tests: create runs it in every site and a second
 * create changes nothing; stop stops what the platform runs, and start from the kept state (on a
 * new provisioner) serves again, twice over without harm; destroy leaves nothing running and no folder; failover
 * moves a primary or is refused. Each kind's test file calls this once.
 *
 * @example conformance('memcached', { provisioner: () => new MemcachedProvisioner(), failover: 'refused', checkCredentials })
 */
export function conformance<State>(kind: StorageSpec['kind'], options: ConformanceOptions<State>): void {
  const root = mkdtempSync(join(tmpdir(), `squadron-${kind}-conformance-`));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const cleanups: Array<() => Promise<void>> = [];

  /** A resource named after the test, in a folder of its own. */
  function resource(title: string): { spec: StorageSpec; ctx: ProvisionContext } {
    const name = `${kind}-${title}`.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40).replace(/-$/, '');
    const sites = options.spec?.sites ?? ['sto', 'gcp-eu'];
    const spec: StorageSpec = {
      name, kind, service: 'conformance', squad: 'platform', sites, primary: sites[0] ?? 'sto', sync: false, ...options.spec,
    };
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    return { spec, ctx: { dir, log: silent } };
  }

  /** Create, and destroy after the suite whatever happens in between. */
  async function created(provisioner: Provisioner<State>, title: string) {
    const { spec, ctx } = resource(title);
    const state = await provisioner.create(spec, ctx);
    let latest: State = state;
    cleanups.push(() => provisioner.destroy(spec, latest, ctx).catch(() => undefined));
    return { spec, ctx, state, keep: (s: State) => (latest = s) };
  }

  async function answers(provisioner: Provisioner<State>, spec: StorageSpec, state: State, described: StorageDescription): Promise<boolean> {
    const credentials = provisioner.credentials(spec, state);
    return options.answers ? options.answers(credentials, described) : endpointsAccept(described);
  }

  const allUp = (d: StorageDescription) => d.sites.length > 0 && d.sites.every((s) => s.up);
  const allDown = (d: StorageDescription) => d.sites.every((s) => !s.up);

  describe(`${kind} provisioner conformance`, () => {
    after(async () => {
      for (const cleanup of cleanups) await cleanup();
      rmSync(root, { recursive: true, force: true });
    });

    it('create runs it in every site, with credentials of the kind; a second create changes nothing', async () => {
      const p = options.provisioner();
      const { spec, ctx, state } = await created(p, 'create');
      const described = await waitFor(async () => {
        const d = await p.describe(spec, state, ctx);
        return allUp(d) ? d : null;
      }, 'every site up after create', timeoutMs);
      assert.deepEqual(described.sites.map((s) => s.site), spec.sites);
      const credentials = p.credentials(spec, state);
      assert.deepEqual(JSON.parse(JSON.stringify(credentials)), credentials, 'credentials are plain JSON');
      assert.deepEqual(JSON.parse(JSON.stringify(state)), state, 'the state is plain JSON');
      options.checkCredentials(credentials, spec);
      assert.equal(await answers(p, spec, state, described), true, 'it serves at its credentials');

      const again = await p.create(spec, ctx);
      assert.deepEqual(again, state, 'a second create returns the same state');
      assert.deepEqual(p.credentials(spec, again), credentials);
      assert.ok(allUp(await p.describe(spec, again, ctx)));
    });

    it('stop stops it; start from the kept state serves again, and a second start changes nothing', async () => {
      const first = options.provisioner();
      const { spec, ctx, state, keep } = await created(first, 'stop-start');
      const before = await waitFor(async () => {
        const d = await first.describe(spec, state, ctx);
        return allUp(d) ? d : null;
      }, 'every site up after create', timeoutMs);
      await first.stop(spec, state, ctx);
      if (options.runsOnPlatform === false) {
        assert.equal(await answers(first, spec, state, before), true, 'its cluster still serves it after stop');
      } else {
        assert.ok(allDown(await first.describe(spec, state, ctx)), 'every site down after stop');
        assert.equal(await answers(first, spec, state, before), false, 'nothing serves after stop');
      }
      await first.stop(spec, state, ctx);

      // A new provisioner, as the platform has after it restarts.
      const second = options.provisioner();
      const started = keep(await second.start(spec, state, ctx));
      const after = await waitFor(async () => {
        const d = await second.describe(spec, started, ctx);
        return allUp(d) ? d : null;
      }, 'every site up after start', timeoutMs);
      options.checkCredentials(second.credentials(spec, started), spec);
      assert.equal(await answers(second, spec, started, after), true, 'it serves again after start');
      assert.deepEqual(await second.start(spec, started, ctx), started, 'a second start returns the same state');
      assert.ok(allUp(await second.describe(spec, started, ctx)));
      await second.destroy(spec, started, ctx);
    });

    it('destroy leaves nothing running and removes its folder; a second destroy is harmless', async () => {
      const p = options.provisioner();
      const { spec, ctx, state } = await created(p, 'destroy');
      const described = await waitFor(async () => {
        const d = await p.describe(spec, state, ctx);
        return allUp(d) ? d : null;
      }, 'every site up after create', timeoutMs);
      await p.destroy(spec, state, ctx);
      assert.equal(existsSync(ctx.dir), false, `${ctx.dir} is removed`);
      assert.equal(await answers(p, spec, state, described), false, 'nothing serves after destroy');
      await p.destroy(spec, state, ctx);
    });

    it(options.failover === 'refused' ? 'failover is refused with NOT_SUPPORTED' : 'failover moves the primary', async () => {
      const p = options.provisioner();
      const { spec, ctx, state, keep } = await created(p, 'failover');
      if (options.failover === 'refused') {
        await assert.rejects(p.failover(spec, state, ctx), (err: unknown) => err instanceof StorageError && err.code === 'NOT_SUPPORTED' && err.message.length > 20);
        return;
      }
      const moved = keep(await p.failover(spec, state, ctx));
      await waitFor(async () => {
        const desc = await p.describe(spec, moved, ctx);
        return desc.sites.some((s) => s.role === 'primary' && s.up && s.site !== spec.primary);
      }, `a primary up in a site other than ${spec.primary} after failover`, timeoutMs);
    });
  });
}

/** True when every `host:port` endpoint listed accepts a TCP connection, false when none does. */
export async function endpointsAccept(described: StorageDescription): Promise<boolean> {
  const endpoints = described.sites.flatMap((s) => (s.endpoint ?? '').split(',')).filter((e) => /:\d+$/.test(e));
  assert.ok(endpoints.length > 0, 'describe lists host:port endpoints (or the kind passes its own `answers`)');
  const results = await Promise.all(endpoints.map(accepts));
  if (results.every(Boolean)) return true;
  if (!results.some(Boolean)) return false;
  assert.fail(`some endpoints accept connections and others do not: ${endpoints.map((e, i) => `${e} ${results[i] ? 'accepts' : 'refuses'}`).join(', ')}`);
}

function accepts(endpoint: string): Promise<boolean> {
  const at = endpoint.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = connect({ host: endpoint.slice(0, at), port: Number(endpoint.slice(at + 1)) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
