import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, statSync, appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { DurableLog, type LogPosition } from '../src/durable/durable-log.ts';

/** A logger whose lines the test can read. */
function capturingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, stream), lines };
}

async function replay(dir: string, options: Partial<Parameters<typeof DurableLog.open>[0]> = {}) {
  const seen: Array<{ type: number; body: string; position: LogPosition }> = [];
  const { logger, lines } = capturingLogger();
  const log = await DurableLog.open({ dir, logger, ...options }, (type, body, position) => seen.push({ type, body: body.toString(), position }));
  return { log, seen, lines };
}

const body = (i: number) => Buffer.from(`message-${i}-${'x'.repeat(i % 50)}`);
const onlySegment = (dir: string) => join(dir, readdirSync(dir).find((f) => f.endsWith('.log'))!);

describe('durable log', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'squadron-log-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replays every acknowledged record in order, where it said it put it', async () => {
    const { log } = await replay(dir);
    const positions = await Promise.all(Array.from({ length: 500 }, (_, i) => log.append(1 + (i % 3), body(i))));
    await log.close();
    const again = await replay(dir);
    assert.deepEqual(again.seen.map((r) => r.body), Array.from({ length: 500 }, (_, i) => body(i).toString()));
    assert.deepEqual(again.seen.map((r) => r.type), Array.from({ length: 500 }, (_, i) => 1 + (i % 3)));
    assert.deepEqual(again.seen.map((r) => r.position), positions);
    await again.log.close();
  });

  it('acknowledges a burst with a handful of fsyncs (group commit)', async () => {
    const { log } = await replay(dir);
    await Promise.all(Array.from({ length: 2000 }, (_, i) => log.append(1, body(i))));
    assert.equal(log.stats.appended, 2000);
    assert.ok(log.stats.syncs <= 3, `${log.stats.syncs} fsyncs for one burst`);
    await log.close();
  });

  it('cuts off a torn write at the tail and goes on appending after it', async () => {
    const { log } = await replay(dir);
    for (let i = 0; i < 10; i++) await log.append(1, body(i));
    await log.close();
    const file = onlySegment(dir);
    const whole = statSync(file).size;
    appendFileSync(file, Buffer.from([0, 0, 0, 200, 1, 2, 3, 4, 1, 9, 9])); // a record cut short
    const again = await replay(dir);
    assert.equal(again.seen.length, 10);
    assert.equal(statSync(file).size, whole);
    assert.equal(again.lines[0]?.msg, 'torn write at the end of the log; cutting it off');
    await again.log.append(1, Buffer.from('after'));
    await again.log.close();
    const third = await replay(dir);
    assert.equal(third.seen.at(-1)?.body, 'after');
    await third.log.close();
  });

  it('detects a flipped bit, skips that record alone, and says where it is', async () => {
    const { log } = await replay(dir);
    const positions: LogPosition[] = [];
    for (let i = 0; i < 20; i++) positions.push(await log.append(1, body(i)));
    await log.close();
    const file = onlySegment(dir);
    const bytes = readFileSync(file);
    bytes[positions[7]!.offset + 12]! ^= 0x10; // inside record 7's body
    writeFileSync(file, bytes);
    const again = await replay(dir);
    assert.deepEqual(again.seen.map((r) => r.body), Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== 7).map((i) => body(i).toString()));
    assert.equal(again.log.stats.corrupt, 1);
    const report = again.lines.find((l) => l.reason === 'checksum mismatch');
    assert.equal(report?.offset, positions[7]!.offset);
    assert.match(String(report?.segment), /\.log$/);
    await again.log.close();
  });

  it('loses nothing acknowledged when a power loss discards every unsynced write (fault hook)', async () => {
    const { log } = await replay(dir, { simulatePowerLoss: true });
    for (let i = 0; i < 30; i++) await log.append(1, body(i));
    await log.close();
    appendFileSync(onlySegment(dir), Buffer.alloc(4096, 7)); // written, never synced, never acknowledged
    const again = await replay(dir, { simulatePowerLoss: true });
    assert.equal(again.seen.length, 30);
    assert.equal(again.log.stats.corrupt, 0, 'the unsynced bytes were discarded, not parsed');
    await again.log.close();
  });

  it('rolls over to new segments and reads them back in order; settled segments can be removed', async () => {
    const { log } = await replay(dir, { segmentBytes: 1024 });
    const positions: LogPosition[] = [];
    for (let i = 0; i < 200; i++) positions.push(await log.append(1, body(i)));
    assert.ok(log.segmentIds.length > 5, `${log.segmentIds.length} segments`);
    await log.close();
    const again = await replay(dir, { segmentBytes: 1024 });
    assert.equal(again.seen.length, 200);
    const cut = positions[100]!.segment;
    await again.log.removeSegmentsBefore(cut);
    await again.log.close();
    const third = await replay(dir, { segmentBytes: 1024 });
    assert.equal(third.seen[0]!.position.segment, cut);
    assert.equal(third.seen.at(-1)!.body, body(199).toString());
    await third.log.close();
  });

  it('after a failed fsync refuses every append until it is opened again, and keeps what it acknowledged', async () => {
    let failing = false;
    const { log, lines } = await replay(dir, { syncFails: () => failing });
    for (let i = 0; i < 5; i++) await log.append(1, body(i));
    failing = true;
    await assert.rejects(log.append(1, body(5)), /could not sync.*restart the broker/);
    failing = false;
    // The disk may have dropped what it failed to sync: nothing more is written on top of it.
    await assert.rejects(log.append(1, body(6)), /restart the broker/);
    assert.ok(lines.some((l) => /fsync failed/.test(String(l.msg))), 'the failure is logged');
    await log.close();
    const again = await replay(dir);
    assert.deepEqual(again.seen.slice(0, 5).map((r) => r.body), Array.from({ length: 5 }, (_, i) => body(i).toString()));
    await again.log.append(1, body(7));
    await again.log.close();
  });
});
