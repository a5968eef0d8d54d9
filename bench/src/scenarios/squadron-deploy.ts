// Deploy to first call. Runs `squadron up` (a control plane, a broker and an agent per site),
// then, for each of `rounds` fresh services, times from the start of `squadron deploy` (the
// CLI, as a user types it) to the first successful call of the new service; and, as the floor,
// from the start of `squadron run` by hand (the same runner the agent uses, no control plane)
// to its first successful call.
//   probe: { rounds, dataDir } -> deployed { deployMs[], floorMs[], apiMs[] }
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, NoInstancesError, type Client } from '@squadron/sdk';
import { ControlClient } from '@squadron/client';
import { Identity } from '@squadron/identity';
import { SQUADRON_BIN } from '@squadron/testkit';
import { childMain, config, onStop, send } from '../child.ts';
import { writeService } from './service-folder.ts';

interface Plan {
  rounds: number;
  dataDir: string;
}

const SITE = 'sto';
const FIRST_CALL_CAP_MS = 30_000;

function squadron(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [SQUADRON_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Poll the service with calls until one succeeds; the time it took from `t0`. */
async function firstCall(client: Client, service: string, t0: number): Promise<number> {
  for (;;) {
    try {
      await client.call(service, 'ping', null, { timeoutMs: 1000 });
      return performance.now() - t0;
    } catch (err) {
      if (!(err instanceof NoInstancesError)) throw err;
    }
    if (performance.now() - t0 > FIRST_CALL_CAP_MS) throw new Error(`${service}: no successful call within ${FIRST_CALL_CAP_MS} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function probe(): Promise<void> {
  const { rounds, dataDir } = config<Plan>();
  const env = { SQUADRON_DATA_DIR: dataDir, SQUADRON_LOG_LEVEL: 'warn' };
  const up = squadron(['up', '--port', '0'], env);
  onStop(async () => {
    up.kill('SIGINT');
    await exited(up);
  });
  let out = '';
  up.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  up.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const check = () => (/squadron ready/.test(out) ? resolve() : undefined);
    up.stdout!.on('data', check);
    up.once('exit', (code) => reject(new Error(`squadron up exited (${code}): ${out}`)));
  });
  const url = JSON.parse(readFileSync(join(dataDir, 'platform.json'), 'utf8')).url as string;
  const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  const api = new ControlClient({ url, token });
  const broker = (await api.sites()).sites.find((s) => s.name === SITE)!.broker!.address;
  // The platform's brokers and instances check who connects: the probe gets a client credential.
  const key = Identity.newKey();
  const identity = new Identity((await api.clientCredential(key.publicJwk, { site: SITE, name: 'bench-deploy' })).credential, key.privateKey);
  const client = await connect({ site: SITE, broker, name: 'bench-deploy', identity });
  onStop(() => client.close());
  await api.createSquad('bench');
  // Outside the platform's private data directory, and readable by the squad's OS user that runs the instances.
  const services = mkdtempSync(join(tmpdir(), 'squadron-bench-services-'));
  chmodSync(services, 0o755);
  onStop(() => rmSync(services, { recursive: true, force: true }));

  const deployMs: number[] = [];
  const apiMs: number[] = [];
  const floorMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Through the platform: the CLI records a release; the agent starts the instance.
    const name = `probe-${r}`;
    const dir = writeService(services, name);
    await api.createService({ name, squad: 'bench' });
    const t0 = performance.now();
    const cli = squadron(['deploy', name, '--path', dir, '--sites', SITE, '--instances', '1', '--no-wait'], env);
    let cliErr = '';
    cli.stderr!.on('data', (d: Buffer) => (cliErr += d.toString()));
    const [ms, code] = await Promise.all([firstCall(client, name, t0), exited(cli)]);
    if (code !== 0) throw new Error(`squadron deploy exited ${code}: ${cliErr}`);
    deployMs.push(ms);

    // The same through the API directly (no CLI start-up).
    const apiName = `probe-api-${r}`;
    const apiDir = writeService(services, apiName);
    await api.createService({ name: apiName, squad: 'bench' });
    const t1 = performance.now();
    await api.deploy(apiName, { path: apiDir, sites: [SITE], instances: 1 });
    apiMs.push(await firstCall(client, apiName, t1));

    // Floor: the runner started by hand, given the broker's address.
    const floorName = `probe-floor-${r}`;
    const floorDir = writeService(services, floorName);
    await api.createService({ name: floorName, squad: 'bench' });
    // Given everything an agent would give it: the broker's address, an identity, the keys that verify callers.
    const floorKey = Identity.newKey();
    const floorId = `${floorName}-1`;
    const floorCredential = await api.ownInstanceCredential(floorName, floorId, SITE, floorKey.publicJwk);
    const floorEnv = { ...env, ...Identity.toEnv(floorCredential.credential, floorKey.privateKey), SQUADRON_TRUST: JSON.stringify(await api.jwks()) };
    const t2 = performance.now();
    const run = squadron(['run', floorDir, '--site', SITE, '--broker', broker, '--instance-id', floorId], floorEnv);
    floorMs.push(await firstCall(client, floorName, t2));
    run.kill('SIGTERM');
    await exited(run);
  }
  send({ type: 'deployed', result: { deployMs, apiMs, floorMs } });
}

childMain(probe);
