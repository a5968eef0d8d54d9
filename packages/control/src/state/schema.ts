import type { Migration } from './db.ts';

/**
 * The control plane's schema, as versioned migrations. Never edit a migration that has shipped:
 * add the next one. What the store keeps is what must survive a restart: the catalog, releases,
 * desired state and placements, agents, the audit trail. What agents observe (pid, memory, CPU,
 * ready or crashed) lives in memory and is reported again within seconds of a restart.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'catalog, deployments, agents, audit',
    sql: {
      sqlite: schemaV1('INTEGER PRIMARY KEY'),
      postgres: schemaV1('BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY'),
    },
  },
  {
    version: 2,
    name: 'identity: signing keys, issued credentials',
    sql: `
      CREATE TABLE signing_keys (
        kid TEXT PRIMARY KEY,
        private_jwk TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE credentials (
        id TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        name TEXT NOT NULL,
        site TEXT NOT NULL,
        service TEXT,
        squad TEXT NOT NULL,
        issued_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        revoked_at BIGINT
      );
      CREATE INDEX credentials_by_expiry ON credentials(expires_at);
    `,
  },
  {
    version: 3,
    name: 'releases: the memory ceiling of their instances',
    // Releases made before it get the platform's default ceiling.
    sql: 'ALTER TABLE releases ADD COLUMN max_memory_mb INTEGER NOT NULL DEFAULT 256;',
  },
  {
    version: 4,
    name: 'access policies: open or restricted services, grants and deny rules',
    sql: `
      ALTER TABLE services ADD COLUMN access TEXT NOT NULL DEFAULT 'open';
      CREATE TABLE access_rules (
        service TEXT NOT NULL REFERENCES services(name),
        caller TEXT NOT NULL,
        kind TEXT NOT NULL,
        methods TEXT,
        rate DOUBLE PRECISION,
        burst INTEGER,
        publish TEXT NOT NULL,
        subscribe TEXT NOT NULL,
        consume TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        PRIMARY KEY (service, caller, kind)
      );
    `,
  },
  {
    version: 5,
    name: 'storage resources',
    sql: `
      CREATE TABLE storage_resources (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        service TEXT NOT NULL REFERENCES services(name),
        squad TEXT NOT NULL,
        sites TEXT NOT NULL,
        primary_site TEXT NOT NULL,
        sync_replication INTEGER NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        state TEXT,
        created_at BIGINT NOT NULL,
        created_by TEXT NOT NULL
      );
    `,
  },
  {
    version: 6,
    name: 'apps: API clients with keys for a kv store',
    sql: `
      CREATE TABLE apps (
        name TEXT PRIMARY KEY,
        squad TEXT NOT NULL,
        storage TEXT NOT NULL REFERENCES storage_resources(name),
        token_hash TEXT NOT NULL UNIQUE,
        created_at BIGINT NOT NULL,
        created_by TEXT NOT NULL
      );
    `,
  },
  {
    version: 7,
    name: 'claims: one owner service per topic and queue',
    // The services that declared topics and queues before claims existed claim them now, oldest
    // service first; a queue SERVICE@TOPIC only by SERVICE (catalog/claims.ts has the rules).
    sql: {
      sqlite: claimsV7(
        "SELECT 'topic', j.value, s.name, s.squad, s.created_at FROM services s, json_each(s.interface, '$.publishes') j",
        "SELECT 'queue', j.value, s.name, s.squad, s.created_at FROM services s, json_each(s.interface, '$.queues') j",
        'INSERT OR IGNORE INTO', '',
      ),
      postgres: claimsV7(
        "SELECT 'topic', j.value, s.name, s.squad, s.created_at FROM services s, json_array_elements_text((s.interface::json)->'publishes') AS j(value)",
        "SELECT 'queue', j.value, s.name, s.squad, s.created_at FROM services s, json_array_elements_text((s.interface::json)->'queues') AS j(value)",
        'INSERT INTO', 'ON CONFLICT DO NOTHING',
      ),
    },
  },
  {
    version: 8,
    name: 'kv stores: which namespace layout their keys are in',
    // 1: a service's keys under its bare name, an app's under app-NAME (they could collide);
    // 2: svc.NAME and app.NAME. Stores made before are moved at their next start.
    sql: 'ALTER TABLE storage_resources ADD COLUMN kv_layout INTEGER NOT NULL DEFAULT 1;',
  },
  {
    version: 9,
    name: 'queue quotas: limits owners set on their queues, totals the admin sets for squads',
    sql: `
      CREATE TABLE queue_limits (
        queue TEXT PRIMARY KEY,
        max_messages BIGINT NOT NULL,
        max_bytes BIGINT NOT NULL,
        set_at BIGINT NOT NULL,
        set_by TEXT NOT NULL
      );
      CREATE TABLE squad_queue_totals (
        squad TEXT PRIMARY KEY REFERENCES squads(name) ON DELETE CASCADE,
        max_messages BIGINT NOT NULL,
        max_bytes BIGINT NOT NULL,
        set_at BIGINT NOT NULL,
        set_by TEXT NOT NULL
      );
    `,
  },
  {
    version: 10,
    name: 'release artifacts: each release runs the content-addressed bundle a deploy built',
    sql: {
      sqlite: artifactsV10('BLOB'),
      postgres: artifactsV10('BYTEA'),
    },
  },
];

function artifactsV10(bytes: string): string {
  return `
    CREATE TABLE artifacts (
      digest TEXT PRIMARY KEY,
      bytes ${bytes} NOT NULL,
      size BIGINT NOT NULL,
      created_at BIGINT NOT NULL
    );
    CREATE TABLE artifact_owners (
      digest TEXT NOT NULL REFERENCES artifacts(digest) ON DELETE CASCADE,
      squad TEXT NOT NULL,
      PRIMARY KEY (digest, squad)
    );
    ALTER TABLE releases ADD COLUMN artifact TEXT;
  `;
}

function claimsV7(topics: string, queues: string, insert: string, onConflict: string): string {
  const declared = (select: string) => `
    ${insert} claims (kind, name, service, squad, claimed_at)
    ${select}
    WHERE s.interface IS NOT NULL AND (j.value NOT LIKE '%@%' OR j.value LIKE s.name || '@%')
    ORDER BY s.created_at, s.name ${onConflict};`;
  return `
    CREATE TABLE claims (
      kind TEXT NOT NULL,
      name TEXT NOT NULL,
      service TEXT NOT NULL REFERENCES services(name) ON DELETE CASCADE,
      squad TEXT NOT NULL,
      claimed_at BIGINT NOT NULL,
      PRIMARY KEY (kind, name)
    );
    CREATE INDEX claims_by_service ON claims(service);
    ${declared(topics)}
    ${declared(queues)}
  `;
}

function schemaV1(autoId: string): string {
  return `
    CREATE TABLE squads (
      name TEXT PRIMARY KEY,
      token_hash TEXT NOT NULL UNIQUE,
      created_at BIGINT NOT NULL,
      created_by TEXT NOT NULL
    );
    CREATE TABLE services (
      name TEXT PRIMARY KEY,
      squad TEXT NOT NULL REFERENCES squads(name),
      repo TEXT,
      description TEXT,
      created_at BIGINT NOT NULL,
      interface TEXT,
      release INTEGER,
      desired TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE releases (
      service TEXT NOT NULL REFERENCES services(name),
      number INTEGER NOT NULL,
      path TEXT NOT NULL,
      desired TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      created_by TEXT NOT NULL,
      rollback_of INTEGER,
      PRIMARY KEY (service, number)
    );
    CREATE TABLE agents (
      id TEXT PRIMARY KEY,
      site TEXT NOT NULL,
      host TEXT NOT NULL,
      slots INTEGER,
      registered_at BIGINT NOT NULL,
      last_seen_at BIGINT NOT NULL
    );
    CREATE TABLE instances (
      id TEXT PRIMARY KEY,
      service TEXT NOT NULL REFERENCES services(name),
      release INTEGER NOT NULL,
      site TEXT NOT NULL,
      agent TEXT REFERENCES agents(id),
      draining INTEGER NOT NULL DEFAULT 0,
      created_at BIGINT NOT NULL
    );
    CREATE INDEX instances_by_service ON instances(service);
    CREATE INDEX instances_by_agent ON instances(agent);
    CREATE TABLE audit (
      id ${autoId},
      at BIGINT NOT NULL,
      actor TEXT NOT NULL,
      action TEXT NOT NULL,
      target TEXT NOT NULL,
      detail TEXT NOT NULL
    );
    CREATE INDEX audit_by_target ON audit(target);
  `;
}
