import type {
  ErrorBody, HealthBody, SiteBody, SitesBody, StatusBody, QueueRowBody, QueueLimitBody, QueueQuotasBody, DeadLetterBody, WhoAmIBody, SquadBody, CreatedSquadBody,
  ServiceBody, CreateServiceRequest, ReleaseBody, ArtifactBody, DeployRequest, ScaleRequest, RollbackRequest, InstanceRecordBody,
  AuditBody, AgentBody, RegisterAgentRequest, RegisteredAgentBody, AssignmentsBody, AgentReportRequest, HolderKeyBody, CredentialBody,
  AccessRequest, GrantRequest, DenyRequest, ServicePolicyBody, PoliciesBody,
  CreateStorageRequest, StorageBody, StorageDetailBody, StorageCredentialsBody, AppBody, CreatedAppBody, CreateAppRequest,
} from './api-types.ts';

/** An error answer from the API, with its stable code (docs/errors.md). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    /** For BAD_REQUEST: the failing fields. */
    readonly fields: Array<{ path: string; message: string }> = [],
  ) {
    super(message);
  }
}

export interface ControlClientOptions {
  /** The API's base address, e.g. http://127.0.0.1:7700. */
  url: string;
  /** A bearer token: the admin token, a squad's token or an agent's. */
  token?: string;
  /** Per request (default 10 s); long polls add their own wait to it. */
  timeoutMs?: number;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

const seg = encodeURIComponent;

/**
 * The typed client of the control plane's API, used by the CLI, the agents (and later the
 * dashboard).
 *
 * @example
 * const api = new ControlClient({ url: 'http://127.0.0.1:7700', token: process.env.SQUADRON_TOKEN });
 * await api.createService({ name: 'playlists', squad: 'music' });
 * await api.deploy('playlists', { path: '/srv/playlists', sites: ['sto'], instances: 2 });
 */
export class ControlClient {
  private readonly base: string;

  constructor(private readonly options: ControlClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  get url(): string {
    return this.base;
  }

  health(): Promise<HealthBody> {
    return this.request('GET', '/v1/health');
  }

  whoami(): Promise<WhoAmIBody> {
    return this.request('GET', '/v1/whoami');
  }

  sites(): Promise<SitesBody> {
    return this.request('GET', '/v1/sites');
  }

  /** Say where a site's broker listens (admin; a broker run on its own does this itself). */
  setBroker(site: string, address: string): Promise<SiteBody> {
    return this.request('PUT', `/v1/sites/${seg(site)}/broker`, { address });
  }

  status(): Promise<StatusBody> {
    return this.request('GET', '/v1/status');
  }

  // ---- catalog

  createSquad(name: string): Promise<CreatedSquadBody> {
    return this.request('POST', '/v1/squads', { name });
  }

  squads(): Promise<{ squads: SquadBody[] }> {
    return this.request('GET', '/v1/squads');
  }

  createService(body: CreateServiceRequest): Promise<ServiceBody> {
    return this.request('POST', '/v1/services', body);
  }

  services(): Promise<{ services: ServiceBody[] }> {
    return this.request('GET', '/v1/services');
  }

  service(name: string): Promise<ServiceBody> {
    return this.request('GET', `/v1/services/${seg(name)}`);
  }

  // ---- deployments

  deploy(service: string, body: DeployRequest): Promise<ReleaseBody> {
    return this.request('POST', `/v1/services/${seg(service)}/releases`, body);
  }

  /** Store a release artifact (its bytes as built by `@squadron/artifact`); deploy it by the digest this returns. */
  async uploadArtifact(bytes: Uint8Array): Promise<ArtifactBody> {
    const res = await this.raw('POST', '/v1/artifacts', { 'content-type': 'application/octet-stream' }, bytes, 60_000);
    return (await res.json()) as ArtifactBody;
  }

  /** A release artifact's bytes, as stored (the caller checks them against the digest). */
  async artifact(digest: string, signal?: AbortSignal): Promise<Uint8Array> {
    const res = await this.raw('GET', `/v1/artifacts/${seg(digest)}`, {}, undefined, 60_000, signal);
    return new Uint8Array(await res.arrayBuffer());
  }

  releases(service: string): Promise<{ releases: ReleaseBody[] }> {
    return this.request('GET', `/v1/services/${seg(service)}/releases`);
  }

  scale(service: string, body: ScaleRequest): Promise<ServiceBody> {
    return this.request('POST', `/v1/services/${seg(service)}/scale`, body);
  }

  rollback(service: string, body: RollbackRequest = {}): Promise<ReleaseBody> {
    return this.request('POST', `/v1/services/${seg(service)}/rollback`, body);
  }

  undeploy(service: string): Promise<ServiceBody> {
    return this.request('DELETE', `/v1/services/${seg(service)}/deployment`);
  }

  instances(service: string): Promise<{ instances: InstanceRecordBody[] }> {
    return this.request('GET', `/v1/services/${seg(service)}/instances`);
  }

  audit(options: { limit?: number; target?: string } = {}): Promise<{ entries: AuditBody[] }> {
    const q = new URLSearchParams();
    if (options.limit !== undefined) q.set('limit', String(options.limit));
    if (options.target !== undefined) q.set('target', options.target);
    const qs = q.size > 0 ? `?${q}` : '';
    return this.request('GET', `/v1/audit${qs}`);
  }

  // ---- queues

  queues(): Promise<{ queues: QueueRowBody[] }> {
    return this.request('GET', '/v1/queues');
  }

  deadLetters(queue: string, site?: string): Promise<{ queue: string; messages: DeadLetterBody[] }> {
    return this.request('GET', `/v1/queues/${seg(queue)}/dead-letters${site ? `?site=${seg(site)}` : ''}`);
  }

  replay(queue: string, site?: string): Promise<{ queue: string; revived: number }> {
    return this.request('POST', `/v1/queues/${seg(queue)}/replay${site ? `?site=${seg(site)}` : ''}`);
  }

  // ---- agents

  /** The queue quotas: defaults, owners' limits, squads' totals. */
  queueQuotas(): Promise<QueueQuotasBody> {
    return this.request('GET', '/v1/queue-quotas');
  }

  /** Set a queue's limit (its owner squad, or the admin), within the squad's total. */
  setQueueLimit(queue: string, limit: QueueLimitBody): Promise<QueueQuotasBody> {
    return this.request('PUT', `/v1/queues/${encodeURIComponent(queue)}/limit`, limit);
  }

  /** Put a queue back on the default limit. */
  clearQueueLimit(queue: string): Promise<QueueQuotasBody> {
    return this.request('DELETE', `/v1/queues/${encodeURIComponent(queue)}/limit`);
  }

  /** Set what all of a squad's queues may hold at each site (admin). */
  setSquadQueueTotal(squad: string, total: QueueLimitBody): Promise<QueueQuotasBody> {
    return this.request('PUT', `/v1/squads/${encodeURIComponent(squad)}/queue-total`, total);
  }

  agents(): Promise<{ agents: AgentBody[] }> {
    return this.request('GET', '/v1/agents');
  }

  registerAgent(body: RegisterAgentRequest): Promise<RegisteredAgentBody> {
    return this.request('POST', '/v1/agents', body);
  }

  /** Long poll: answers at once if the list changed after `after`, else when it does or `waitMs` passes. */
  assignments(agent: string, after: number, waitMs: number, signal?: AbortSignal): Promise<AssignmentsBody> {
    return this.request('GET', `/v1/agents/${seg(agent)}/assignments?after=${after}&waitMs=${waitMs}`, undefined, waitMs, signal);
  }

  report(agent: string, body: AgentReportRequest): Promise<{ ok: true }> {
    return this.request('POST', `/v1/agents/${seg(agent)}/report`, body);
  }

  // ---- identity

  /** The keys that verify credentials (needs no token). */
  jwks(): Promise<{ keys: Array<Record<string, unknown>> }> {
    return this.request('GET', '/v1/identity/jwks');
  }

  /** A credential for this caller itself, as a client, bound to `publicKey`. */
  clientCredential(publicKey: HolderKeyBody, options: { site?: string; name?: string } = {}): Promise<CredentialBody> {
    return this.request('POST', '/v1/credentials', { publicKey, ...options });
  }

  /** A credential for an instance placed on `agent` (admin). */
  instanceCredential(agent: string, instance: string, publicKey: HolderKeyBody): Promise<CredentialBody> {
    return this.request('POST', `/v1/agents/${seg(agent)}/credentials`, { instance, publicKey });
  }

  /** A credential for an instance of the caller's own service, run by hand. */
  ownInstanceCredential(service: string, instance: string, site: string, publicKey: HolderKeyBody): Promise<CredentialBody> {
    return this.request('POST', `/v1/services/${seg(service)}/instance-credentials`, { instance, site, publicKey });
  }

  /** A credential for a site's broker (admin). */
  brokerCredential(site: string, publicKey: HolderKeyBody): Promise<CredentialBody> {
    return this.request('POST', `/v1/sites/${seg(site)}/credentials`, { publicKey });
  }

  revokeCredential(id: string): Promise<{ revoked: string }> {
    return this.request('POST', `/v1/credentials/${seg(id)}/revoke`);
  }

  /** Ids of revoked credentials that have not expired yet. */
  revokedCredentials(): Promise<{ ids: string[] }> {
    return this.request('GET', '/v1/identity/revoked');
  }

  // ---- access policies

  setAccess(service: string, body: AccessRequest): Promise<ServicePolicyBody> {
    return this.request('PUT', `/v1/services/${seg(service)}/access`, body);
  }

  /** `caller`: a service, or a whole squad as `squad:NAME`. */
  grant(caller: string, service: string, body: GrantRequest = {}): Promise<ServicePolicyBody> {
    return this.request('PUT', `/v1/services/${seg(service)}/grants/${seg(caller)}`, body);
  }

  deny(caller: string, service: string, body: DenyRequest = {}): Promise<ServicePolicyBody> {
    return this.request('PUT', `/v1/services/${seg(service)}/denies/${seg(caller)}`, body);
  }

  /** Remove every rule naming `caller` on `service`. */
  revoke(caller: string, service: string): Promise<ServicePolicyBody> {
    return this.request('DELETE', `/v1/services/${seg(service)}/rules/${seg(caller)}`);
  }

  policy(service: string): Promise<ServicePolicyBody> {
    return this.request('GET', `/v1/services/${seg(service)}/policy`);
  }

  /** Every service's policy; with `since`, only whether it changed from that version. */
  policies(since?: string): Promise<PoliciesBody> {
    return this.request('GET', `/v1/policies${since ? `?since=${encodeURIComponent(since)}` : ''}`);
  }

  // ---- storage

  createStorage(body: CreateStorageRequest): Promise<StorageBody> {
    return this.request('POST', '/v1/storage', body);
  }

  storageList(): Promise<{ storage: StorageBody[] }> {
    return this.request('GET', '/v1/storage');
  }

  storage(name: string): Promise<StorageDetailBody> {
    return this.request('GET', `/v1/storage/${seg(name)}`);
  }

  storageCredentials(name: string): Promise<StorageCredentialsBody> {
    return this.request('GET', `/v1/storage/${seg(name)}/credentials`);
  }

  /** Move the primary; may take seconds (the standby catches up, then is promoted). */
  failoverStorage(name: string, toSite?: string): Promise<StorageBody> {
    return this.request('POST', `/v1/storage/${seg(name)}/failover`, toSite ? { toSite } : {}, 60_000);
  }

  /** The ready storage a service owns, with credentials (what its instances get). */
  serviceStorage(service: string): Promise<{ storage: StorageCredentialsBody[] }> {
    return this.request('GET', `/v1/services/${seg(service)}/storage`);
  }
  /** The storage of several services at once (what an agent polls for the services it runs). */
  servicesStorage(services: string[]): Promise<{ storage: Record<string, StorageCredentialsBody[]> }> {
    return this.request('POST', '/v1/services/storage', { services });
  }


  /** An API app with a key for one of the squad's kv stores; the key is in this answer only. */
  createApp(body: CreateAppRequest): Promise<CreatedAppBody> {
    return this.request('POST', '/v1/apps', body);
  }

  apps(): Promise<{ apps: AppBody[] }> {
    return this.request('GET', '/v1/apps');
  }

  destroyStorage(name: string): Promise<StorageBody> {
    return this.request('DELETE', `/v1/storage/${seg(name)}`);
  }

  /** A request whose body or answer is bytes: a failure still answers with the JSON error body. */
  private async raw(method: Method, path: string, headers: Record<string, string>, body: Uint8Array | undefined, extraMs: number, signal?: AbortSignal): Promise<Response> {
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    const timeout = AbortSignal.timeout((this.options.timeoutMs ?? 10_000) + extraMs);
    let res: Response;
    try {
      // ArrayBufferLike (maybe shared) is wider than what the DOM types accept; an artifact is never shared memory.
      res = await fetch(this.base + path, { method, headers, ...(body ? { body: body as Uint8Array<ArrayBuffer> } : {}), signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    } catch (err) {
      throw new ApiError('UNAVAILABLE', `cannot reach the platform at ${this.base}: ${(err as Error).message}. Start it with 'squadron up' or set SQUADRON_URL.`, 0);
    }
    if (!res.ok) {
      const e = ((await res.json().catch(() => null)) as ErrorBody | null)?.error;
      throw new ApiError(e?.code ?? 'INTERNAL', e?.message ?? `HTTP ${res.status}`, res.status, e?.fields ?? []);
    }
    return res;
  }

  private async request<T>(method: Method, path: string, body?: unknown, extraMs = 0, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout((this.options.timeoutMs ?? 10_000) + extraMs);
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      throw new ApiError('UNAVAILABLE', `cannot reach the platform at ${this.base}: ${(err as Error).message}. Start it with 'squadron up' or set SQUADRON_URL.`, 0);
    }
    const answer = (await res.json().catch(() => null)) as unknown;
    if (!res.ok) {
      const e = (answer as ErrorBody | null)?.error;
      throw new ApiError(e?.code ?? 'INTERNAL', e?.message ?? `HTTP ${res.status}`, res.status, e?.fields ?? []);
    }
    return answer as T;
  }
}
