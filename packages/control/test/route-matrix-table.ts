import { packArtifact } from '@squadron/artifact';
/**
 * Who may call each route of the control plane's API: a table written by hand from what the
 * platform promises (README "Ownership" and "Tokens", the route table of the control README),
 * never computed from the code it checks. route-matrix.test.ts holds every route and method of
 * the OpenAPI document to it: a route without a row fails that test, and so does a row whose
 * route is gone.
 *
 * To add a route: add a row with its method and OpenAPI path, the expectation that says who may
 * call it (one of the named expectations below, or a new one with its reason), the promise it
 * comes from, and `request`, which builds a correct request for it on things the squad 'owner'
 * owns (see `Fixtures`).
 */

/**
 * Who calls. `agent` is what an agent holds: today the platform's admin token (`squadron up`
 * hands its agents and brokers SQUADRON_TOKEN = the admin token; agents have no identity of
 * their own on the API), so an agent may do everything the admin may, far beyond the routes it
 * uses (register, assignments, report, instance credentials, policies, a service's storage, the
 * JWKS and revocations). The column is kept so that the day agents get tokens of their own, only
 * this table changes.
 */
/** A small release artifact whose code says `text`. */
function matrixArtifact(text: string): Uint8Array {
  return packArtifact({ entry: 'index.mjs', files: { 'index.mjs': new TextEncoder().encode(`export default ${JSON.stringify(text)};`) } });
}

export const PRINCIPALS = ['none', 'app', 'other', 'owner', 'agent', 'admin'] as const;
export type PrincipalName = (typeof PRINCIPALS)[number];

/** `allowed`: 2xx (or a non-auth status the row names); `unauthenticated`: 401; `forbidden`: 403. */
export type Outcome = 'allowed' | 'unauthenticated' | 'forbidden';
export type Expectation = Readonly<Record<PrincipalName, Outcome>>;

const A = 'allowed';
const U = 'unauthenticated';
const F = 'forbidden';

/** Needs no token at all: liveness, the OpenAPI document, the keys that verify credentials. */
export const PUBLIC: Expectation = { none: A, app: A, other: A, owner: A, agent: A, admin: A };
/** Any squad's token or the admin's: every squad reads the whole catalog. An app key is not a squad's token. */
export const ANY_TOKEN: Expectation = { none: U, app: U, other: A, owner: A, agent: A, admin: A };
/** Changes (or reveals the secrets of) what a squad owns: that squad or the admin; another squad is FORBIDDEN. */
export const OWNER_OR_ADMIN: Expectation = { none: U, app: U, other: F, owner: A, agent: A, admin: A };
/** The platform's own business (squads, agents, brokers): the admin only, and so the agents, who hold its token. */
export const ADMIN_ONLY: Expectation = { none: U, app: U, other: F, owner: F, agent: A, admin: A };
/** An API app's kv routes: its own key; a squad's or the admin's token is no app key. */
export const APP_KEY: Expectation = { none: U, app: A, other: U, owner: U, agent: U, admin: U };

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface MatrixRequest {
  url: string;
  body?: unknown;
}

/** What the test made before the matrix runs: everything named here belongs to the squad 'owner'. */
export interface Fixtures {
  /** A service of 'owner', deployed (two releases) on the site `deploySite`, with an instance placed on `agentId`. */
  readonly service: string;
  /** A service of 'owner' that a row undeploys (deployed again before each request). */
  readonly undeployable: string;
  /** A service of 'other': the caller in grants and rules. */
  readonly otherService: string;
  /** A queue claimed by `service` (its instance reported consuming it), holding a dead letter. */
  readonly queue: string;
  /** A ready kv store of `service`. */
  readonly store: string;
  /** A key the app wrote in `store`. */
  readonly key: string;
  /** A site with a running broker, and where that broker listens. */
  readonly site: string;
  readonly brokerAddress: string;
  readonly deploySite: string;
  readonly agentId: string;
  /** The folder a release runs. */
  readonly releasePath: string;
  /** An Ed25519 public key as a JWK, for the credential routes. */
  readonly publicKey: object;
  /** A request as `who` (for a row's own setup): its status and JSON. */
  call(who: PrincipalName, method: HttpMethod, url: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  /** A request as the admin that must succeed (a row's own setup): its JSON. */
  admin(method: HttpMethod, url: string, body?: unknown): Promise<unknown>;
  /** An instance of `service`'s newest release placed on `agentId` now. */
  instanceOnAgent(): Promise<string>;
  /** A name nothing else in the run uses, for what a request creates. */
  fresh(prefix: string): string;
}

export interface MatrixRow {
  method: HttpMethod;
  /** As the OpenAPI document writes it: `/v1/services/{name}`. */
  path: string;
  expect: Expectation;
  /** The promise the expectation comes from. */
  why: string;
  /** Served but not in the OpenAPI document (only /openapi.json itself). */
  hidden?: true;
  /** A status other than 2xx that a correct request of an allowed caller gets here, and why. */
  allowedStatus?: { status: number; because: string };
  /** A correct request for `who`, on things 'owner' owns; may set up what it acts on first. */
  request(fx: Fixtures, who: PrincipalName): MatrixRequest | Promise<MatrixRequest>;
}

const get = (url: string) => (): MatrixRequest => ({ url });
const enc = encodeURIComponent;

export const ROUTE_MATRIX: readonly MatrixRow[] = [
  // ---- platform
  { method: 'GET', path: '/v1/health', expect: PUBLIC, why: 'liveness needs no token', request: get('/v1/health') },
  { method: 'GET', path: '/openapi.json', hidden: true, expect: PUBLIC, why: 'the API document needs no token', request: get('/openapi.json') },
  { method: 'GET', path: '/v1/whoami', expect: ANY_TOKEN, why: 'any token says who it is', request: get('/v1/whoami') },
  { method: 'GET', path: '/v1/sites', expect: ANY_TOKEN, why: 'sites and brokers are for every squad (connect asks where its broker is)', request: get('/v1/sites') },
  {
    method: 'PUT', path: '/v1/sites/{site}/broker', expect: ADMIN_ONLY, why: 'only the platform says where a site\'s broker is: a squad that moved it would take every site\'s traffic',
    // The refused name another address, so that a change that slipped through shows; the allowed keep the real one.
    request: (fx, who) => ({ url: `/v1/sites/${fx.site}/broker`, body: { address: ADMIN_ONLY[who] === 'allowed' ? fx.brokerAddress : 'tcp://127.0.0.1:9' } }),
  },
  { method: 'GET', path: '/v1/status', expect: ANY_TOKEN, why: 'squadron status: the catalog is transparent', request: get('/v1/status') },

  // ---- queues
  { method: 'GET', path: '/v1/queues', expect: ANY_TOKEN, why: 'names and counts of every queue, for every squad', request: get('/v1/queues') },
  {
    method: 'GET', path: '/v1/queues/{queue}/dead-letters', expect: OWNER_OR_ADMIN, why: 'dead letters hold bodies and error text: the queue\'s squad only',
    request: (fx) => ({ url: `/v1/queues/${enc(fx.queue)}/dead-letters` }),
  },
  {
    method: 'POST', path: '/v1/queues/{queue}/replay', expect: OWNER_OR_ADMIN, why: 'replaying a queue\'s dead letters changes it: the queue\'s squad only',
    request: (fx) => ({ url: `/v1/queues/${enc(fx.queue)}/replay` }),
  },

  // ---- queue quotas
  { method: 'GET', path: '/v1/queue-quotas', expect: ANY_TOKEN, why: 'limits are numbers every squad reads (squadron queues shows use against them)', request: get('/v1/queue-quotas') },
  {
    method: 'PUT', path: '/v1/queues/{queue}/limit', expect: OWNER_OR_ADMIN, why: 'a queue\'s limit is raised by its owner squad, within the total the admin set',
    request: (fx, who) => ({ url: `/v1/queues/${enc(fx.queue)}/limit`, body: { maxMessages: 100 + PRINCIPALS.indexOf(who), maxBytes: 100_000 } }),
  },
  {
    method: 'DELETE', path: '/v1/queues/{queue}/limit', expect: OWNER_OR_ADMIN, why: 'a queue\'s limit is its owner squad\'s to change',
    request: async (fx) => {
      await fx.admin('PUT', `/v1/queues/${enc(fx.queue)}/limit`, { maxMessages: 50, maxBytes: 50_000 });
      return { url: `/v1/queues/${enc(fx.queue)}/limit` };
    },
  },
  {
    method: 'PUT', path: '/v1/squads/{name}/queue-total', expect: ADMIN_ONLY, why: 'a squad\'s total is the admin\'s to set: a squad that raised its own could fill the site\'s shared log',
    request: (_fx, who) => ({ url: '/v1/squads/owner/queue-total', body: { maxMessages: 10_000 + PRINCIPALS.indexOf(who), maxBytes: 10_000_000 } }),
  },

  // ---- catalog
  {
    method: 'POST', path: '/v1/squads', expect: ADMIN_ONLY, why: 'the admin creates squads and hands over their tokens',
    request: (fx, who) => ({ url: '/v1/squads', body: { name: fx.fresh(`squad-${who}`) } }),
  },
  { method: 'GET', path: '/v1/squads', expect: ANY_TOKEN, why: 'every squad reads the whole catalog', request: get('/v1/squads') },
  {
    method: 'POST', path: '/v1/services', expect: OWNER_OR_ADMIN, why: 'a squad creates services for itself: another squad may not create one in its name',
    request: (fx, who) => ({ url: '/v1/services', body: { name: fx.fresh(`svc-${who}`), squad: 'owner' } }),
  },
  { method: 'GET', path: '/v1/services', expect: ANY_TOKEN, why: 'every squad reads the whole catalog', request: get('/v1/services') },
  { method: 'GET', path: '/v1/services/{name}', expect: ANY_TOKEN, why: 'every squad reads the whole catalog', request: (fx) => ({ url: `/v1/services/${fx.service}` }) },
  { method: 'GET', path: '/v1/audit', expect: ANY_TOKEN, why: 'squadron audit: who changed what is for everyone to see', request: get('/v1/audit') },

  // ---- deploy
  {
    method: 'POST', path: '/v1/services/{name}/releases', expect: OWNER_OR_ADMIN, why: 'only the owner squad (or the admin) changes a service',
    request: (fx) => ({ url: `/v1/services/${fx.service}/releases`, body: { path: fx.releasePath, sites: [fx.deploySite], instances: 1 } }),
  },
  {
    method: 'POST', path: '/v1/artifacts', expect: ANY_TOKEN, why: 'any squad uploads the artifacts it deploys (an upload is its own: no other squad may use it)',
    request: () => ({ url: '/v1/artifacts', body: Buffer.from(matrixArtifact(`upload ${Math.random()}`)) }),
  },
  {
    method: 'GET', path: '/v1/artifacts/{digest}', expect: OWNER_OR_ADMIN, why: 'an artifact is its uploader\'s code: that squad, the admin and the agents that run it read it',
    request: async (fx) => {
      const up = await fx.call('owner', 'POST', '/v1/artifacts', Buffer.from(matrixArtifact('the owner\'s code')));
      return { url: `/v1/artifacts/${(up.body as { digest: string }).digest}` };
    },
  },
  { method: 'GET', path: '/v1/services/{name}/releases', expect: ANY_TOKEN, why: 'every squad reads the whole catalog', request: (fx) => ({ url: `/v1/services/${fx.service}/releases` }) },
  {
    method: 'POST', path: '/v1/services/{name}/scale', expect: OWNER_OR_ADMIN, why: 'only the owner squad (or the admin) changes a service',
    request: (fx) => ({ url: `/v1/services/${fx.service}/scale`, body: { instances: 2 } }),
  },
  {
    method: 'POST', path: '/v1/services/{name}/rollback', expect: OWNER_OR_ADMIN, why: 'only the owner squad (or the admin) changes a service',
    request: (fx) => ({ url: `/v1/services/${fx.service}/rollback`, body: {} }),
  },
  {
    method: 'DELETE', path: '/v1/services/{name}/deployment', expect: OWNER_OR_ADMIN, why: 'only the owner squad (or the admin) changes a service',
    request: async (fx) => {
      await fx.admin('POST', `/v1/services/${fx.undeployable}/releases`, { path: fx.releasePath, sites: [fx.deploySite], instances: 1 });
      return { url: `/v1/services/${fx.undeployable}/deployment` };
    },
  },
  { method: 'GET', path: '/v1/services/{name}/instances', expect: ANY_TOKEN, why: 'squadron instances: every squad reads the whole catalog', request: (fx) => ({ url: `/v1/services/${fx.service}/instances` }) },

  // ---- agents
  { method: 'GET', path: '/v1/agents', expect: ANY_TOKEN, why: 'squadron sites shows every squad the capacity of each site, from the agents', request: get('/v1/agents') },
  {
    method: 'POST', path: '/v1/agents', expect: ADMIN_ONLY, why: 'a squad that registered an agent would be given other squads\' instances to run',
    request: (fx, who) => ({ url: '/v1/agents', body: { site: fx.deploySite, host: fx.fresh(`host-${who}`) } }),
  },
  {
    method: 'GET', path: '/v1/agents/{id}/assignments', expect: ADMIN_ONLY, why: 'an agent\'s assignments are the platform\'s (admin, agents)',
    request: (fx) => ({ url: `/v1/agents/${fx.agentId}/assignments` }),
  },
  {
    method: 'POST', path: '/v1/agents/{id}/report', expect: ADMIN_ONLY, why: 'a squad that reported for an agent could fake instances and claim topics and queues',
    // Each with its own memory reading, so that a report that slipped through shows in the instance.
    request: async (fx, who) => ({ url: `/v1/agents/${fx.agentId}/report`, body: { instances: [readyReport(await fx.instanceOnAgent(), fx.queue, 1000 + PRINCIPALS.indexOf(who))] } }),
  },

  // ---- identity
  { method: 'GET', path: '/v1/identity/jwks', expect: PUBLIC, why: 'the keys that verify credentials are public', request: get('/v1/identity/jwks') },
  {
    method: 'POST', path: '/v1/credentials', expect: ANY_TOKEN, why: 'any token gets a client credential for itself (its own squad)',
    request: (fx) => ({ url: '/v1/credentials', body: { publicKey: fx.publicKey, site: fx.site } }),
  },
  {
    method: 'POST', path: '/v1/agents/{id}/credentials', expect: ADMIN_ONLY, why: 'an instance\'s credential is its agent\'s to ask for (the admin\'s token)',
    request: async (fx) => ({ url: `/v1/agents/${fx.agentId}/credentials`, body: { instance: await fx.instanceOnAgent(), publicKey: fx.publicKey } }),
  },
  {
    method: 'POST', path: '/v1/services/{name}/instance-credentials', expect: OWNER_OR_ADMIN, why: 'only the owner squad vouches for an instance of its service run by hand',
    request: (fx, who) => ({ url: `/v1/services/${fx.service}/instance-credentials`, body: { instance: fx.fresh(`${fx.service}-by-hand-${who}`), site: fx.site, publicKey: fx.publicKey } }),
  },
  {
    method: 'POST', path: '/v1/sites/{site}/credentials', expect: ADMIN_ONLY, why: 'a broker\'s credential would let its holder act as a site\'s broker',
    request: (fx) => ({ url: `/v1/sites/${fx.site}/credentials`, body: { publicKey: fx.publicKey } }),
  },
  {
    method: 'POST', path: '/v1/credentials/{id}/revoke', expect: OWNER_OR_ADMIN, why: 'a squad revokes its own credentials (the admin any): another squad may not cut off the owner\'s',
    request: async (fx) => {
      const made = await fx.call('owner', 'POST', '/v1/credentials', { publicKey: fx.publicKey, site: fx.site });
      return { url: `/v1/credentials/${enc((made.body as { id: string }).id)}/revoke` };
    },
  },
  { method: 'GET', path: '/v1/identity/revoked', expect: ANY_TOKEN, why: 'revoked ids are for every verifier', request: get('/v1/identity/revoked') },

  // ---- access policies
  {
    method: 'PUT', path: '/v1/services/{name}/access', expect: OWNER_OR_ADMIN, why: 'a service\'s policy is its owner\'s to change',
    request: (fx) => ({ url: `/v1/services/${fx.service}/access`, body: { access: 'restricted' } }),
  },
  {
    method: 'PUT', path: '/v1/services/{name}/grants/{caller}', expect: OWNER_OR_ADMIN, why: 'another squad may not grant itself a service\'s methods, topics or queues',
    request: (fx) => ({ url: `/v1/services/${fx.service}/grants/${fx.otherService}`, body: { methods: ['hello'], ratePerSecond: 1000 } }),
  },
  {
    method: 'PUT', path: '/v1/services/{name}/denies/{caller}', expect: OWNER_OR_ADMIN, why: 'a service\'s policy is its owner\'s to change',
    request: (fx) => ({ url: `/v1/services/${fx.service}/denies/squad:other`, body: {} }),
  },
  {
    method: 'DELETE', path: '/v1/services/{name}/rules/{caller}', expect: OWNER_OR_ADMIN, why: 'a denied squad may not lift the deny rule against it',
    request: async (fx) => {
      await fx.admin('PUT', `/v1/services/${fx.service}/denies/squad:other`, {});
      return { url: `/v1/services/${fx.service}/rules/squad:other` };
    },
  },
  { method: 'GET', path: '/v1/services/{name}/policy', expect: ANY_TOKEN, why: 'squadron policy: a service\'s policy is part of the catalog', request: (fx) => ({ url: `/v1/services/${fx.service}/policy` }) },
  { method: 'GET', path: '/v1/policies', expect: ANY_TOKEN, why: 'every service\'s policy, as each one is readable by every squad', request: get('/v1/policies') },

  // ---- storage
  {
    method: 'POST', path: '/v1/storage', expect: OWNER_OR_ADMIN, why: 'storage for a service is its owner squad\'s to create',
    request: (fx, who) => ({ url: '/v1/storage', body: { name: fx.fresh(`kv-${who}`), kind: 'kv', service: fx.service, sites: [fx.site] } }),
  },
  { method: 'GET', path: '/v1/storage', expect: ANY_TOKEN, why: 'what storage exists is part of the catalog (no secrets)', request: get('/v1/storage') },
  { method: 'GET', path: '/v1/storage/{name}', expect: ANY_TOKEN, why: 'a resource and its sites\' health are part of the catalog (no secrets)', request: (fx) => ({ url: `/v1/storage/${fx.store}` }) },
  {
    method: 'DELETE', path: '/v1/storage/{name}', expect: OWNER_OR_ADMIN, why: 'only the owner squad deletes its data',
    request: async (fx, who) => {
      // A store of its own for each allowed caller (what it deletes); the refused try the shared one.
      if (OWNER_OR_ADMIN[who] !== 'allowed') return { url: `/v1/storage/${fx.store}` };
      const name = fx.fresh(`gone-${who}`);
      await fx.admin('POST', '/v1/storage', { name, kind: 'kv', service: fx.service, sites: [fx.site] });
      return { url: `/v1/storage/${name}` };
    },
  },
  {
    method: 'GET', path: '/v1/storage/{name}/credentials', expect: OWNER_OR_ADMIN, why: 'a store\'s secrets are its owner squad\'s',
    request: (fx) => ({ url: `/v1/storage/${fx.store}/credentials` }),
  },
  {
    method: 'GET', path: '/v1/services/{name}/storage', expect: OWNER_OR_ADMIN, why: 'a service\'s storage credentials are for its squad and its instances (the agents)',
    request: (fx) => ({ url: `/v1/services/${fx.service}/storage` }),
  },
  {
    method: 'POST', path: '/v1/services/storage', expect: OWNER_OR_ADMIN, why: 'the storage credentials of several services at once (what an agent polls): each service\'s squad, the agents',
    request: (fx) => ({ url: '/v1/services/storage', body: { services: [fx.service] } }),
  },
  {
    method: 'POST', path: '/v1/storage/{name}/failover', expect: OWNER_OR_ADMIN, why: 'only the owner squad moves its primary',
    allowedStatus: { status: 400, because: 'a kv store has no primary to move (NOT_SUPPORTED): the answer an owner gets, once its ownership is checked' },
    request: (fx) => ({ url: `/v1/storage/${fx.store}/failover`, body: {} }),
  },

  // ---- API apps and their kv routes
  {
    method: 'POST', path: '/v1/apps', expect: OWNER_OR_ADMIN, why: 'a key into a kv store is its owner squad\'s to hand out',
    request: (fx, who) => ({ url: '/v1/apps', body: { name: fx.fresh(`app-${who}`), storage: fx.store } }),
  },
  { method: 'GET', path: '/v1/apps', expect: ANY_TOKEN, why: 'what apps exist is part of the catalog (never their keys)', request: get('/v1/apps') },
  { method: 'GET', path: '/v1/kv', expect: APP_KEY, why: 'an app lists its own keys with its key', request: get('/v1/kv?prefix=') },
  { method: 'GET', path: '/v1/kv/{*}', expect: APP_KEY, why: 'an app reads its own keys with its key', request: (fx) => ({ url: `/v1/kv/${fx.key}` }) },
  { method: 'PUT', path: '/v1/kv/{*}', expect: APP_KEY, why: 'an app writes its own keys with its key', request: (fx) => ({ url: `/v1/kv/${fx.key}`, body: { value: { n: 2 } } }) },
  {
    method: 'DELETE', path: '/v1/kv/{*}', expect: APP_KEY, why: 'an app deletes its own keys with its key',
    request: async (fx) => {
      const key = fx.fresh('doomed');
      const put = await fx.call('app', 'PUT', `/v1/kv/${key}`, { value: 1 });
      if (put.status !== 200) throw new Error(`the app could not write ${key}: ${put.status} ${JSON.stringify(put.body)}`);
      return { url: `/v1/kv/${key}` };
    },
  },
];

/** What an agent says of an instance it runs: ready, consuming `queue` (which claims it for the instance's service). */
export function readyReport(id: string, queue: string, rssBytes = 1): object {
  return {
    id, state: 'ready', pid: 1, rssBytes, cpuPercent: 0, restarts: 0, crashLoop: false, lastExit: null, readyAt: 1,
    interface: { methods: [], topics: [], queues: [queue], publishes: [] },
  };
}
