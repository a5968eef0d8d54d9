import { SquadronError } from '@squadron/protocol';
import { Identity } from '@squadron/identity';
import type { PolicyAnswer } from '@squadron/policy';

/** The platform's API address: the argument, else SQUADRON_URL, else the local default. */
export function platformUrl(url?: string): string {
  return (url ?? process.env.SQUADRON_URL ?? 'http://127.0.0.1:7700').replace(/\/+$/, '');
}

/** Ask the control plane where a site's broker listens, with a bearer token (default SQUADRON_TOKEN). */
export async function resolveBroker(site: string, url?: string, token = process.env.SQUADRON_TOKEN): Promise<string> {
  const base = platformUrl(url);
  let res: Response;
  try {
    res = await fetch(`${base}/v1/sites`, { signal: AbortSignal.timeout(5000), headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch (err) {
    throw new SquadronError('UNAVAILABLE', `cannot reach the platform at ${base}: ${(err as Error).message}. Start it with 'squadron up' or set SQUADRON_URL.`, { retryable: true });
  }
  if (res.status === 401) throw new SquadronError('UNAUTHENTICATED', `the platform at ${base} wants a token to say where site '${site}' is: set SQUADRON_TOKEN (a squad's token, or the admin token in the data directory's admin-token file), or pass the broker's address`);
  if (!res.ok) throw new SquadronError('UNAVAILABLE', `the platform at ${base} answered ${res.status} to /v1/sites`, { retryable: true });
  const body = (await res.json()) as { sites: Array<{ name: string; broker: { address: string } | null }> };
  const found = body.sites.find((s) => s.name === site);
  if (!found) throw new SquadronError('BAD_REQUEST', `no site '${site}'; the platform has: ${body.sites.map((s) => s.name).join(', ')}`);
  if (!found.broker) throw new SquadronError('UNAVAILABLE', `site '${site}' has no broker running`, { retryable: true });
  return found.broker.address;
}

/** A client credential from the control plane for `publicJwk`, and when it expires. */
async function fetchClientCredential(base: string, token: string, site: string, name: string, publicJwk: object): Promise<{ credential: string; expiresAt: number }> {
  let res: Response;
  try {
    res = await fetch(`${base}/v1/credentials`, {
      method: 'POST', signal: AbortSignal.timeout(5000),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ publicKey: publicJwk, site, name }),
    });
  } catch (err) {
    throw new SquadronError('UNAVAILABLE', `cannot reach the platform at ${base} for a credential: ${(err as Error).message}`, { retryable: true });
  }
  if (res.status === 401) throw new SquadronError('UNAUTHENTICATED', `the platform at ${base} refused the token in SQUADRON_TOKEN; ask for a new one`);
  if (!res.ok) throw new SquadronError('UNAVAILABLE', `the platform at ${base} answered ${res.status} when asked for a credential`, { retryable: true });
  return (await res.json()) as { credential: string; expiresAt: number };
}

/** A client identity the platform issued, renewed by itself at two thirds of each credential's life. */
export interface ClientIdentity {
  identity: Identity;
  /** Stop renewing (the process is done with it). */
  stop(): void;
}

/**
 * A client identity from the control plane, for a process that acts with a bearer token (the
 * CLI, a script): a fresh key pair whose public half the platform binds into a credential
 * naming the token's squad, renewed with the same key before it expires, so that a long-running
 * process keeps its connections. Null without a token.
 */
export async function requestClientIdentity(site: string, name: string, url?: string, token = process.env.SQUADRON_TOKEN): Promise<ClientIdentity | null> {
  if (!token) return null;
  const base = platformUrl(url);
  const { privateKey, publicJwk } = Identity.newKey();
  const first = await fetchClientCredential(base, token, site, name, publicJwk);
  const identity = new Identity(first.credential, privateKey);
  let timer: NodeJS.Timeout | null = null;
  const schedule = (expiresAt: number) => {
    timer = setTimeout(() => {
      fetchClientCredential(base, token, site, name, publicJwk).then(
        (next) => {
          identity.renew(next.credential);
          schedule(next.expiresAt);
        },
        // Try again shortly: the credential is still good for a third of its life.
        () => schedule(Date.now() + 7500),
      );
    }, Math.max(1000, Math.floor(((expiresAt - Date.now()) * 2) / 3)));
    timer.unref();
  };
  schedule(first.expiresAt);
  return { identity, stop: () => { if (timer) clearTimeout(timer); } };
}

/** The platform's access policies (GET /v1/policies), for a process that acts with a bearer token. */
export async function fetchPolicies(url: string | undefined, token: string, since?: string): Promise<PolicyAnswer> {
  const base = platformUrl(url);
  const res = await fetch(`${base}/v1/policies${since ? `?since=${encodeURIComponent(since)}` : ''}`, {
    signal: AbortSignal.timeout(5000), headers: { authorization: `Bearer ${token}` },
  });
  if (!res.ok) throw new SquadronError('UNAVAILABLE', `the platform at ${base} answered ${res.status} to /v1/policies`, { retryable: true });
  return (await res.json()) as PolicyAnswer;
}
