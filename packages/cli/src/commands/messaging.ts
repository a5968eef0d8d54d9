import type { Command } from 'commander';
import { UnavailableError } from '@squadron/protocol';
import { action, parseJsonArg, parseIntFlag, printJson } from '../output.ts';
import { connectToSite } from '../platform-client.ts';
import { onShutdown } from '../shutdown.ts';

interface CallFlags { site?: string; timeout: string; dataDir?: string }
interface SiteOnly { site?: string; dataDir?: string }
interface PublishFlags extends SiteOnly { json?: boolean }
interface SubscribeFlags extends SiteOnly { count?: string; group?: string }

/** `call`, `publish` and `subscribe`: the messaging layer from a terminal. */
export function registerMessaging(program: Command): void {
  program
    .command('call')
    .description('call a method of a service and print the reply as JSON')
    .argument('<service>')
    .argument('<method>')
    .argument('[json]', 'request payload as JSON', 'null')
    .option('--site <site>', 'call from this site (default: the first site)')
    .option('--timeout <ms>', 'give up after this many milliseconds', '5000')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (service: string, method: string, json: string, flags: CallFlags) => {
      const payload = parseJsonArg(json, 'the request payload');
      const timeoutMs = parseIntFlag(flags.timeout, '--timeout', 1, 3_600_000);
      const client = await connectToSite(flags);
      try {
        const reply = await client.call(service, method, payload, { timeoutMs });
        process.stdout.write(`${JSON.stringify(reply, null, 2)}\n`);
      } finally {
        await client.close();
      }
    }));

  program
    .command('publish')
    .description('publish a message to a topic (at most once: to the subscribers connected now)')
    .argument('<topic>')
    .argument('<json>', 'message as JSON')
    .option('--site <site>', 'publish from this site (default: the first site)')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (topic: string, json: string, flags: PublishFlags) => {
      const message = parseJsonArg(json, 'the message');
      const client = await connectToSite(flags);
      try {
        client.publish(topic, message);
        // Confirm only what happened: the broker has fanned it out (one round trip), or say it did not.
        if (client.stats().publishDropped > 0) throw new UnavailableError(`the connection to the broker of ${client.site} was down: nothing was published; try again`);
        await client.flush();
      } finally {
        await client.close();
      }
      if (flags.json) return printJson({ topic, site: client.site, delivery: 'at-most-once' });
      process.stdout.write(`published to ${topic} from site ${client.site} (at most once: delivered to subscribers connected now)\n`);
    }));

  program
    .command('subscribe')
    .description('print each message of a topic as one JSON line')
    .argument('<topic>')
    .option('--count <n>', 'exit after this many messages')
    .option('--group <group>', 'share messages with other subscribers of this group')
    .option('--site <site>', 'subscribe in this site (default: the first site)')
    .option('--data-dir <dir>', 'local platform data directory')
    .action(action(async (topic: string, flags: SubscribeFlags) => {
      const limit = flags.count === undefined ? Infinity : parseIntFlag(flags.count, '--count', 1);
      const client = await connectToSite(flags);
      let seen = 0;
      let finish: () => void = () => {};
      const done = new Promise<void>((resolve) => (finish = resolve));
      // The broker refuses at once (a topic of another squad without a grant, a group of another
      // service), or later (a grant revoked): either way the messages stop, and so does the command.
      let refuse: (err: Error) => void = () => {};
      const refused = new Promise<never>((_, reject) => (refuse = reject));
      refused.catch(() => {});
      const sub = client.subscribe(topic, (message) => {
        if (seen >= limit) return;
        seen++;
        process.stdout.write(`${JSON.stringify(message)}\n`);
        if (seen >= limit) finish();
      }, { ...(flags.group ? { group: flags.group } : {}), onRefused: refuse });
      await sub.ready;
      process.stderr.write(`subscribed to ${topic}${flags.group ? ` in group ${flags.group}` : ''}\n`);
      await Promise.race([done, refused, onShutdown(async () => {})]);
      await client.close();
      process.exit(process.exitCode ?? 0);
    }));
}
