import { createConnection } from 'node:net';
import { StorageError } from '../provisioner.ts';
import { splitAddress } from './addresses.ts';

/** What a connection to a resource's servers authenticates with (SASL PLAIN). */
export interface SaslLogin {
  username: string;
  password: string;
}

/** Opcodes of memcached's binary protocol used here. */
const VERSION = 0x0b;
const STAT = 0x10;
const SASL_AUTH = 0x21;
/** The status memcached answers a refused login, and any command before a login, with. */
const AUTH_ERROR = 0x20;

/** A server that refused the login: its credentials are not these (or its SASL setup is broken). */
export class LoginRefusedError extends StorageError {
  readonly loginRefused = true;
  constructor(address: string, username: string) {
    super(
      'STORAGE_UNAVAILABLE',
      `memcached at ${address} refused the credentials of ${username}: they are not this resource's, or its server cannot read its SASL files; ` +
        'fetch the credentials again (`squadron storage credentials NAME`), or restart the resource',
    );
  }
}

interface Reply {
  status: number;
  key: string;
  value: string;
}

/**
 * The server's version, asked after logging in, over the binary protocol (the only one the
 * servers take). Rejects with LoginRefusedError when the login is refused, and with a plain
 * Error when the server does not answer in time.
 *
 * @example await memcachedVersion('127.0.0.1:41211', login) // '1.6.18'
 */
export async function memcachedVersion(address: string, login: SaslLogin, timeoutMs = 500): Promise<string> {
  const [reply] = await loggedIn(address, login, request(VERSION, ''), timeoutMs, (r) => r.length >= 1);
  return reply?.value ?? '';
}

/**
 * The server's `stats` (or a group of them, such as `settings`) as a record, after logging in.
 *
 * @example (await memcachedStats('127.0.0.1:41211', login, 'settings')).maxbytes // '8388608'
 */
export async function memcachedStats(address: string, login: SaslLogin, group = '', timeoutMs = 500): Promise<Record<string, string>> {
  // The server sends one reply per statistic, and an empty key last.
  const replies = await loggedIn(address, login, request(STAT, group), timeoutMs, (r) => r.at(-1)?.key === '');
  return Object.fromEntries(replies.filter((r) => r.key !== '').map((r) => [r.key, r.value]));
}

/** Logs in with SASL PLAIN, then sends `command` and collects replies until `complete` says so. */
function loggedIn(address: string, login: SaslLogin, command: Buffer, timeoutMs: number, complete: (replies: Reply[]) => boolean): Promise<Reply[]> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    let authenticated = false;
    const replies: Reply[] = [];
    const socket = createConnection({ host, port });
    const done = (err: Error | null) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(replies);
    };
    const timer = setTimeout(() => done(new Error(`memcached at ${address} did not answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (err) => done(err));
    socket.on('close', () => done(new Error(`memcached at ${address} closed the connection`)));
    socket.on('connect', () => socket.write(request(SASL_AUTH, 'PLAIN', `\0${login.username}\0${login.password}`)));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (let reply = takeReply(); reply; reply = takeReply()) {
        if (!authenticated) {
          if (reply.status === AUTH_ERROR) return done(new LoginRefusedError(address, login.username));
          if (reply.status !== 0) return done(new Error(`memcached at ${address} answered the login with status ${reply.status}: ${reply.value}`));
          authenticated = true;
          socket.write(command);
          continue;
        }
        if (reply.status !== 0) return done(new Error(`memcached at ${address} refused a command with status ${reply.status}: ${reply.value}`));
        replies.push(reply);
        if (complete(replies)) return done(null);
      }
    });

    /** The next whole reply in the buffer, or null: 24 bytes of header, then extras, key and value. */
    function takeReply(): Reply | null {
      if (buffer.length < 24) return null;
      const length = 24 + buffer.readUInt32BE(8);
      if (buffer.length < length) return null;
      const keyStart = 24 + buffer[4]!;
      const keyEnd = keyStart + buffer.readUInt16BE(2);
      const reply = { status: buffer.readUInt16BE(6), key: buffer.toString('latin1', keyStart, keyEnd), value: buffer.toString('utf8', keyEnd, length) };
      buffer = buffer.subarray(length);
      return reply;
    }
  });
}

/** One request: the 24-byte header (magic 0x80, the opcode, lengths), then the key and value. */
function request(opcode: number, key: string, value = ''): Buffer {
  const k = Buffer.from(key, 'latin1');
  const v = Buffer.from(value, 'utf8');
  const header = Buffer.alloc(24);
  header[0] = 0x80;
  header[1] = opcode;
  header.writeUInt16BE(k.length, 2);
  header.writeUInt32BE(k.length + v.length, 8);
  return Buffer.concat([header, k, v]);
}
