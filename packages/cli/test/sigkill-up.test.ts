import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { alive, startSquadron, startTestPlatform, waitFor, type TestPlatform } from '@squadron/testkit';

/** Every process below `root` now, found by walking the parent links in /proc. */
function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parentOf.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Gone meanwhile.
    }
  }
  const found = new Set<number>([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parentOf) {
      if (!found.has(pid) && found.has(ppid)) {
        found.add(pid);
        grew = true;
      }
    }
  }
  found.delete(root);
  return [...found];
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The ports a resource's credentials name (`host:port` in addresses and URLs, `port` fields). */
const portsIn = (credentials: unknown): number[] =>
  [...JSON.stringify(credentials).matchAll(/(?::|"port":)(\d{2,5})\b/g)].map((m) => Number(m[1]));

/**
 * `squadron up` killed with SIGKILL has no chance to stop what it started: its brokers, agents
 * and instances see their IPC channel close, and its storage servers (PostgreSQL, memcached, kv)
 * must go too, not run on under init; a new `up` on the same data directory then starts cleanly,
 * its storage with it.
 */
describe('squadron up killed with SIGKILL', () => {
  let platform: TestPlatform | null = null;
  let again: ReturnType<typeof startSquadron> | null = null;

  after(async () => {
    await again?.stop('SIGTERM');
    await platform?.stop();
  });

  it('leaves nothing running, storage servers included, and a new up on its data directory starts cleanly', async (t) => {
    platform = await startTestPlatform('sigkill', { config: 'sites:\n  - name: sto\n    kind: datacenter\n' });
    const { api, dataDir, env } = platform;
    await api.createSquad('keepers');
    await api.createService({ name: 'keeper', squad: 'keepers' });
    const kinds = { 'kill-pg': 'postgres', 'kill-mc': 'memcached', 'kill-kv': 'kv' } as const;
    for (const [name, kind] of Object.entries(kinds)) await api.createStorage({ name, kind, service: 'keeper', sites: ['sto'] });
    for (const name of Object.keys(kinds)) await waitFor(async () => (await api.storage(name)).status === 'ready', `storage ${name} ready`, 90_000);
    const ports = (await Promise.all(Object.keys(kinds).map(async (name) => portsIn((await api.storageCredentials(name)).credentials)))).flat();
    assert.ok(ports.length >= 3, `ports of the three servers: ${ports.join(', ')}`);
    for (const port of ports) assert.ok(await listening(port), `a server listens on ${port}`);

    const upPid = platform.up.child.pid!;
    const started = descendants(upPid);
    t.diagnostic(`squadron up ${upPid} started ${started.length} processes; servers on ${ports.join(', ')}`);
    platform.up.child.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor(async () => {
      const left = started.filter(alive);
      const open = (await Promise.all(ports.map(async (p) => ((await listening(p)) ? [p] : [])))).flat();
      return left.length === 0 && open.length === 0;
    }, `every process squadron up started to end, and its ports to close (left: ${started.filter(alive).join(', ')})`, 10_000, 50);
    t.diagnostic(`all gone ${Date.now() - killedAt} ms after the SIGKILL`);

    // The same data directory again: it starts, and the storage comes back with it.
    again = startSquadron(['up', '--port', '0'], env);
    await again.waitFor(/squadron ready/, 60_000);
    const url = JSON.parse(readFileSync(`${dataDir}/platform.json`, 'utf8')) as { url: string };
    assert.ok(url.url.startsWith('http://'));
    for (const port of ports) await waitFor(() => listening(port), `the server on ${port} back after the new up`, 60_000);
    assert.doesNotMatch(again.stdout() + again.stderr(), /STARTUP_FAILED|in use/);
    assert.equal(await again.stop('SIGTERM'), 0);
    again = null;
    rmSync(dataDir, { recursive: true, force: true });
  });
});
