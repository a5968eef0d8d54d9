// The floor: a bare Node `net` echo with a 4-byte big-endian length prefix, over TCP or a Unix
// socket. No codec, no ids, no timers: the client matches replies to calls in order. Anything a
// messaging layer adds shows up as the distance from this row.
//   server: { transport: 'tcp' | 'unix', path?: string }        -> ready { address }
//   client: { transport, address, calls, warmup, inFlight, payloadBytes } -> load
import net from 'node:net';
import { unlinkSync } from 'node:fs';
import { childMain, config, onStop, role, send } from '../child.ts';
import { payloadString, runLoad, type ClientConfig } from '../load.ts';

interface ServerConfig {
  transport: 'tcp' | 'unix';
  path?: string;
}

interface RawClientConfig extends ClientConfig {
  transport: 'tcp' | 'unix';
  /** Port (tcp) or socket path (unix). */
  address: string;
}

/**
 * Complete frames at the front of `buf`: returns the offset just past the last complete one.
 * `onFrame` runs once per frame.
 */
function scanFrames(buf: Buffer, onFrame: () => void): number {
  let off = 0;
  while (buf.length - off >= 4) {
    const len = buf.readUInt32BE(off);
    if (buf.length - off - 4 < len) break;
    off += 4 + len;
    onFrame();
  }
  return off;
}

/** Joins a partial frame left from the last chunk with the next chunk (rare: frames are tiny). */
function joined(rest: Buffer | null, chunk: Buffer): Buffer {
  return rest === null ? chunk : Buffer.concat([rest, chunk]);
}

const noop = () => {};

async function server(): Promise<void> {
  const cfg = config<ServerConfig>();
  const srv = net.createServer((sock) => {
    sock.setNoDelay(true);
    let rest: Buffer | null = null;
    sock.on('data', (chunk: Buffer) => {
      const buf = joined(rest, chunk);
      const end = scanFrames(buf, noop);
      // Complete frames are contiguous: echo them in one write, as-is.
      if (end > 0) sock.write(end === buf.length ? buf : buf.subarray(0, end));
      rest = end < buf.length ? buf.subarray(end) : null;
    });
    sock.on('error', noop);
  });
  if (cfg.transport === 'unix') {
    const path = cfg.path!;
    try { unlinkSync(path); } catch { /* nothing stale */ }
    await new Promise<void>((resolve) => srv.listen(path, resolve));
    send({ type: 'ready', address: path });
  } else {
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const addr = srv.address() as net.AddressInfo;
    send({ type: 'ready', address: String(addr.port) });
  }
  onStop(() => new Promise<void>((resolve) => srv.close(() => resolve())));
}

async function client(): Promise<void> {
  const cfg = config<RawClientConfig>();
  const sock = cfg.transport === 'unix' ? net.connect(cfg.address) : net.connect(Number(cfg.address), '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  sock.setNoDelay(true);
  onStop(() => void sock.destroy());

  const body = Buffer.from(payloadString(cfg.payloadBytes));
  const frame = Buffer.alloc(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);

  // Replies come back in request order, so a FIFO of resolvers is all the matching needed.
  const waiting: Array<() => void> = [];
  let rest: Buffer | null = null;
  const resolveOne = () => waiting.shift()?.();
  sock.on('data', (chunk: Buffer) => {
    const buf = joined(rest, chunk);
    const end = scanFrames(buf, resolveOne);
    rest = end < buf.length ? buf.subarray(end) : null;
  });

  // Calls made in one tick leave in one write (the same coalescing a messaging layer does).
  let corked = false;
  const uncork = () => {
    corked = false;
    sock.uncork();
  };
  const call = () =>
    new Promise<void>((resolve) => {
      waiting.push(resolve);
      if (!corked) {
        corked = true;
        sock.cork();
        process.nextTick(uncork);
      }
      sock.write(frame);
    });

  const result = await runLoad(call, cfg);
  send({ type: 'load', result });
}

childMain(role() === 'server' ? server : client);
