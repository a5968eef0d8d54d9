import type { Command } from 'commander';
import { formatBytes, parseByteSize, type QueueLimit } from '@squadron/policy';
import type { QueueQuotasBody } from '@squadron/client';
import { UsageError, action, parseIntFlag, printJson, printTable } from '../output.ts';
import { api } from '../platform-client.ts';

interface LimitFlags { maxMessages?: string; maxBytes?: string; clear?: boolean; json?: boolean; dataDir?: string }

/** `queues limit`, `queues quota`, `queues quotas`: what durable queues may hold at each site. */
export function registerQueueQuotas(queues: Command): void {
  queues
    .command('quotas')
    .description('queue quotas: the defaults, the limits owners set, the totals the admin set')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (flags: LimitFlags) => {
      const quotas = await api(flags).queueQuotas();
      if (flags.json) return printJson(quotas);
      printQuotas(quotas);
    }));

  queues
    .command('limit')
    .description('set what one of your squad\'s queues may hold at each site, within your squad\'s total (--clear: back to the default)')
    .argument('<queue>')
    .option('--max-messages <n>', 'messages kept at once (waiting, in flight and dead)')
    .option('--max-bytes <size>', 'payload bytes kept at once, e.g. 512MB or 2GB')
    .option('--clear', 'put the queue back on the platform\'s default limit')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (queue: string, flags: LimitFlags) => {
      const client = api(flags);
      let quotas: QueueQuotasBody;
      if (flags.clear) {
        quotas = await client.clearQueueLimit(queue);
      } else {
        const now = await client.queueQuotas();
        quotas = await client.setQueueLimit(queue, limitOf(flags, now.queues.find((q) => q.queue === queue) ?? now.queueDefault));
      }
      if (flags.json) return printJson(quotas);
      const set = quotas.queues.find((q) => q.queue === queue);
      process.stdout.write(set ? `${queue}: at most ${set.maxMessages} messages and ${formatBytes(set.maxBytes)} at each site\n` : `${queue}: the default limit again\n`);
    }));

  queues
    .command('quota')
    .description('set what all of a squad\'s queues may hold at each site (admin)')
    .argument('<squad>')
    .option('--max-messages <n>', 'messages kept at once, all the squad\'s queues together')
    .option('--max-bytes <size>', 'payload bytes kept at once, e.g. 4GB')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (squad: string, flags: LimitFlags) => {
      const client = api(flags);
      const now = await client.queueQuotas();
      const quotas = await client.setSquadQueueTotal(squad, limitOf(flags, now.squads.find((q) => q.squad === squad) ?? now.squadDefault));
      if (flags.json) return printJson(quotas);
      const set = quotas.squads.find((q) => q.squad === squad)!;
      process.stdout.write(`squad ${squad}: its queues hold at most ${set.maxMessages} messages and ${formatBytes(set.maxBytes)} together, at each site\n`);
    }));
}

/** The limit the flags ask for; a flag left out keeps what is in force now (set, or the default). */
function limitOf(flags: LimitFlags, current: QueueLimit): QueueLimit {
  if (flags.maxMessages === undefined && flags.maxBytes === undefined) throw new UsageError('give --max-messages N, --max-bytes SIZE, or both');
  let maxBytes = current.maxBytes;
  if (flags.maxBytes !== undefined) {
    try {
      maxBytes = parseByteSize(flags.maxBytes);
    } catch (err) {
      throw new UsageError(`--max-bytes: ${(err as Error).message}`);
    }
  }
  const maxMessages = flags.maxMessages === undefined ? current.maxMessages : parseIntFlag(flags.maxMessages, '--max-messages', 1);
  return { maxMessages, maxBytes };
}

function printQuotas(q: QueueQuotasBody): void {
  const row = (what: string, name: string, l: QueueLimit) => [what, name, l.maxMessages, formatBytes(l.maxBytes)];
  printTable(['WHAT', 'NAME', 'MAX MESSAGES', 'MAX BYTES'], [
    row('default', 'a queue', q.queueDefault),
    row('default', 'a squad, all its queues', q.squadDefault),
    row('shared', 'queues nobody claimed', q.unclaimed),
    ...q.queues.map((l) => row('queue', l.queue, l)),
    ...q.squads.map((l) => row('squad', l.squad, l)),
  ]);
  process.stdout.write('Limits hold at each site, dead letters included. Owners: squadron queues limit QUEUE; the admin: squadron queues quota SQUAD.\n');
}
