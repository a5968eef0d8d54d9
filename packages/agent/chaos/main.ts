// `npm run chaos`, agent part: an instance SIGKILLed 100 times (AGENT_CHAOS_KILLS) comes back
// ready each time, kill to ready p99 under 2 s.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSites } from '@squadron/testkit';
import { restartCheck, summary } from './restart-check.ts';

const kills = Number(process.env.AGENT_CHAOS_KILLS ?? 100);
const say = (line: string) => process.stdout.write(`${line}\n`);
const sites = await startSites(['sto']);
const logDir = mkdtempSync(join(tmpdir(), 'squadron-agent-chaos-'));
let failed = false;
try {
  say(`\n== an instance SIGKILLed ×${kills} under its agent's supervisor`);
  const r = await restartCheck({ kills, broker: sites.address('sto'), site: 'sto', logDir, progress: (l) => say(`  ${l}`) });
  const s = summary(r.tookMs);
  say(`kills ${kills}  restarts ${r.restarts}  crash loop ${r.crashLoop}  kill→ready p50 ${s.p50.toFixed(0)} ms  p99 ${s.p99.toFixed(0)} ms  max ${s.max.toFixed(0)} ms  (load average ${loadavg()[0]!.toFixed(1)})`);
  if (r.restarts !== kills || r.crashLoop || s.p99 >= 2000) failed = true;
} finally {
  await sites.stop();
  rmSync(logDir, { recursive: true, force: true });
}
say(failed ? '\nFAILED' : '\nall checks passed');
process.exit(failed ? 1 : 0);
