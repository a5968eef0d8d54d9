import type { ControlClient } from '@squadron/client';
import { SquadronError } from '@squadron/protocol';

const POLL_MS = 200;

/**
 * Wait until a service runs exactly what it should: every desired instance of its current
 * release ready, nothing else left. Prints a line whenever the picture changes; fails at once
 * on a crash loop (naming the instance) and after `timeoutMs` with what is still missing.
 */
export async function waitForRollout(api: ControlClient, service: string, timeoutMs: number, say: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const svc = await api.service(service);
    const { instances } = await api.instances(service);
    const wanted = Object.values(svc.desired).reduce((a, b) => a + b, 0);
    const current = instances.filter((i) => i.release === svc.release && i.state !== 'draining');
    const ready = current.filter((i) => i.state === 'ready').length;
    const others = instances.length - current.length;
    const looping = current.find((i) => i.crashLoop);
    if (looping) {
      throw new SquadronError('CRASH_LOOP', `instance ${looping.id} of ${service} keeps exiting before it is ready (last exit: ${JSON.stringify(looping.lastExit)}); read its log in the agent's log directory, fix the code, then deploy again or roll back (squadron rollback ${service})`);
    }
    const picture = `${ready}/${wanted} ready${others > 0 ? `, ${others} old draining` : ''}`;
    if (picture !== last) say(`  ${service}: ${picture}`);
    last = picture;
    if (ready === wanted && current.length === wanted && others === 0) return;
    if (Date.now() > deadline) throw new SquadronError('TIMEOUT', `${service} is not rolled out after ${timeoutMs / 1000} s (${picture}); see squadron instances ${service}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
