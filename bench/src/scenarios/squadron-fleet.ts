// Many idle services on one machine: `squadron up` with one datacenter site, N one-method
// services deployed with `squadron deploy --no-wait` (a few commands at once, as a script would),
// then timed until every instance answers; then, with nothing called, each instance's resident
// memory and the CPU of the whole platform (every process of its tree) over a quiet window. The
// floor: N bare Node processes, each a TCP server answering one request, started the same way.
//   probe: { services, dataDir, idleMs } -> fleet FleetResult
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@squadron/sdk';
import { ControlClient } from '@squadron/client';
import { Identity } from '@squadron/identity';
import { SQUADRON_BIN } from '@squadron/testkit';
import { childMain, config, onStop, send } from '../child.ts';
import { writeService } from './service-folder.ts';
import type { FleetResult } from '../ipc.ts';

interface Plan {
  services: number;
  dataDir: string;
  idleMs: number;
}

const SITE = 'sto';
/** Deploy commands run at once: a script deploying a fleet would not run them one by one. */
const DEPLOYS_AT_ONCE = 4;
const CLK_TCK = 100;

function run(args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SQUADRON_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`squadron ${args.join(' ')} exited ${code ?? signal}: ${out.slice(-3000)}`))));
  });
}

/** Every pid below `root` (itself included), from /proc. */
function tree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // Gone meanwhile.
    }
  }
  const all: number[] = [];
  for (const todo = [root]; todo.length > 0;) {
    const pid = todo.pop()!;
    all.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return all;
}

/** utime + stime of a process, in clock ticks (0 once gone). */
function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

function rss(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** CPU of `pids` over `ms` of quiet, in % of one core. */
async function idleCpu(pids: () => number[], ms: number): Promise<number> {
  const before = new Map(pids().map((p) => [p, cpuTicks(p)]));
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const elapsed = (performance.now() - t0) / 1000;
  let ticks = 0;
  for (const p of pids()) ticks += cpuTicks(p) - (before.get(p) ?? 0);
  return (ticks / CLK_TCK / elapsed) * 100;
}

async function pool<T>(items: T[], atOnce: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: atOnce }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

const FLOOR_SERVER = `
const net = require('node:net');
const server = net.createServer((s) => s.on('data', () => s.write('pong\\n')));
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('disconnect', () => process.exit(0));
`;

/** N bare Node servers: time until every one listens and answers, their memory and idle CPU. */
async function floor(n: number, idleMs: number): Promise<FleetResult['floor']> {
  const children: ChildProcess[] = [];
  onStop(() => children.forEach((c) => c.kill('SIGKILL')));
  const t0 = performance.now();
  await pool(Array.from({ length: n }, (_, i) => i), DEPLOYS_AT_ONCE, async () => {
    const child = spawn(process.execPath, ['-e', FLOOR_SERVER], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    children.push(child);
    const { port } = await new Promise<{ port: number }>((resolve) => child.once('message', (m) => resolve(m as { port: number })));
    const net = await import('node:net');
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('ping\n'));
      s.once('data', () => { s.end(); resolve(); });
      s.once('error', reject);
    });
  });
  const readyAllMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 3000));
  const sizes = children.map((c) => rss(c.pid!));
  const cpu = await idleCpu(() => children.map((c) => c.pid!), idleMs);
  for (const c of children) c.kill('SIGTERM');
  return { readyAllMs, rssBytes: sizes.reduce((a, b) => a + b, 0) / sizes.length, rssMaxBytes: Math.max(...sizes), idleCpuPercent: cpu };
}

async function probe(): Promise<void> {
  const { services: n, dataDir, idleMs } = config<Plan>();
  const env = { SQUADRON_DATA_DIR: dataDir, SQUADRON_LOG_LEVEL: 'warn' };
  const configFile = join(dataDir, 'platform.yaml');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(configFile, `sites:\n  - name: ${SITE}\n    kind: datacenter\n    slots: ${n + 8}\n`);
  const up = spawn(process.execPath, [SQUADRON_BIN, 'up', '--port', '0', '--config', configFile], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  onStop(async () => {
    up.kill('SIGINT');
    await new Promise((r) => up.once('exit', r));
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const seen = (d: Buffer) => {
      out += d.toString();
      if (/squadron ready/.test(out)) resolve();
    };
    up.stdout!.on('data', seen);
    up.stderr!.on('data', seen);
    up.once('exit', (code) => reject(new Error(`squadron up exited (${code}): ${out.slice(-1000)}`)));
  });
  const url = JSON.parse(readFileSync(join(dataDir, 'platform.json'), 'utf8')).url as string;
  const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  const api = new ControlClient({ url, token });
  await api.createSquad('fleet');
  const names = Array.from({ length: n }, (_, i) => `idle-${String(i).padStart(3, '0')}`);
  const folders = mkdtempSync(join(tmpdir(), 'squadron-bench-fleet-'));
  chmodSync(folders, 0o755);
  onStop(() => rmSync(folders, { recursive: true, force: true }));
  for (const name of names) {
    await api.createService({ name, squad: 'fleet' });
    writeService(folders, name);
  }

  const t0 = performance.now();
  await pool(names, DEPLOYS_AT_ONCE, (name) => run(['deploy', name, '--path', join(folders, name), '--sites', SITE, '--no-wait'], env));
  const deployCommandsMs = performance.now() - t0;
  const broker = (await api.sites()).sites.find((s) => s.name === SITE)!.broker!.address;
  const key = Identity.newKey();
  const identity = new Identity((await api.clientCredential(key.publicJwk, { site: SITE, name: 'bench-fleet' })).credential, key.privateKey);
  const client = await connect({ site: SITE, broker, name: 'bench-fleet', identity });
  onStop(() => client.close());
  // Ready means answering: each service's first successful call.
  await pool(names, 8, async (name) => {
    for (;;) {
      if (await client.call(name, 'ping', null, { timeoutMs: 1000 }).then(() => true, () => false)) return;
      if (performance.now() - t0 > 600_000) throw new Error(`${name}: not answering after 10 minutes`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  const deployAllMs = performance.now() - t0;
  await client.close();

  // Quiet: nothing is called; the platform only keeps itself alive.
  await new Promise((r) => setTimeout(r, 5000));
  const pids = (await Promise.all(names.map((s) => api.instances(s)))).flatMap((r) => r.instances.flatMap((i) => (i.pid ? [i.pid] : [])));
  const sizes = pids.map(rss).filter((b) => b > 0);
  const idleCpuPercent = await idleCpu(() => tree(up.pid!), idleMs);
  up.kill('SIGINT');
  await new Promise((r) => up.once('exit', r));

  const result: FleetResult = {
    services: n, deployAllMs, deployCommandsMs,
    instanceRssBytes: sizes.reduce((a, b) => a + b, 0) / sizes.length, instanceRssMaxBytes: Math.max(...sizes), idleCpuPercent,
    floor: await floor(n, idleMs),
  };
  send({ type: 'fleet', result });
}

childMain(probe);
