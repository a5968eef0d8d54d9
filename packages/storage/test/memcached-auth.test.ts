import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silent } from '@squadron/testkit';
import { MemcachedClient, MemcachedProvisioner, StorageError, type MemcachedCredentials, type MemcachedState, type StorageSpec } from '../src/index.ts';

// A hostile squad's handler runs on the same machine as every squad's memcached servers and can
// find their ports. Each of these tests is what it tries, over a raw socket as it would.

/** What memcached answered one binary-protocol request: its status and body, or that it closed the connection first. */
type Answer = { status: number; body: string } | 'closed';

const AUTH_ERROR = 0x20;

/** One request of memcached's binary protocol: a 24-byte header, then extras, key and value. */
function request(opcode: number, key: string, value = '', extras = Buffer.alloc(0)): Buffer {
  const k = Buffer.from(key);
  const v = Buffer.from(value, 'latin1');
  const header = Buffer.alloc(24);
  header[0] = 0x80;
  header[1] = opcode;
  header.writeUInt16BE(k.length, 2);
  header[4] = extras.length;
  header.writeUInt32BE(extras.length + k.length + v.length, 8);
  return Buffer.concat([header, extras, k, v]);
}

const get = (key: string) => request(0x00, key);
const set = (key: string, value: string) => request(0x01, key, value, Buffer.alloc(8));
const saslPlain = (username: string, password: string) => request(0x21, 'PLAIN', `\0${username}\0${password}`);

/** Sends each request once the previous one is answered, on one connection, and collects the answers. */
function exchange(address: string, requests: Buffer[]): Promise<Answer[]> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const answers: Answer[] = [];
    let buffer = Buffer.alloc(0);
    const socket = createConnection({ host, port });
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      while (answers.length < requests.length) answers.push('closed');
      resolve(answers);
    };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`memcached at ${address} neither answered nor closed within 3 s`));
    }, 3_000);
    socket.on('connect', () => socket.write(requests[0]!));
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 24 && buffer.length >= 24 + buffer.readUInt32BE(8)) {
        const length = 24 + buffer.readUInt32BE(8);
        const extras = buffer[4]!;
        const keyLength = buffer.readUInt16BE(2);
        answers.push({ status: buffer.readUInt16BE(6), body: buffer.subarray(24 + extras + keyLength, length).toString('latin1') });
        buffer = buffer.subarray(length);
        if (answers.length === requests.length) return finish();
        socket.write(requests[answers.length]!);
      }
    });
  });
}

/** What memcached answers a text-protocol command: the bytes it sent back, and whether it closed the connection. */
function textCommand(address: string, command: string): Promise<{ reply: string; closed: boolean }> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    let reply = '';
    const socket = createConnection({ host, port });
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ reply, closed });
    };
    // A server that takes the text protocol answers at once; one that refuses it closes the connection.
    const timer = setTimeout(() => done(false), 1_000);
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write(command));
    socket.on('data', (chunk: string) => (reply += chunk));
    socket.on('close', () => done(true));
    socket.on('error', () => done(true));
  });
}

describe('a memcached resource answers only its own credentials', () => {
  // As a platform keeps its data directory (0711 where it runs as root): its servers' user passes through.
  const root = mkdtempSync(join(tmpdir(), 'squadron-memcached-auth-'));
  chmodSync(root, 0o711);
  const provisioner = new MemcachedProvisioner({ memoryMb: 8 });
  const resource = (name: string, sites: string[]) => {
    const spec: StorageSpec = { name, kind: 'memcached', service: `${name}-owner`, squad: `${name}-squad`, sites, primary: sites[0]!, sync: false };
    const ctx = { dir: join(root, name), log: silent };
    mkdirSync(ctx.dir, { recursive: true });
    return { spec, ctx };
  };
  const vault = resource('vault', ['sto', 'gcp-eu']);
  const intruder = resource('intruder', ['sto']);
  let vaultState: MemcachedState;
  let intruderState: MemcachedState;
  let vaultCredentials: MemcachedCredentials;
  let intruderCredentials: MemcachedCredentials;
  let victim: string;
  const clients: MemcachedClient[] = [];
  const clientOf = (credentials: MemcachedCredentials, site = 'sto') => {
    const c = new MemcachedClient({ credentials, site });
    clients.push(c);
    return c;
  };

  before(async () => {
    vaultState = await provisioner.create(vault.spec, vault.ctx);
    intruderState = await provisioner.create(intruder.spec, intruder.ctx);
    vaultCredentials = provisioner.credentials(vault.spec, vaultState);
    intruderCredentials = provisioner.credentials(intruder.spec, intruderState);
    victim = vaultCredentials.servers.sto![0]!;
    await clientOf(vaultCredentials).set('balance', 'the owner\'s value');
  });

  after(async () => {
    for (const c of clients) c.close();
    if (vaultState) await provisioner.destroy(vault.spec, vaultState, vault.ctx);
    if (intruderState) await provisioner.destroy(intruder.spec, intruderState, intruder.ctx);
    rmSync(root, { recursive: true, force: true });
  });

  it('hands out a secret of its own with each resource\'s credentials', () => {
    for (const credentials of [vaultCredentials, intruderCredentials]) {
      assert.equal(typeof credentials.username, 'string');
      assert.match(credentials.password ?? '', /^[\w-]{32}$/, '24 random bytes, base64url');
    }
    assert.notEqual(vaultCredentials.password, intruderCredentials.password);
  });

  it('closes a text-protocol connection without a word: nothing read, nothing written', async () => {
    // Read as a binary header (24 bytes, the first 0x80): 'g' and 's' are not, and memcached hangs up.
    for (const command of ['get balance-of-the-owner-squad\r\n', 'set balance 0 0 6\r\nhacked\r\n']) {
      const { reply, closed } = await textCommand(victim, command);
      assert.equal(reply, '', `no answer to ${JSON.stringify(command)}`);
      assert.equal(closed, true, `the connection is closed after ${JSON.stringify(command)}`);
    }
  });

  it('answers a get or a set on a binary connection that did not log in with "Auth failure.", and hangs up', async () => {
    for (const first of [get('balance'), set('balance', 'hacked')]) {
      assert.deepEqual(await exchange(victim, [first, get('balance')]), [{ status: AUTH_ERROR, body: 'Auth failure.' }, 'closed']);
    }
  });

  it('refuses another resource\'s credentials with "Auth failure.", then the get or set that follows, and hangs up', async () => {
    const refused = { status: AUTH_ERROR, body: 'Auth failure.' };
    const intruderLogin = saslPlain(intruderCredentials.username, intruderCredentials.password);
    for (const next of [get('balance'), set('balance', 'hacked')]) {
      assert.deepEqual(await exchange(victim, [intruderLogin, next, get('balance')]), [refused, refused, 'closed']);
    }
    // Its own user name with another resource's password, and the other way round.
    for (const [username, password] of [[vaultCredentials.username, intruderCredentials.password], [intruderCredentials.username, vaultCredentials.password]] as const) {
      assert.deepEqual(await exchange(victim, [saslPlain(username, password), get('balance')]), [refused, refused], `${username} with the wrong password`);
    }
  });

  it('fails the client given another resource\'s credentials with STORAGE_UNAVAILABLE saying they were refused', async () => {
    const wrong = clientOf({ ...vaultCredentials, username: intruderCredentials.username, password: intruderCredentials.password });
    for (const attempt of [() => wrong.get('balance'), () => wrong.set('balance', 'hacked')]) {
      await assert.rejects(attempt(), (err: unknown) =>
        err instanceof StorageError && err.code === 'STORAGE_UNAVAILABLE' && /refused the credentials/.test(err.message) && err.message.includes(victim));
    }
  });

  it('leaves the owner\'s value as it was, and the owner reads and writes on every server', async () => {
    const owner = clientOf(vaultCredentials);
    assert.equal((await owner.get('balance'))?.toString(), 'the owner\'s value');
    const [auth, read] = await exchange(victim, [saslPlain(vaultCredentials.username, vaultCredentials.password), get('balance')]);
    assert.deepEqual(auth, { status: 0, body: 'Authenticated' });
    assert.equal(read !== undefined && read !== 'closed' && read.body, 'the owner\'s value');
    const eu = clientOf(vaultCredentials, 'gcp-eu');
    await eu.set('balance', 'in gcp-eu');
    assert.equal((await eu.get('balance'))?.toString(), 'in gcp-eu');
  });

  it('keeps the secret off command lines, and in files only the servers\' own user can read', async () => {
    const facts = (await provisioner.describe(vault.spec, vaultState, vault.ctx)).facts.servers as Array<{ pid: number }>;
    const folder = join(vault.ctx.dir, 'sasl');
    assert.equal(statSync(folder).mode & 0o777, 0o700);
    for (const { pid } of facts) {
      const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
      assert.ok(!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(vaultCredentials.password), 'not in the command line any user can read');
      assert.equal(statSync(folder).uid, uid, 'the folder is the server\'s user\'s');
      for (const file of readdirSync(folder)) {
        const st = statSync(join(folder, file));
        assert.deepEqual([file, st.mode & 0o777, st.uid], [file, 0o600, uid]);
      }
    }
    assert.deepEqual(readdirSync(folder).sort(), ['memcached.conf', 'sasldb']);
    assert.equal(statSync(join(vault.ctx.dir, 'memcached.json')).mode & 0o777, 0o600, 'the kept state holds the secret too');
  });

  it('gives a resource made before servers took credentials a secret at its next start, and closes it to others', async () => {
    const old = resource('made-earlier', ['sto']);
    const state = await provisioner.create(old.spec, old.ctx);
    await provisioner.stop(old.spec, state, old.ctx);
    // The state an earlier version kept: the servers, no secret.
    const earlier = { memoryMb: state.memoryMb, servers: state.servers } as MemcachedState;
    const restarted = new MemcachedProvisioner({ memoryMb: 8 });
    const started = await restarted.start(old.spec, earlier, old.ctx);
    after(() => restarted.destroy(old.spec, started, old.ctx));
    assert.match(started.secret ?? '', /^[\w-]{32}$/, 'a secret now, kept in the state the control plane stores');
    assert.deepEqual(started.servers, state.servers, 'on the same ports');
    const credentials = restarted.credentials(old.spec, started);
    assert.equal(credentials.password, started.secret);
    const [address] = credentials.servers.sto!;
    assert.deepEqual(await exchange(address!, [get('anything')]), [{ status: AUTH_ERROR, body: 'Auth failure.' }]);
    const owner = clientOf(credentials);
    await owner.set('fresh', 'works');
    assert.equal((await owner.get('fresh'))?.toString(), 'works');
  });
});
