import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogTail } from '../src/logs/log-tail.ts';

const line = (time: number, msg: string) => `${JSON.stringify({ level: 30, time, msg })}\n`;

/** The reader under `squadron logs --follow`, on a real file written the way a process writes it. */
describe('a log file read as it grows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'squadron-log-tail-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('returns whole lines only, a line written in two pieces once it is whole', () => {
    const file = join(dir, 'pieces.log');
    writeFileSync(file, line(1000, 'one'));
    const tail = new LogTail(file, 'i-1', 'sto');
    assert.deepEqual(tail.read().map((e) => e.json?.msg), ['one']);
    const two = line(2000, 'two é');
    appendFileSync(file, Buffer.from(two).subarray(0, 30)); // cut inside the line, and the é's two bytes later
    assert.deepEqual(tail.read(), []);
    appendFileSync(file, Buffer.from(two).subarray(30));
    assert.deepEqual(tail.read().map((e) => [e.json?.msg, e.time]), [['two é', 2000]]);
    assert.deepEqual(tail.read(), [], 'nothing new');
  });

  it('gives a line that is not JSON the time of the line before it, and lines before any the next one\'s', () => {
    const file = join(dir, 'stack.log');
    writeFileSync(file, `--- starting\n${line(5000, 'up')}TypeError: boom\n    at handler (index.js:3:9)\n`);
    const entries = new LogTail(file, 'i-1', 'sto').read();
    assert.deepEqual(entries.map((e) => [e.text.slice(0, 12), e.time, e.json === null]), [
      ['--- starting', 5000, true], ['{"level":30,', 5000, false], ['TypeError: b', 5000, true], ['    at handl', 5000, true],
    ]);
  });

  it('gives lines with no timed line yet the time the file last changed', () => {
    const file = join(dir, 'untimed.log');
    writeFileSync(file, 'Error: cannot find module\n');
    utimesSync(file, 1_700_000_000, 1_700_000_000);
    assert.deepEqual(new LogTail(file, 'i-1', 'sto').read().map((e) => e.time), [1_700_000_000_000]);
  });

  it('reads a file that was started afresh (it shrank) from its start, and a last line without its newline at the end', () => {
    const file = join(dir, 'fresh.log');
    writeFileSync(file, line(1000, 'old one') + line(1001, 'old two'));
    const tail = new LogTail(file, 'i-1', 'sto');
    assert.equal(tail.read().length, 2);
    writeFileSync(file, line(3000, 'new').trimEnd());
    assert.deepEqual(tail.read(), [], 'not whole yet');
    assert.deepEqual(tail.read(true).map((e) => e.json?.msg), ['new']);
  });

  it('waits for a file not written yet', () => {
    const file = join(dir, 'later.log');
    const tail = new LogTail(file, 'i-1', 'sto');
    assert.deepEqual(tail.read(), []);
    writeFileSync(file, line(1000, 'there'));
    assert.deepEqual(tail.read().map((e) => e.json?.msg), ['there']);
  });
});
