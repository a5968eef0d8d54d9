import type { JWK } from 'jose';
import { CredentialIssuer, Identity, type CredentialClaims } from '@squadron/identity';
import type { Db, Queryable } from '../state/db.ts';
import { actorOf, mustBeAdmin, mustOwn, type Principal } from '../auth/principal.ts';
import { recordAudit } from '../catalog/audit.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../control-errors.ts';
import type { Sites } from '../sites.ts';

/** What the control plane's own credential says of it: a client of the admin, named `control`. */
const controlClaims = (site: string): CredentialClaims => ({ role: 'client', site, name: 'control', squad: 'admin' });

export interface CredentialBody {
  credential: string;
  id: string;
  expiresAt: number;
}

export interface AuthorityOptions {
  /** How long a credential is valid (default 1 hour); holders renew at two thirds of it. */
  ttlMs?: number;
}

/**
 * The platform's credential authority: its signing key (kept in the state store, so that every
 * control-plane replica and every restart signs with the same key), the credentials it issued,
 * and which of those are revoked. Each credential names what the platform knows of its holder,
 * never what the holder asks for: an instance's service and squad come from its placement.
 */
export class CredentialAuthority {
  readonly ttlMs: number;

  private constructor(private readonly db: Db, private readonly issuer: CredentialIssuer, options: AuthorityOptions) {
    this.ttlMs = options.ttlMs ?? 3_600_000;
  }

  /** The authority on the store's signing key, made on first use. */
  static async open(db: Db, options: AuthorityOptions = {}): Promise<CredentialAuthority> {
    const issuer = await db.tx(async (q) => {
      const [row] = await q.query<{ private_jwk: string }>('SELECT private_jwk FROM signing_keys ORDER BY created_at LIMIT 1');
      if (row) return CredentialIssuer.fromJwk(JSON.parse(row.private_jwk) as JWK);
      const made = await CredentialIssuer.generate();
      await q.query('INSERT INTO signing_keys (kid, private_jwk, created_at) VALUES ($1, $2, $3)', [made.keyId, JSON.stringify(made.toJwk()), Date.now()]);
      return made;
    });
    return new CredentialAuthority(db, issuer, options);
  }

  /** The public keys verifiers trust (a JWKS). */
  jwks(): { keys: JWK[] } {
    return { keys: [this.issuer.publicJwk()] };
  }

  /** A credential for the caller itself, as a client (the CLI, a script): its squad, or `admin`. */
  forClient(by: Principal, holderKey: JWK, site: string, name: string): Promise<CredentialBody> {
    return this.issue({ role: 'client', site, name, squad: by.kind === 'admin' ? 'admin' : by.name }, holderKey);
  }

  /** A credential for an instance an agent runs: only for an instance placed on that agent. */
  async forInstance(agent: string, instance: string, holderKey: JWK): Promise<CredentialBody> {
    const [row] = await this.db.query<{ service: string; site: string; squad: string }>(
      'SELECT i.service, i.site, s.squad FROM instances i JOIN services s ON s.name = i.service WHERE i.id = $1 AND i.agent = $2',
      [instance, agent],
    );
    if (!row) throw new NotFoundError('instance', instance, `it is not placed on agent ${agent}`);
    return this.issue({ role: 'instance', site: row.site, name: instance, service: row.service, squad: row.squad }, holderKey);
  }

  /**
   * A credential for an instance its owner runs by hand (`squadron run`), not placed by the
   * platform: the owner squad (or the admin) vouches for it.
   */
  async forOwnInstance(by: Principal, sites: Sites, service: string, instance: string, site: string, holderKey: JWK): Promise<CredentialBody> {
    const [row] = await this.db.query<{ squad: string }>('SELECT squad FROM services WHERE name = $1', [service]);
    if (!row) throw new NotFoundError('service', service, `create it first: squadron services create ${service} --squad SQUAD`);
    mustOwn(by, row.squad, `service '${service}'`);
    if (!sites.get(site)) throw new NotFoundError('site', site, `the platform's sites are ${sites.names.join(', ')}`);
    // An instance id names one instance of one service: a credential for another service's id
    // would let its holder stand in that instance's place in the registry.
    if (!instance.startsWith(`${service}-`)) {
      throw new InvalidInputError([{ path: '/instance', message: `an instance of '${service}' is named ${service}-SOMETHING (squadron run makes one: ${service}-<random>)` }]);
    }
    const [placed] = await this.db.query<{ service: string }>('SELECT service FROM instances WHERE id = $1', [instance]);
    if (placed && placed.service !== service) {
      throw new ConflictError(`instance id '${instance}' is an instance of '${placed.service}' placed by the platform: pick another id for '${service}'`);
    }
    return this.issue({ role: 'instance', site, name: instance, service, squad: row.squad }, holderKey);
  }

  /** A credential for a site's broker (admin). */
  forBroker(by: Principal, sites: Sites, site: string, holderKey: JWK): Promise<CredentialBody> {
    mustBeAdmin(by, 'issue broker credentials');
    if (!sites.get(site)) throw new NotFoundError('site', site, `the platform's sites are ${sites.names.join(', ')}`);
    return this.issue({ role: 'broker', site, name: `broker:${site}`, squad: 'admin' }, holderKey);
  }

  /**
   * The control plane's own identity (a client credential of the admin, named `control`), which
   * it proves to brokers when it asks them for their stats and queues. Renewed in place.
   */
  async ownIdentity(site: string): Promise<Identity> {
    const { privateKey, publicJwk } = Identity.newKey();
    const issued = await this.issuer.issue(controlClaims(site), publicJwk, this.ttlMs);
    return new Identity(issued.credential, privateKey);
  }

  /** A renewed credential for an identity `ownIdentity` made. */
  async renew(identity: Identity, site: string): Promise<void> {
    identity.renew((await this.issuer.issue(controlClaims(site), identity.publicJwk, this.ttlMs)).credential);
  }

  /** Revoke a credential: the admin any, a squad those of its own services and clients. */
  async revoke(by: Principal, id: string): Promise<void> {
    await this.db.tx(async (q) => {
      const [row] = await q.query<{ squad: string; revoked_at: number | null }>('SELECT squad, revoked_at FROM credentials WHERE id = $1', [id]);
      if (!row) throw new NotFoundError('credential', id);
      mustOwn(by, row.squad, `credential ${id}`);
      if (row.revoked_at !== null) return;
      await q.query('UPDATE credentials SET revoked_at = $1 WHERE id = $2', [Date.now(), id]);
      await recordAudit(q, actorOf(by), 'credential.revoke', `credential:${id}`);
    });
  }

  /** Ids of revoked credentials that have not expired yet: what verifiers must refuse. */
  async revoked(): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>('SELECT id FROM credentials WHERE revoked_at IS NOT NULL AND expires_at > $1 ORDER BY id', [Date.now()]);
    return rows.map((r) => r.id);
  }

  /** Forget credentials that expired (a revoked one no longer matters once it has). */
  async prune(q: Queryable = this.db): Promise<void> {
    await q.query('DELETE FROM credentials WHERE expires_at < $1', [Date.now() - 60_000]);
  }

  private async issue(claims: CredentialClaims, holderKey: JWK): Promise<CredentialBody> {
    const issued = await this.issuer.issue(claims, holderKey, this.ttlMs);
    await this.db.query(
      'INSERT INTO credentials (id, role, name, site, service, squad, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [issued.id, claims.role, claims.name, claims.site, claims.service ?? null, claims.squad, Date.now(), issued.expiresAt],
    );
    return issued;
  }
}
