import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { SQUADRON_BIN } from '@squadron/testkit';

/** A free TCP port on loopback, for a broker that must come back on the same address. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A broker process that can be killed and started again on the same address and data: the
 * subject of the crash checks.
 */
export class KillableBroker {
  private child: ChildProcess | null = null;
  kills = 0;

  constructor(readonly address: string, private readonly dataDir: string, private readonly powerLoss: boolean) {}

  async start(): Promise<void> {
    const child = fork(SQUADRON_BIN, ['broker', '--site', 'chaos', '--listen', this.address, '--data-dir', this.dataDir], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, SQUADRON_LOG_LEVEL: 'error', ...(this.powerLoss ? { SQUADRON_FAULT_POWER_LOSS: '1' } : {}) },
    });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`broker exited (${code}) while starting`)));
      child.on('message', (m: { type?: string }) => {
        if (m?.type === 'ready') resolve();
      });
    });
  }

  /** SIGKILL: no shutdown code runs; with the power-loss hook, unsynced writes are lost too. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
    this.kills++;
  }

  async stop(): Promise<void> {
    await this.kill();
    this.child = null;
  }
}
