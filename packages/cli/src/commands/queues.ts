import type { Command } from 'commander';
import { action, parseJsonArg, parseIntFlag, printJson, printTable } from '../output.ts';
import { formatBytes } from '@squadron/policy';
import { api, connectToSite } from '../platform-client.ts';
import { registerQueueQuotas } from './queue-quotas.ts';

interface EnqueueFlags { id?: string; key?: string; delay?: string; site?: string; json?: boolean; dataDir?: string }
interface ListFlags { json?: boolean; site?: string; dataDir?: string }

/** `enqueue`, `queues` and `dlq`: durable messaging from a terminal. */
export function registerQueues(program: Command): void {
  program
    .command('enqueue')
    .description('put a message on a durable queue; says its id once it is on disk')
    .argument('<queue>')
    .argument('<json>', 'message as JSON')
    .option('--id <id>', 'producer message id: the same id within 2 minutes is stored once')
    .option('--key <key>', 'messages with the same key are delivered in order, one at a time')
    .option('--delay <ms>', 'deliver no sooner than this many milliseconds from now')
    .option('--site <site>', 'enqueue in this site (default: the first site)')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (queue: string, json: string, flags: EnqueueFlags) => {
      const message = parseJsonArg(json, 'the message');
      const delayMs = flags.delay === undefined ? 0 : parseIntFlag(flags.delay, '--delay', 0, 7 * 24 * 3_600_000);
      const client = await connectToSite(flags);
      let result: { id: string; duplicate: boolean };
      try {
        result = await client.enqueue(queue, message, { delayMs, ...(flags.id ? { id: flags.id } : {}), ...(flags.key ? { key: flags.key } : {}) });
      } finally {
        await client.close();
      }
      if (flags.json) return printJson({ queue, site: client.site, ...result, ...(flags.key ? { key: flags.key } : {}), ...(delayMs ? { delayMs } : {}) });
      process.stdout.write(result.duplicate
        ? `${queue} in site ${client.site} already has message ${result.id} (the same id within 2 minutes is stored once): nothing added\n`
        : `enqueued ${result.id} to ${queue} in site ${client.site}, on disk${delayMs ? `, for delivery in ${delayMs} ms or later` : ''} (delivered at least once)\n`);
    }));

  const queues = program
    .command('queues')
    .description('durable queues per site: depth, in flight, dead, what they hold against their limit; and their quotas')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (flags: ListFlags) => {
      const { queues: rows } = await api(flags).queues();
      if (flags.json) return printJson({ queues: rows });
      if (rows.length === 0) return void process.stdout.write('no queues yet; enqueue with: npx squadron enqueue QUEUE JSON\n');
      printTable(['SITE', 'QUEUE', 'DEPTH', 'IN-FLIGHT', 'DEAD', 'HELD / LIMIT', 'BYTES / LIMIT', 'DELIVERED', 'REDELIVERED'],
        rows.map((q) => [q.site, q.queue, q.depth, q.inFlight, q.dead, held(q.stored, q.limit?.maxMessages), heldBytes(q.bytes, q.limit?.maxBytes), q.delivered, q.redelivered]));
    }));
  registerQueueQuotas(queues);

  const dlq = program.command('dlq').description('dead-letter queues: messages that failed maxDeliveries times');
  dlq
    .command('list')
    .description('list a queue\'s dead letters with their last error')
    .argument('<queue>')
    .option('--site <site>', 'the queue\'s site (default: the first site)')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (queue: string, flags: ListFlags) => {
      const { messages } = await api(flags).deadLetters(queue, flags.site);
      if (flags.json) return printJson({ queue, messages });
      if (messages.length === 0) return void process.stdout.write(`no dead letters in ${queue}\n`);
      printTable(['ID', 'DELIVERIES', 'ENQUEUED', 'LAST ERROR'], messages.map((m) => [m.id, m.deliveries, new Date(m.enqueuedAt).toISOString(), m.error ?? '']));
    }));
  dlq
    .command('replay')
    .description('deliver a queue\'s dead letters again, with fresh delivery counts')
    .argument('<queue>')
    .option('--site <site>', 'the queue\'s site (default: the first site)')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (queue: string, flags: ListFlags) => {
      const result = await api(flags).replay(queue, flags.site);
      if (flags.json) return printJson(result);
      process.stdout.write(`${result.revived} message(s) of ${queue} back for delivery\n`);
    }));
}

/** `12 / 1000 (1%)`: what a queue holds against its limit; `12` where its broker has none. */
function held(used: number | undefined, max: number | undefined): string {
  if (used === undefined) return '-';
  return max === undefined ? String(used) : `${used} / ${max} (${Math.floor((100 * used) / max)}%)`;
}

function heldBytes(used: number | undefined, max: number | undefined): string {
  if (used === undefined) return '-';
  return max === undefined ? formatBytes(used) : `${formatBytes(used)} / ${formatBytes(max)}`;
}
