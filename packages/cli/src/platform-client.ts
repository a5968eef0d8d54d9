import pino from 'pino';
import { connect, PolicyHolder, type Client } from '@squadron/sdk';
import { Policies } from '@squadron/policy';
import { ControlClient } from '@squadron/client';
import { Identity } from '@squadron/identity';
import { UsageError } from './output.ts';
import { platformUrl } from './env.ts';
import { resolveToken } from './credentials.ts';

export interface SiteFlags {
  site?: string;
  dataDir?: string;
}

/** The platform's API, with the token the CLI acts with (credentials.ts). */
export function api(flags: { dataDir?: string } = {}): ControlClient {
  const url = platformUrl(flags.dataDir);
  const token = resolveToken(url, flags.dataDir);
  return new ControlClient({ url, ...(token ? { token } : {}) });
}

/**
 * Connect to a site's broker the way a service would, so that calls from the CLI take the same
 * path as calls between services. The site defaults to the first one in the platform's order.
 */
export async function connectToSite(flags: SiteFlags): Promise<Client> {
  const client = api(flags);
  const { sites } = await client.sites();
  const site = flags.site ? sites.find((s) => s.name === flags.site) : sites[0];
  if (!site) throw new UsageError(`no site '${flags.site}'; the platform has: ${sites.map((s) => s.name).join(', ')}`);
  if (!site.broker) throw new UsageError(`site '${site.name}' has no broker running`);
  // The CLI proves who it is like any client: a credential for its token's squad, bound to a key of its own.
  const { privateKey, publicJwk } = Identity.newKey();
  const [{ credential }, answer] = await Promise.all([client.clientCredential(publicJwk, { site: site.name, name: 'cli' }), client.policies()]);
  // The policies as they are now: what callees and brokers would refuse, the CLI refuses at once, saying why.
  const policies = new PolicyHolder();
  if (answer.changed) policies.set(new Policies((({ changed: _, ...set }) => set)(answer)));
  // The SDK's warnings go to stderr: stdout is the command's output (a reply, one line per message).
  const logger = pino({ name: 'cli', level: process.env.SQUADRON_LOG_LEVEL ?? 'warn' }, pino.destination({ dest: 2, sync: true }));
  return connect({ site: site.name, broker: site.broker.address, name: 'cli', identity: new Identity(credential, privateKey), policies, logger });
}
