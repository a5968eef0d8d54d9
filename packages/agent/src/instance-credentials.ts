import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { Identity, IDENTITY_ENV } from '@squadron/identity';
import type { AgentControl } from './agent.ts';

/** Environment that tells an instance which keys verify its callers' credentials. */
export const TRUST_ENV = 'SQUADRON_TRUST';
/** Environment with the ids of revoked credentials (JSON) when an instance starts; updates come over IPC. */
export const REVOKED_ENV = 'SQUADRON_REVOKED';

interface Held {
  key: KeyObject;
  publicJwk: HolderKey;
  renewal: NodeJS.Timeout | null;
}

/** The squad named by the credential in an instance's identity environment (read, not verified: the control plane just issued it). */
export function squadOf(env: Record<string, string>): string | null {
  return Identity.fromEnv(env)?.claims?.squad ?? null;
}

type HolderKey = ReturnType<typeof Identity.newKey>['publicJwk'];

/**
 * The credentials of the instances an agent runs. Each instance gets a key pair of its own
 * (the private half only ever goes to that instance, in its environment) and a credential from
 * the control plane bound to it; the credential is renewed at two thirds of its life, handed to
 * the running instance over IPC and kept for its restarts.
 */
export class InstanceCredentials {
  private readonly held = new Map<string, Held>();
  private readonly inFlight = new Set<string>();
  private trust: string | null = null;
  private revoked = '';
  private polling: NodeJS.Timeout | null = null;

  constructor(
    private readonly control: AgentControl,
    private readonly agentId: () => string | null,
    private readonly update: (instance: string, env: Record<string, string>, message: object) => void,
    private readonly log: Logger,
  ) {}

  /** Whether a credential is being fetched for this instance. */
  pending(instance: string): boolean {
    return this.inFlight.has(instance);
  }

  /** The instance's identity environment; null when none could be had (it is tried again on the next list). */
  async obtain(instance: string): Promise<Record<string, string> | null> {
    this.inFlight.add(instance);
    try {
      this.trust ??= JSON.stringify(await this.control.jwks());
      const key = Identity.newKey();
      const env = await this.issue(instance, key.privateKey, key.publicJwk);
      if (env === null) return null;
      return { ...env, [TRUST_ENV]: this.trust, ...(this.revoked ? { [REVOKED_ENV]: this.revoked } : {}) };
    } catch (err) {
      this.log.warn({ instance, err: (err as Error).message }, 'cannot get a credential for the instance from the control plane; it starts once one is issued');
      return null;
    } finally {
      this.inFlight.delete(instance);
    }
  }

  forget(instance: string): void {
    const h = this.held.get(instance);
    if (h?.renewal) clearTimeout(h.renewal);
    this.held.delete(instance);
  }

  stop(): void {
    if (this.polling) clearInterval(this.polling);
    for (const id of [...this.held.keys()]) this.forget(id);
  }

  /**
   * Keep the instances' view of revoked credentials current: poll the control plane every
   * `everyMs` and send each running instance the list when it changes (and to each new one as it
   * starts, in its environment), so that they refuse revoked callers as the brokers do.
   */
  watchRevocations(everyMs: number, instances: () => string[]): void {
    const poll = async () => {
      try {
        const text = JSON.stringify((await this.control.revokedCredentials()).ids);
        if (text === this.revoked) return;
        this.revoked = text;
        for (const id of instances()) this.update(id, { [REVOKED_ENV]: text }, { type: 'revoked', ids: JSON.parse(text) as string[] });
      } catch (err) {
        this.log.debug({ err: (err as Error).message }, 'cannot read revoked credentials; keeping the last list');
      }
    };
    void poll();
    this.polling = setInterval(() => void poll(), everyMs);
    this.polling.unref();
  }

  private async issue(instance: string, privateKey: KeyObject, publicJwk: HolderKey): Promise<Record<string, string> | null> {
    const agent = this.agentId();
    if (agent === null) return null;
    const issued = await this.control.instanceCredential(agent, instance, publicJwk);
    this.forget(instance);
    const lifeMs = issued.expiresAt - Date.now();
    const renewal = setTimeout(() => void this.renew(instance), Math.max(1000, Math.floor((lifeMs * 2) / 3)));
    renewal.unref();
    this.held.set(instance, { key: privateKey, publicJwk, renewal });
    return Identity.toEnv(issued.credential, privateKey);
  }

  private async renew(instance: string): Promise<void> {
    const h = this.held.get(instance);
    if (!h) return;
    try {
      const env = await this.issue(instance, h.key, h.publicJwk);
      if (env !== null) this.update(instance, env, { type: 'credential', credential: env[IDENTITY_ENV.credential] });
    } catch (err) {
      this.log.warn({ instance, err: (err as Error).message }, 'cannot renew the instance\'s credential; trying again');
      const again = setTimeout(() => void this.renew(instance), 5000);
      again.unref();
      this.held.set(instance, { ...h, renewal: again });
    }
  }
}
