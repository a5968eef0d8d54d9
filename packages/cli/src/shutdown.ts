/**
 * Resolve after `stop` ran, once the process is told to end: SIGINT, SIGTERM, or the parent that
 * started it (through an IPC channel) going away, so that no child outlives the platform. A
 * second signal exits at once.
 */
export function onShutdown(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const run = () => {
      if (stopping) process.exit(130);
      stopping = true;
      stop().then(resolve, (err: unknown) => {
        process.stderr.write(`INTERNAL: stop failed: ${(err as Error).message}\n`);
        process.exitCode = 1;
        resolve();
      });
    };
    process.on('SIGINT', run);
    process.on('SIGTERM', run);
    if (process.send) process.on('disconnect', run);
  });
}
