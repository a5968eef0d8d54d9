import { randomBytes } from 'node:crypto';
import {
  FrameKind, PROTOCOL_VERSION, ProtocolError, decode, errorFromWire, asAuth, asHello, asReady,
  type AuthBody, type HelloBody, type ReadyBody,
} from '@squadron/protocol';
import type { Connection } from './connection.ts';

export const HANDSHAKE_TIMEOUT_MS = 2000;

export interface AcceptOptions {
  site: string;
  server: HelloBody['server'];
  /** Sites in configured order, sent in Ready. */
  sites: () => string[];
  timeoutMs?: number;
  /** Checks the peer's claims against the nonce; throws a typed error to refuse. */
  verify?: (auth: AuthBody, nonce: string) => void | Promise<void>;
}

/**
 * Accepting side: send Hello with a fresh nonce, wait for Auth, answer Ready. Until then, any
 * other frame closes the connection; so does silence past the timeout.
 */
export function acceptHandshake(conn: Connection, options: AcceptOptions): Promise<AuthBody> {
  const nonce = randomBytes(18).toString('base64');
  const hello: HelloBody = { version: PROTOCOL_VERSION, nonce, site: options.site, server: options.server };
  conn.hello = hello;
  conn.sendValue(FrameKind.Hello, 0, hello);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const err = new ProtocolError(`handshake not completed within ${options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS} ms`);
      conn.protocolViolation(err);
      reject(err);
    }, options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS);
    conn.onClose((err) => {
      clearTimeout(timer);
      reject(err);
    });
    conn.onFrame = (kind, _id, body) => {
      conn.onFrame = () => {}; // one frame only until verified
      if (kind !== FrameKind.Auth) throw new ProtocolError('no frame is accepted before the handshake completes');
      const auth = asAuth(decode(body));
      Promise.resolve()
        .then(() => options.verify?.(auth, nonce))
        .then(() => {
          clearTimeout(timer);
          const ready: ReadyBody = { sites: options.sites() };
          conn.sendValue(FrameKind.Ready, 0, ready);
          resolve(auth);
        })
        .catch((err: unknown) => {
          clearTimeout(timer);
          conn.protocolViolation(err);
          reject(err);
        });
    };
  });
}

export interface Handshaken {
  hello: HelloBody;
  ready: ReadyBody;
}

/** What the connecting side says in Auth: fixed, or made from Hello (to sign its nonce). */
export type AuthSource = Omit<AuthBody, 'version'> | ((hello: HelloBody) => Omit<AuthBody, 'version'>);

/** Connecting side: wait for Hello, send Auth, wait for Ready. */
export function connectHandshake(
  conn: Connection,
  auth: AuthSource,
  timeoutMs = HANDSHAKE_TIMEOUT_MS,
): Promise<Handshaken> {
  return new Promise((resolve, reject) => {
    let hello: HelloBody | null = null;
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new ProtocolError(`handshake with ${conn.remote} not completed within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.onClose((err) => {
      clearTimeout(timer);
      reject(err);
    });
    conn.onFrame = (kind, _id, body) => {
      if (kind === FrameKind.Goaway) {
        const [code, message, details] = decode(body) as [string, string, Record<string, unknown> | undefined];
        clearTimeout(timer);
        reject(errorFromWire([code, message, false, details ?? null]));
        return;
      }
      if (hello === null) {
        if (kind !== FrameKind.Hello) throw new ProtocolError('expected Hello as the first frame');
        hello = asHello(decode(body));
        conn.hello = hello;
        const fields = typeof auth === 'function' ? auth(hello) : auth;
        conn.sendValue(FrameKind.Auth, 0, { version: PROTOCOL_VERSION, ...fields } satisfies AuthBody);
        return;
      }
      if (kind !== FrameKind.Ready) throw new ProtocolError('expected Ready after Auth');
      clearTimeout(timer);
      conn.onFrame = () => {};
      resolve({ hello, ready: asReady(decode(body)) });
    };
  });
}

/**
 * Prove a renewed credential on a connection that is open already (connecting side): an Auth
 * made as for the handshake, over the same Hello, sent as Reauth. The accepting side checks it
 * like the first and keeps the connection open past the old credential's expiry.
 */
export function sendReauth(conn: Connection, auth: AuthSource): void {
  if (conn.hello === null || conn.closed || typeof auth !== 'function') return;
  conn.sendValue(FrameKind.Reauth, 0, { version: PROTOCOL_VERSION, ...auth(conn.hello) } satisfies AuthBody);
}
