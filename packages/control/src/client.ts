import type { ErrorBody, HealthBody, SitesBody, StatusBody, QueueRowBody, DeadLetterBody } from './api-types.ts';

/** An error answer from the API, with its stable code. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(readonly code: string, message: string, readonly status: number) {
    super(message);
  }
}

export interface ControlClientOptions {
  /** The API's base address, e.g. http://127.0.0.1:7700. */
  url: string;
  token?: string;
  timeoutMs?: number;
}

/**
 * The typed client of the control plane's API, used by the CLI (and later the dashboard).
 *
 * @example
 * const api = new ControlClient({ url: 'http://127.0.0.1:7700' });
 * const { sites } = await api.sites();
 */
export class ControlClient {
  private readonly base: string;

  constructor(private readonly options: ControlClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  health(): Promise<HealthBody> {
    return this.get('/v1/health');
  }

  sites(): Promise<SitesBody> {
    return this.get('/v1/sites');
  }

  status(): Promise<StatusBody> {
    return this.get('/v1/status');
  }

  queues(): Promise<{ queues: QueueRowBody[] }> {
    return this.get('/v1/queues');
  }

  deadLetters(queue: string, site?: string): Promise<{ queue: string; messages: DeadLetterBody[] }> {
    return this.get(`/v1/queues/${encodeURIComponent(queue)}/dead-letters${site ? `?site=${encodeURIComponent(site)}` : ''}`);
  }

  replay(queue: string, site?: string): Promise<{ queue: string; revived: number }> {
    return this.get(`/v1/queues/${encodeURIComponent(queue)}/replay${site ? `?site=${encodeURIComponent(site)}` : ''}`, 'POST');
  }

  private async get<T>(path: string, method: 'GET' | 'POST' = 'GET'): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: this.options.token ? { authorization: `Bearer ${this.options.token}` } : {},
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new ApiError('UNAVAILABLE', `cannot reach the platform at ${this.base}: ${(err as Error).message}. Start it with 'squadron up' or set SQUADRON_URL.`, 0);
    }
    const body = (await res.json().catch(() => null)) as unknown;
    if (!res.ok) {
      const e = (body as ErrorBody | null)?.error;
      throw new ApiError(e?.code ?? 'INTERNAL', e?.message ?? `HTTP ${res.status}`, res.status);
    }
    return body as T;
  }
}
