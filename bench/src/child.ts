// The child side of the orchestration: read the role and config the parent put on argv, talk
// back over the IPC channel, and die with the parent. A child must never outlive the run, so it
// exits when the channel closes (parent gone, even if it was SIGKILLed) or on SIGTERM/SIGINT.
import type { FromChild, ToChild } from './ipc.ts';

const stopHooks: Array<() => Promise<void> | void> = [];
let stopping = false;

/** The role this process plays (`server`, `client`, ...), argv[2]. */
export function role(): string {
  return process.argv[2] ?? '';
}

/** The JSON config the parent passed as argv[3]. */
export function config<T>(): T {
  return JSON.parse(process.argv[3] ?? '{}') as T;
}

export function send(msg: FromChild): void {
  process.send?.(msg);
}

export function onMessage(handler: (msg: ToChild) => void): void {
  process.on('message', (msg) => handler(msg as ToChild));
}

/** Run on shutdown, last registered first (close clients before the servers they use). */
export function onStop(hook: () => Promise<void> | void): void {
  stopHooks.unshift(hook);
}

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    // A hook that hangs must not keep the process alive: cap the whole graceful phase.
    const cap = setTimeout(() => process.exit(code), 2000);
    cap.unref();
    for (const hook of stopHooks) {
      try {
        await hook();
      } catch {
        /* best effort: we are leaving anyway */
      }
    }
  }
  process.exit(code);
}

/**
 * Wrap a child's entry: wire up shutdown, run `body`, and report a failure to the parent
 * instead of dying silently.
 */
export function childMain(body: () => Promise<void>): void {
  process.on('disconnect', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  process.on('SIGINT', () => void shutdown(0));
  onMessage((msg) => {
    if (msg.type === 'stop') void shutdown(0);
  });
  body().catch((err: unknown) => {
    const message = err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err);
    // Exit only once the report has left, or the parent would see a bare exit code.
    if (process.send) process.send({ type: 'error', message } satisfies FromChild, undefined, undefined, () => void shutdown(1));
    else void shutdown(1);
  });
}
