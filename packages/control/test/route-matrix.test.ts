/**
 * The route-by-principal matrix: every route and method of the control plane's OpenAPI document,
 * called by each principal (no token, an API app's key, another squad, the owner squad, an agent,
 * the admin) on real things the squad 'owner' owns, against the table written by hand in
 * route-matrix-table.ts. A route the document has and the table lacks fails, so no route ships
 * without a decision; so does a row whose route is gone. A refused write changes nothing that the
 * API shows (the catalog, the audit trail, releases, instances, policies, agents, sites,
 * revocations, storage, apps, dead letters, the app's keys), and another squad's answers carry
 * none of the owner's secrets. HEAD, which Fastify serves for every GET, answers as GET does.
 *
 * A real control plane in this process (requests through Fastify's inject), a real broker (for
 * the queue routes and the status), a real kv server (for the apps' routes), on SQLite.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import type { CreatedAppBody, CreatedSquadBody, RegisteredAgentBody, StorageBody, StorageCredentialsBody, AssignmentsBody } from '@squadron/client';
import { KvProvisioner } from '@squadron/storage';
import { connect } from '@squadron/sdk';
import { startSites, silent, waitFor, WORKER_DIR, type TestSites } from '@squadron/testkit';
import { TEST_CONFIG, startControl, type TestControl } from './harness.ts';
import { PRINCIPALS, ROUTE_MATRIX, readyReport, type Fixtures, type HttpMethod, type MatrixRow, type Outcome, type PrincipalName } from './route-matrix-table.ts';

const TABLE_FILE = 'packages/control/test/route-matrix-table.ts';
const rowKey = (method: string, path: string): string => `${method.toUpperCase()} ${path}`;

/** What an answer's status says of the caller's rights; null for a status no class allows. */
function outcomeOf(row: MatrixRow, status: number): Outcome | null {
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if ((status >= 200 && status < 300) || status === row.allowedStatus?.status) return 'allowed';
  return null;
}

const STATUS_OF: Record<Outcome, string> = { allowed: '2xx', unauthenticated: '401 UNAUTHENTICATED', forbidden: '403 FORBIDDEN' };
const CODE_OF: Partial<Record<Outcome, string>> = { unauthenticated: 'UNAUTHENTICATED', forbidden: 'FORBIDDEN' };

describe('route-by-principal matrix of the control plane\'s API', () => {
  const storageDir = mkdtempSync(join(tmpdir(), 'squadron-route-matrix-'));
  let c: TestControl;
  let sites: TestSites;
  const tokens: Partial<Record<PrincipalName, string>> = {};
  /** What 'other' must never see in an answer: the owner's token, the app's key, the admin's, the store's secret. */
  const secrets: string[] = [];
  let fx: Fixtures;
  let names = 0;

  const inject = (who: PrincipalName, method: HttpMethod | 'HEAD', url: string, body?: unknown): Promise<LightMyRequestResponse> => {
    const token = tokens[who];
    // Bytes (a release artifact) go as they are; anything else as JSON.
    const bytes = body instanceof Uint8Array ? { 'content-type': 'application/octet-stream' } : {};
    return c.app.inject({ method, url, headers: { ...bytes, ...(token ? { authorization: `Bearer ${token}` } : {}) }, ...(body !== undefined ? { payload: body as object } : {}) });
  };
  const call: Fixtures['call'] = async (who, method, url, body) => {
    const res = await inject(who, method, url, body);
    return { status: res.statusCode, body: res.body.length > 0 ? res.json() as unknown : null };
  };
  const must = async (who: PrincipalName, method: HttpMethod, url: string, body?: unknown): Promise<unknown> => {
    const res = await call(who, method, url, body);
    assert.ok(res.status < 300, `setup: ${method} ${url} as ${who}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };

  // ------------------------------------------------------------------------------------------
  // What the API shows of its state: a refused write must leave every one of these as it was.

  const READS: Array<[PrincipalName, string]> = [
    ['admin', '/v1/squads'], ['admin', '/v1/services'], ['admin', '/v1/audit?limit=1000'],
    ['admin', '/v1/services/playlists/releases'], ['admin', '/v1/services/playlists/instances'], ['admin', '/v1/services/jingles/instances'],
    ['admin', '/v1/services/playlists/policy'], ['admin', '/v1/agents'], ['admin', '/v1/sites'], ['admin', '/v1/identity/revoked'],
    ['admin', '/v1/storage'], ['admin', '/v1/apps'], ['admin', '/v1/queues/playlist-exports/dead-letters'], ['admin', '/v1/queue-quotas'], ['app', '/v1/kv?prefix='],
  ];
  /** Each read's status and body: a write that breaks a read (a broker moved away) shows as much as one that changes it. */
  async function snapshot(): Promise<string[]> {
    return Promise.all(READS.map(async ([who, url]) => {
      const res = await inject(who, 'GET', url);
      return `${res.statusCode} ${res.body}`;
    }));
  }
  /**
   * The state once what earlier requests set off has run: no storage resource half made or half
   * destroyed (its servers start and stop in the background), and two reads in a row agree.
   */
  async function settled(): Promise<string[]> {
    let last: string[] = [];
    return waitFor(async () => {
      const now = await snapshot();
      const read = now[READS.findIndex(([, url]) => url === '/v1/storage')]!;
      const storage = read.startsWith('200 ') ? (JSON.parse(read.slice(4)) as { storage: StorageBody[] }).storage : [];
      const same = now.every((s, i) => s === last[i]);
      last = now;
      return same && storage.every((s) => s.status === 'ready' || s.status === 'failed') ? now : undefined;
    }, 'the state to settle', 30_000, 20);
  }

  before(async () => {
    sites = await startSites(['sto'], { dataDir: join(storageDir, 'broker') });
    // Agents report every minute: the one registered here stays up for the whole run.
    c = await startControl('sqlite', 'route_matrix', TEST_CONFIG, 60_000, { dir: join(storageDir, 'storage'), provisioners: () => ({ kv: new KvProvisioner() }) });
    c.sites.setBroker('sto', sites.address('sto'));
    tokens.admin = c.adminToken;
    // An agent acts with what `squadron up` hands it: the admin token (SQUADRON_TOKEN).
    tokens.agent = c.adminToken;
    for (const squad of ['owner', 'other'] as const) tokens[squad] = ((await must('admin', 'POST', '/v1/squads', { name: squad })) as CreatedSquadBody).token;
    await must('owner', 'POST', '/v1/services', { name: 'playlists', squad: 'owner' });
    await must('owner', 'POST', '/v1/services', { name: 'jingles', squad: 'owner' });
    await must('other', 'POST', '/v1/services', { name: 'snoop', squad: 'other' });
    const agent = (await must('admin', 'POST', '/v1/agents', { site: 'gcp-eu', host: 'agent-1' })) as RegisteredAgentBody;
    // Two releases, so that a rollback has somewhere to go.
    for (let i = 0; i < 2; i++) await must('owner', 'POST', '/v1/services/playlists/releases', { path: WORKER_DIR, sites: ['gcp-eu'], instances: 1 });
    const instanceOnAgent = async (): Promise<string> => {
      const { instances } = (await must('admin', 'GET', `/v1/agents/${agent.id}/assignments`)) as AssignmentsBody;
      // Of the newest release: what its instances report is the service's interface.
      const mine = instances.filter((i) => i.service === 'playlists').sort((a, b) => b.release - a.release)[0];
      assert.ok(mine, `an instance of playlists on agent ${agent.id}: ${JSON.stringify(instances)}`);
      return mine.id;
    };
    // playlists claims its queue as in production: its instance reports code that consumes it.
    await must('admin', 'POST', `/v1/agents/${agent.id}/report`, { instances: [readyReport(await instanceOnAgent(), 'playlist-exports')] });
    // A dead letter in it, so that a replay that slipped through would show.
    const client = await connect({ site: 'sto', broker: sites.address('sto'), logger: silent });
    try {
      const consumer = client.consume('playlist-exports', async () => {
        throw new Error('export failed');
      }, { maxDeliveries: 1 });
      await client.enqueue('playlist-exports', { playlistId: 'p1' });
      await waitFor(async () => ((await must('admin', 'GET', '/v1/queues/playlist-exports/dead-letters')) as { messages: unknown[] }).messages.length === 1, 'the dead letter', 10_000, 20);
      consumer.stop();
    } finally {
      await client.close();
    }
    await must('owner', 'POST', '/v1/storage', { name: 'carts', kind: 'kv', service: 'playlists', sites: ['sto'] });
    await waitFor(async () => ((await must('owner', 'GET', '/v1/storage/carts')) as StorageBody).status === 'ready', 'kv store carts ready', 30_000, 20);
    const app = (await must('owner', 'POST', '/v1/apps', { name: 'mobile', storage: 'carts' })) as CreatedAppBody;
    tokens.app = app.token;
    await must('app', 'PUT', '/v1/kv/cart/ada', { value: { n: 1 } });
    const store = (await must('owner', 'GET', '/v1/storage/carts/credentials')) as StorageCredentialsBody;
    secrets.push(c.adminToken, tokens.owner!, app.token, String((store.credentials as { secret: string }).secret));

    const reads = await snapshot();
    READS.forEach(([who, url], i) => assert.match(reads[i]!, /^200 /, `GET ${url} as ${who} answers the snapshot`));
    const { publicKey } = generateKeyPairSync('ed25519');
    fx = {
      service: 'playlists', undeployable: 'jingles', otherService: 'snoop', queue: 'playlist-exports', store: 'carts', key: 'cart/ada',
      site: 'sto', brokerAddress: sites.address('sto'), deploySite: 'gcp-eu', agentId: agent.id, releasePath: WORKER_DIR,
      publicKey: publicKey.export({ format: 'jwk' }),
      call, admin: (method, url, body) => must('admin', method, url, body), instanceOnAgent,
      fresh: (prefix) => `${prefix}-${++names}`,
    };
  });

  after(async () => {
    await c?.close();
    await sites?.stop();
    rmSync(storageDir, { recursive: true, force: true });
  });

  it('has a row for every route and method of the OpenAPI document, and none for a route that is gone', async () => {
    const doc = (await inject('none', 'GET', '/openapi.json')).json() as { paths: Record<string, Record<string, unknown>> };
    const served = new Set(Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => rowKey(m, path))));
    const table = new Set(ROUTE_MATRIX.filter((r) => !r.hidden).map((r) => rowKey(r.method, r.path)));
    const missing = [...served].filter((k) => !table.has(k));
    const gone = [...table].filter((k) => !served.has(k));
    const twice = ROUTE_MATRIX.map((r) => rowKey(r.method, r.path)).filter((k, i, all) => all.indexOf(k) !== i);
    const problems = [
      ...missing.map((k) => `${k}: no row; add one to ${TABLE_FILE} with a decision of who may call it (PUBLIC, ANY_TOKEN, OWNER_OR_ADMIN, ADMIN_ONLY, APP_KEY, or a new expectation with its reason)`),
      ...gone.map((k) => `${k}: a row for a route the API no longer has; remove it from ${TABLE_FILE}`),
      ...twice.map((k) => `${k}: two rows in ${TABLE_FILE}; keep one`),
    ];
    assert.deepEqual(problems, [], `the route matrix is out of step with the API:\n${problems.join('\n')}`);
  });

  // Found while writing the matrix: a squad named 'admin' was given credentials in the admin's
  // name (squad 'admin', which brokers let do anything) and could revoke the brokers' and the
  // control plane's own credentials, as owning them. The admin's name is no squad's.
  it('refuses a squad named as the admin (400 naming /name), and writes nothing', async () => {
    const before = await settled();
    const res = await inject('admin', 'POST', '/v1/squads', { name: 'admin' });
    assert.equal(res.statusCode, 400, res.body);
    const { error } = res.json() as { error: { code: string; message: string; fields?: Array<{ path: string; message: string }> } };
    assert.equal(error.code, 'BAD_REQUEST');
    assert.deepEqual(error.fields?.map((f) => f.path), ['/name']);
    assert.match(error.message, /'admin' is the platform admin's name/);
    assert.deepEqual(await settled(), before, 'nothing written');
  });

  for (const row of ROUTE_MATRIX) {
    describe(`${row.method} ${row.path}`, () => {
      // The refused first: a write they could not make is checked against a state nobody allowed has changed yet.
      const refusedFirst = [...PRINCIPALS].sort((a, b) => Number(row.expect[a] === 'allowed') - Number(row.expect[b] === 'allowed'));
      for (const who of refusedFirst) {
        const expected = row.expect[who];
        it(`${who}: ${expected}`, async () => {
          const req = await row.request(fx, who);
          const writes = row.method !== 'GET';
          const before = writes && expected !== 'allowed' ? await settled() : undefined;
          const res = await inject(who, row.method, req.url, req.body);
          const got = outcomeOf(row, res.statusCode);
          const what = `${row.method} ${req.url} as ${who} (${row.why})`;
          assert.equal(got, expected, `${what}: expected ${STATUS_OF[expected]}${row.allowedStatus && expected === 'allowed' ? ` or ${row.allowedStatus.status}` : ''}, got ${res.statusCode} ${res.body.slice(0, 400)}`);
          const code = CODE_OF[expected];
          if (code) assert.equal((res.json() as { error: { code: string } }).error.code, code, `${what}: the error code`);
          if (who === 'other') for (const secret of secrets) assert.ok(!res.body.includes(secret), `${what}: the answer carries a secret of the owner's or the admin's: ${res.body.slice(0, 400)}`);
          if (before) {
            const now = await settled();
            const changed = READS.flatMap(([, url], i) => (now[i] === before[i] ? [] : [`${url}\n  before: ${before[i]!.slice(0, 300)}\n  after:  ${now[i]!.slice(0, 300)}`]));
            assert.deepEqual(changed, [], `${what} was refused, yet changed what the API shows:\n${changed.join('\n')}`);
          }
          if (row.method === 'GET') {
            const head = await inject(who, 'HEAD', req.url);
            assert.equal(outcomeOf(row, head.statusCode), expected, `HEAD ${req.url} as ${who}: expected as GET, got ${head.statusCode}`);
          }
        });
      }
    });
  }
});
