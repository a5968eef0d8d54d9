import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alive, silent, waitFor } from '@squadron/testkit';
import { MemcachedClient, MemcachedProvisioner, StorageError, findMemcached, memcachedStats, type MemcachedState, type StorageSpec } from '../src/index.ts';

const root = mkdtempSync(join(tmpdir(), 'squadron-memcached-'));
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

function resource(name: string, sites = ['sto', 'gcp-eu']) {
  const spec: StorageSpec = { name, kind: 'memcached', service: 'catalog', squad: 'shop', sites, primary: sites[0]!, sync: false };
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return { spec, ctx: { dir, log: silent } };
}

/** The server entries `describe` reports (pid, status, restarts...). */
async function servers(p: MemcachedProvisioner, spec: StorageSpec, state: MemcachedState, dir: string) {
  const d = await p.describe(spec, state, { dir, log: silent });
  return d.facts.servers as Array<{ site: string; address: string; up: boolean; pid?: number | null; status?: string; restarts?: number; restartInMs?: number | null }>;
}

const pidFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.pid')).map((f) => Number(readFileSync(join(dir, f), 'utf8')));

/** The watchdogs that end these servers with their platform: `/bin/sh -c SCRIPT watchdog PID ...`. */
function watchdogsOf(serverPids: number[]): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).filter((entry) => {
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      return argv[3] === 'watchdog' && serverPids.includes(Number(argv[4]));
    } catch {
      return false;
    }
  }).map(Number);
}

describe('memcached provisioner', () => {
  it('refuses to start without the memcached binary, naming the package to install, and leaves nothing', async () => {
    const p = new MemcachedProvisioner({ binary: join(root, 'no-such-memcached') });
    const { spec, ctx } = resource('no-binary');
    await assert.rejects(p.create(spec, ctx), (err: unknown) =>
      err instanceof StorageError && err.code === 'MISSING_BINARY' && /Debian package 'memcached'/.test(err.message) && /apt-get install memcached/.test(err.message));
    assert.deepEqual(readdirSync(ctx.dir), []);
  });

  it('refuses to start without saslpasswd2, naming the packages to install, and leaves nothing', async () => {
    const p = new MemcachedProvisioner({ saslpasswd2: join(root, 'no-such-saslpasswd2') });
    const { spec, ctx } = resource('no-saslpasswd2');
    await assert.rejects(p.create(spec, ctx), (err: unknown) =>
      err instanceof StorageError && err.code === 'MISSING_BINARY' && /apt-get install sasl2-bin libsasl2-modules/.test(err.message));
    assert.deepEqual(readdirSync(ctx.dir), []);
  });

  it('keeps the SASL files where the servers\' user can read them even when it cannot enter the data folder, and destroy removes them', async () => {
    // This test's folder is 0700: as root, the servers' user (memcache) cannot pass through it.
    const p = new MemcachedProvisioner({ memoryMb: 8 });
    const { spec, ctx } = resource('closed-folder', ['sto']);
    const state = await p.create(spec, ctx);
    const [{ pid }] = (await p.describe(spec, state, ctx)).facts.servers as [{ pid: number }];
    const confDir = /SASL_CONF_PATH=([^\0]*)/.exec(readFileSync(`/proc/${pid}/environ`, 'utf8'))?.[1] ?? '';
    if (process.getuid?.() === 0) assert.match(confDir, /^\/run\/squadron-memcached\/closed-folder-[0-9a-f]{10}$/);
    else assert.equal(confDir, join(ctx.dir, 'sasl'));
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    assert.deepEqual(readdirSync(confDir).map((f) => [f, statSync(join(confDir, f)).uid, statSync(join(confDir, f)).mode & 0o777]).sort(), [['memcached.conf', uid, 0o600], ['sasldb', uid, 0o600]]);
    const cache = new MemcachedClient({ credentials: p.credentials(spec, state), site: 'sto' });
    await cache.set('k', 'v');
    assert.equal((await cache.get('k'))?.toString(), 'v');
    cache.close();
    await p.destroy(spec, state, ctx);
    assert.equal(existsSync(confDir), false, 'destroy takes the SASL files with it');
  });

  it('runs perSite servers in each site, as a user other than root, with the memory limit; a stop empties the cache', async () => {
    const p = new MemcachedProvisioner({ perSite: 2, memoryMb: 8 });
    const { spec, ctx } = resource('two-per-site');
    let state = await p.create(spec, ctx);
    cleanups.push(() => p.destroy(spec, state, ctx));
    const { servers: bySite } = p.credentials(spec, state);
    assert.deepEqual(Object.keys(bySite), ['sto', 'gcp-eu']);
    assert.equal(new Set(Object.values(bySite).flat()).size, 4, 'four servers on four ports');

    const { username, password } = p.credentials(spec, state);
    for (const s of await servers(p, spec, state, ctx.dir)) {
      assert.equal(s.up, true);
      const settings = await memcachedStats(s.address, { username, password }, 'settings');
      assert.equal(settings.maxbytes, String(8 * 1024 * 1024), `${s.address} has -m 8`);
      assert.equal(settings.udpport, '0', 'no UDP');
      assert.equal(settings.auth_enabled_sasl, 'yes', 'a login required');
      assert.equal(settings.binding_protocol, 'binary', 'the binary protocol only: the text protocol has no login');
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${s.pid}/status`, 'utf8'))?.[1];
      if (process.getuid?.() === 0) assert.notEqual(uid, '0', `${s.address} does not run as root`);
    }

    const cache = new MemcachedClient({ credentials: p.credentials(spec, state), site: 'sto' });
    after(() => cache.close());
    await cache.set('greeting', 'hej');
    assert.equal((await cache.get('greeting'))?.toString(), 'hej');
    await p.stop(spec, state, ctx);
    state = await p.start(spec, state, ctx);
    assert.deepEqual(p.credentials(spec, state).servers, bySite, 'the same ports after a stop and a start');
    assert.equal(await cache.get('greeting'), null, 'a cache starts empty');
  });

  it('restarts a server that dies on the same port, with doubling delays while it cannot start', async () => {
    // The machine's memcached behind a script that fails while a flag file exists.
    const flag = join(root, 'refuse-to-start');
    const binary = join(root, 'memcached-or-fail');
    writeFileSync(binary, `#!/bin/sh\n[ -e '${flag}' ] && exit 1\nexec '${findMemcached()}' "$@"\n`, { mode: 0o755 });
    const p = new MemcachedProvisioner({ binary, restart: { minMs: 200, maxMs: 800, stableMs: 60_000 } });
    const { spec, ctx } = resource('restarts', ['sto']);
    const state = await p.create(spec, ctx);
    cleanups.push(() => p.destroy(spec, state, ctx));
    const [first] = await servers(p, spec, state, ctx.dir);
    const pid = first!.pid!;

    writeFileSync(flag, '');
    process.kill(pid, 'SIGKILL');
    const delays = new Set<number>();
    await waitFor(async () => {
      const [s] = await servers(p, spec, state, ctx.dir);
      if (s!.restartInMs) delays.add(s!.restartInMs);
      return delays.has(800) && s!.restarts! >= 3;
    }, 'three failed restarts, the delay doubling to its cap', 10_000, 20);
    // Sampled every 20 ms: a loaded machine may miss the shortest, never see one off the doubling.
    const seen = [...delays].sort((a, b) => a - b);
    assert.ok(seen.length >= 2 && seen.every((d) => [200, 400, 800].includes(d)), `restart delays ${seen.join(', ')} ms`);
    assert.equal((await p.describe(spec, state, ctx)).sites[0]!.up, false);

    // Once it can start again, the next try brings it back where clients expect it.
    rmSync(flag);
    const [back] = await waitFor(async () => {
      const list = await servers(p, spec, state, ctx.dir);
      return list[0]!.up && list[0]!.status === 'up' ? list : null;
    }, 'the server back on its port', 5_000);
    assert.equal(back!.address, `127.0.0.1:${state.servers[0]!.port}`);
    assert.notEqual(back!.pid, pid);
  });

  it('start after the platform was killed ends the servers it left behind and runs new ones on the same ports', async () => {
    const { spec, ctx } = resource('platform-killed');
    // The platform, in a process of its own, creates the resource and is then killed outright.
    const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url));
    const script = `
      import pino from 'pino';
      import { MemcachedProvisioner } from ${JSON.stringify(entry)};
      const p = new MemcachedProvisioner();
      const state = await p.create(${JSON.stringify(spec)}, { dir: ${JSON.stringify(ctx.dir)}, log: pino({ level: 'silent' }) });
      process.stdout.write(JSON.stringify(state) + '\\n');
      setInterval(() => {}, 1000);
    `;
    const platform = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    platform.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const kept = JSON.parse(await waitFor(() => out.split('\n')[0]?.trim(), 'the platform\'s state', 20_000)) as MemcachedState;
    // Each server has a watchdog that ends it with the platform (the SIGKILL test of squadron up
    // covers that); here they go first, as with a platform that had none, so its servers stay behind.
    const watchdogs = watchdogsOf(pidFiles(ctx.dir));
    assert.equal(watchdogs.length, 2, 'a watchdog per server');
    for (const pid of watchdogs) process.kill(pid, 'SIGKILL');
    platform.kill('SIGKILL');
    await waitFor(() => platform.exitCode !== null || platform.signalCode !== null, 'the platform killed', 5_000);
    const orphans = pidFiles(ctx.dir);
    assert.equal(orphans.length, 2);
    assert.ok(orphans.every(alive), 'its servers outlive it');
    cleanups.push(() => Promise.resolve(orphans.forEach((pid) => alive(pid) && process.kill(pid, 'SIGKILL'))));

    // The restarted platform had not kept the state yet: create again finds it in the folder.
    const p = new MemcachedProvisioner();
    const state = await p.create(spec, ctx);
    cleanups.push(() => p.destroy(spec, state, ctx));
    assert.deepEqual(state, kept, 'the same servers on the same ports');
    for (const pid of orphans) assert.equal(alive(pid), false, `the left-behind server ${pid} is ended`);
    const running = await servers(p, spec, state, ctx.dir);
    assert.ok(running.every((s) => s.up && s.status === 'up' && !orphans.includes(s.pid!)), 'new servers, supervised');
    assert.deepEqual(await p.start(spec, state, ctx), state, 'start changes nothing now');

    const pids = running.map((s) => s.pid!);
    await p.destroy(spec, state, ctx);
    assert.ok(pids.every((pid) => !alive(pid)), 'destroy ends them');
    assert.equal(existsSync(ctx.dir), false);
  });
});
