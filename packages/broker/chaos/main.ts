// `npm run chaos`: the durable messaging crash checks at full size.
//   CHAOS_MESSAGES (default 100000), CHAOS_KILLS (default 20), CHAOS_CONSUMER_KILLS (default 1000)
import { crashCheck } from './queue-chaos.ts';
import { consumerKillCheck } from './consumer-chaos.ts';

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const messages = num('CHAOS_MESSAGES', 100_000);
const kills = num('CHAOS_KILLS', 20);
const say = (line: string) => process.stdout.write(`${line}\n`);
let failed = false;

for (const powerLoss of [false, true]) {
  say(`\n== broker ${powerLoss ? 'power loss' : 'SIGKILL'} ×${kills} during ${messages} acknowledged enqueues from 5 producers`);
  const r = await crashCheck({ messages, producers: 5, kills, powerLoss, progress: (l) => say(`  ${l}`) });
  say(`attempted ${r.attempted}  acknowledged ${r.acknowledged}  delivered ${r.delivered}  lost ${r.lost}  duplicated ${r.duplicated}  unexpected ${r.unexpected}  (${r.kills} kills, ${r.seconds.toFixed(0)} s)`);
  if (r.lost > 0 || r.unexpected > 0) failed = true;
}

const consumerKills = num('CHAOS_CONSUMER_KILLS', 1000);
say(`\n== a consumer killed before its ack, ×${consumerKills}`);
const c = await consumerKillCheck({ kills: consumerKills, messages: Math.max(100, consumerKills) });
say(`messages ${c.messages}  acknowledged ${c.acknowledged}  lost ${c.lost}  poison dead-lettered ${c.poisonDeadLettered}  (${c.seconds.toFixed(0)} s)`);
if (c.lost > 0 || !c.poisonDeadLettered) failed = true;

say(failed ? '\nFAILED' : '\nall checks passed');
process.exit(failed ? 1 : 0);
