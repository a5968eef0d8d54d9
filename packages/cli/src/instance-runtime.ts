import pino from 'pino';
import { randomBytes } from 'node:crypto';
import { runService, resolveBroker, PolicyHolder, StorageHolder, type ServiceDefinition, type StorageResources } from '@squadron/sdk';
import { Policies, PolicyWatcher, type PolicySet } from '@squadron/policy';
import { CredentialVerifier, Identity } from '@squadron/identity';
import { ControlClient } from '@squadron/client';
import { platformUrl } from './env.ts';
import { resolveToken } from './credentials.ts';
import { onShutdown } from './shutdown.ts';

/** Where and how one instance runs. */
export interface InstanceFlags {
  site: string;
  broker?: string;
  instanceId?: string;
  listen?: string;
  dataDir?: string;
}

/**
 * Run one instance of a loaded service until it is told to stop, then exit. Started by an agent,
 * it has its identity, policies and storage from the agent (environment, then IPC) and tells the
 * agent when it is ready; run by hand, it asks the platform for them with the user's token.
 */
export async function runInstance(definition: ServiceDefinition, flags: InstanceFlags): Promise<never> {
  const url = platformUrl(flags.dataDir);
  const broker = flags.broker ?? process.env.SQUADRON_BROKER ?? (await resolveBroker(flags.site, url, resolveToken(url, flags.dataDir)));
  const instanceId = flags.instanceId ?? `${definition.name}-${randomBytes(3).toString('hex')}`;
  const logger = pino({ name: definition.name, level: process.env.SQUADRON_LOG_LEVEL ?? 'info' });
  let identity = Identity.fromEnv();
  let trust = process.env.SQUADRON_TRUST;
  // The access policies: from the agent (environment, then IPC), or, by hand, from the platform.
  const policies = new PolicyHolder();
  // The storage the service owns, for ctx.storage(): from the agent (environment, then IPC).
  const storage = new StorageHolder();
  if (process.env.SQUADRON_STORAGE) storage.set(JSON.parse(process.env.SQUADRON_STORAGE) as StorageResources);
  if (process.env.SQUADRON_POLICIES) policies.set(new Policies(JSON.parse(process.env.SQUADRON_POLICIES) as PolicySet));

  let watcher: PolicyWatcher | null = null;
  if (identity === null && !flags.broker && !process.env.SQUADRON_BROKER) {
    const token = resolveToken(url, flags.dataDir);
    if (token) {
      const api = new ControlClient({ url, token });
      watcher = new PolicyWatcher(api, (p) => policies.set(p), logger);
      await watcher.start();
      // Its service's storage as it is now (an agent keeps its instances' current; by hand, run again after creating more).
      const owned = await api.serviceStorage(definition.name).catch(() => ({ storage: [] }));
      storage.set(Object.fromEntries(owned.storage.map((r) => [r.name, { kind: r.kind, credentials: r.credentials }])));
      const { privateKey, publicJwk } = Identity.newKey();
      identity = new Identity((await api.ownInstanceCredential(definition.name, instanceId, flags.site, publicJwk)).credential, privateKey);
      trust = JSON.stringify(await api.jwks());
    }
  }
  // Revoked credentials: the list at start, then each change, from the agent.
  let revoked = new Set<string>(JSON.parse(process.env.SQUADRON_REVOKED ?? '[]') as string[]);
  process.on('message', (m: { type?: string; credential?: string; ids?: unknown; set?: PolicySet; resources?: StorageResources }) => {
    if (m?.type === 'storage' && m.resources) storage.set(m.resources);
    if (m?.type === 'credential' && typeof m.credential === 'string') identity?.renew(m.credential);
    if (m?.type === 'policies' && m.set) policies.set(new Policies(m.set));
    if (m?.type === 'revoked' && Array.isArray(m.ids)) revoked = new Set(m.ids.filter((id): id is string => typeof id === 'string'));
  });
  const verifier = trust ? CredentialVerifier.fromJwks(trust, (id) => revoked.has(id)) : undefined;
  const running = await runService(definition, {
    site: flags.site,
    broker,
    logger,
    identity,
    instanceId,
    policies,
    storage,
    ...(verifier ? { verifier } : {}),
    ...(flags.listen ? { listen: flags.listen } : {}),
  });
  process.send?.({ type: 'ready', instance: running.info, interface: serviceInterface(definition) });
  if (!process.send) {
    process.stdout.write(`instance ${running.info.id} of ${running.info.service} ready in ${flags.site} at ${running.info.address}\n`);
  }
  await onShutdown(() => {
    watcher?.stop();
    return running.stop();
  });
  process.exit(process.exitCode ?? 0);
}

/**
 * What the definition declares, sent with the ready message so that an agent can report it to
 * the control plane (the catalog shows a service's interface as its running code declares it).
 */
function serviceInterface(definition: ServiceDefinition): { methods: string[]; topics: string[]; queues: string[]; publishes: string[] } {
  return {
    publishes: [...new Set(definition.publishes ?? [])],
    methods: Object.keys(definition.methods ?? {}),
    topics: Object.keys(definition.subscriptions ?? {}),
    queues: Object.keys(definition.consumers ?? {}),
  };
}
