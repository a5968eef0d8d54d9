import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ControlClient } from '@squadron/client';

/** One instance's log file. */
export interface InstanceLog {
  instance: string;
  site: string;
  file: string;
}

/** Where a site's agent on this machine writes its instances' logs (`squadron agent` sets it). */
export function siteLogDir(logsDir: string, site: string): string {
  return join(logsDir, `agent-${site}`);
}

/** The agent names an instance's log file after its id, with anything but `\w.-` as `_`. */
function fileOf(logsDir: string, site: string, instance: string): string {
  return join(siteLogDir(logsDir, site), `${instance.replace(/[^\w.-]/g, '_')}.log`);
}

/**
 * The log files of a service's instances in `sites`: those the control plane lists (placed now,
 * whatever their state), and those of its instances that ran before (an earlier release, a
 * scale-down), found by the form of the ids the control plane gives: `SERVICE-SITE-` and six
 * hex digits. Files not written yet are listed too; the reader waits for them.
 */
export async function serviceLogs(api: ControlClient, service: string, sites: readonly string[], logsDir: string): Promise<InstanceLog[]> {
  const found = new Map<string, InstanceLog>();
  for (const i of (await api.instances(service)).instances) {
    if (sites.includes(i.site)) found.set(i.id, { instance: i.id, site: i.site, file: fileOf(logsDir, i.site, i.id) });
  }
  for (const site of sites) {
    const earlier = new RegExp(`^${escape(service)}-${escape(site)}-[0-9a-f]{6}\\.log$`);
    for (const name of filesIn(siteLogDir(logsDir, site))) {
      if (!earlier.test(name)) continue;
      const instance = name.slice(0, -'.log'.length);
      if (!found.has(instance)) found.set(instance, { instance, site, file: join(siteLogDir(logsDir, site), name) });
    }
  }
  return [...found.values()];
}

function filesIn(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
