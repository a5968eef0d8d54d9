export { Connection, DEFAULT_MAX_BACKLOG_BYTES } from './connection.ts';
export type { ConnectionOptions, FrameListener } from './connection.ts';
export { acceptHandshake, connectHandshake, sendReauth, HANDSHAKE_TIMEOUT_MS } from './handshake.ts';
export type { AuthSource } from './handshake.ts';
export type { AcceptOptions, Handshaken } from './handshake.ts';
export { Backoff } from './backoff.ts';
export { parseEndpoint, formatEndpoint, dial, listen } from './address.ts';
export type { Endpoint } from './address.ts';
