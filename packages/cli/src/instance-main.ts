/**
 * The runtime of a release: `node instance.mjs ENTRY --site S --broker B --instance-id ID`, run
 * by an agent under plain Node from a bundle of this file (runtime-bundles.ts), with nothing to
 * compile at start. ENTRY is the release artifact's entry, unpacked by the agent; it was built
 * without the platform's SDK, which this process provides (one copy, so that the errors a
 * handler throws are the runtime's own classes).
 */
import { parseArgs } from 'node:util';
import * as sdk from '@squadron/sdk';
import * as protocol from '@squadron/protocol';
import { provideModules } from '@squadron/artifact';
import { loadEntry } from './service-loader.ts';
import { reportFailure } from './output.ts';
import { runInstance } from './instance-runtime.ts';

// Never outlive the agent, even while still starting; once running, a gone agent is a graceful stop.
const orphaned = () => process.exit(1);
process.once('disconnect', orphaned);

try {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { site: { type: 'string' }, broker: { type: 'string' }, 'instance-id': { type: 'string' }, listen: { type: 'string' } },
  });
  const entry = positionals[0];
  if (!entry || !values.site) throw new Error('usage: instance.mjs ENTRY --site SITE [--broker ADDRESS] [--instance-id ID] [--listen ADDRESS]');
  provideModules({ '@squadron/sdk': sdk, '@squadron/protocol': protocol });
  const definition = await loadEntry(entry);
  process.removeListener('disconnect', orphaned);
  await runInstance(definition, {
    site: values.site,
    ...(values.broker ? { broker: values.broker } : {}),
    ...(values['instance-id'] ? { instanceId: values['instance-id'] } : {}),
    ...(values.listen ? { listen: values.listen } : {}),
  });
} catch (err) {
  process.exit(reportFailure(err));
}
