/** Error codes: each one documented in docs/errors.md, and each one surviving the wire as itself. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ErrorCode, SquadronError, NoInstancesError, TimeoutError, DeadlineExceededError, NoSuchMethodError,
  HandlerError, BadRequestError, PayloadTooLargeError, ProtocolError, ConnectionLostError, UnavailableError,
  ClosedError, AuthFailedError, RateLimitedError, PermissionDeniedError, QuotaExceededError, errorToWire, errorFromWire, encode, decode,
} from '../src/index.ts';

const DOC_PATH = new URL('../../../docs/errors.md', import.meta.url);
const doc = readFileSync(DOC_PATH, 'utf8');
const codes = Object.values(ErrorCode);

/** The text of a `## title` section of the doc, up to the next `## `. */
function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `docs/errors.md has no '## ${title}' section`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

/** Table rows whose first cell is a `CODE`, as code → the other cells. */
function tableRows(text: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^\|\s*`([A-Z_]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (m) rows.set(m[1]!, m[2]!.split('|').map((c) => c.trim()));
  }
  return rows;
}

/** Errors of every code, built by the code's own class; the Record type makes the list complete. */
const samples: Record<ErrorCode, SquadronError[]> = {
  NO_INSTANCES: [new NoInstancesError('billing')],
  TIMEOUT: [new TimeoutError('no reply within 50 ms'), new TimeoutError('gave up', { retryable: false })],
  DEADLINE_EXCEEDED: [new DeadlineExceededError('request for billing.charge arrived after its deadline')],
  NO_SUCH_METHOD: [NoSuchMethodError.of('billing', 'refund')],
  HANDLER_ERROR: [new HandlerError('boom'), new HandlerError('UNAVAILABLE: db down', { retryable: true, details: { cause: 'UNAVAILABLE' } })],
  BAD_REQUEST: [new BadRequestError('amount must be positive', { details: { field: 'amount' } })],
  PAYLOAD_TOO_LARGE: [new PayloadTooLargeError(2_000_000, 1_048_576)],
  PROTOCOL_ERROR: [new ProtocolError('malformed auth frame')],
  CONNECTION_LOST: [new ConnectionLostError('connection reset', true), new ConnectionLostError('cannot connect', false)],
  UNAVAILABLE: [new UnavailableError('instance i-1 is draining')],
  CLOSED: [new ClosedError(), new ClosedError('client is closed')],
  AUTH_FAILED: [new AuthFailedError('credential expired at 2026-01-01T00:00:00Z', { details: { reason: 'expired' } })],
  RATE_LIMITED: [new RateLimitedError('over 50/s toward playlists', 20, { details: { policy: 'default' } })],
  PERMISSION_DENIED: [new PermissionDeniedError('billing.refund is private to squad payments', { details: { policy: 'visibility: squad' } })],
  QUOTA_EXCEEDED: [new QuotaExceededError('queue invoices holds 10000 messages, its limit', 'queue-depth', 10_000, 10_000)],
};

describe('docs/errors.md', () => {
  const rows = tableRows(section('Codes'));

  it('documents every ErrorCode in its table of codes', () => {
    const missing = codes.filter((code) => !rows.has(code));
    assert.deepEqual(missing, [], `add a row to docs/errors.md for: ${missing.join(', ')}`);
  });

  it('documents no code that ErrorCode does not have', () => {
    const stale = [...rows.keys()].filter((code) => !(codes as string[]).includes(code));
    assert.deepEqual(stale, [], `docs/errors.md documents unknown codes: ${stale.join(', ')}`);
  });

  it('gives every code a meaning, a retryable flag matching the class, and a next step', () => {
    for (const code of codes) {
      const [meaning, retryable, next] = rows.get(code) ?? [];
      assert.ok(meaning && meaning.length > 20, `${code}: no meaning`);
      assert.ok(next && next.length > 10, `${code}: no next step`);
      // The first sample of each code is built with its class's defaults.
      const flags = new Set(samples[code].map((e) => e.retryable));
      if (retryable?.startsWith('Depends')) assert.equal(flags.size, 2, `${code}: 'Depends' yet the samples agree`);
      else assert.equal(samples[code][0]!.retryable, retryable === 'Yes', `${code}: documented retryable '${retryable}'`);
    }
  });

  it('lists every code among those the CLI prints', () => {
    const cli = section('What the CLI prints');
    for (const code of codes) assert.ok(cli.includes(`\`${code}\``), `the CLI section does not list ${code}`);
  });
});

describe('errorToWire / errorFromWire', () => {
  it('has a sample of every code', () => {
    for (const code of codes) {
      assert.ok(samples[code].length > 0);
      for (const e of samples[code]) assert.equal(e.code, code);
    }
  });

  it('rebuilds the same class, code, message, retryable flag and details, through msgpack', () => {
    for (const code of codes) {
      for (const sent of samples[code]) {
        const wire = decode(encode(errorToWire(sent)));
        const got = errorFromWire(wire);
        assert.equal(got.constructor, sent.constructor, `${code}: ${got.name} instead of ${sent.name}`);
        assert.equal(got.name, sent.name);
        assert.equal(got.code, sent.code);
        assert.equal(got.message, sent.message);
        assert.equal(got.retryable, sent.retryable, `${code}: retryable`);
        if (sent.details) assert.deepEqual(got.details, sent.details);
        if (sent instanceof ConnectionLostError) assert.equal((got as ConnectionLostError).sent, sent.sent);
      }
    }
  });

  it('sends a thrown non-Squadron value as HANDLER_ERROR, keeping a retryable: true flag', () => {
    assert.deepEqual(errorToWire(new Error('disk full')), ['HANDLER_ERROR', 'disk full', false, null]);
    assert.deepEqual(errorToWire('plain string'), ['HANDLER_ERROR', 'plain string', false, null]);
    const flaky = Object.assign(new Error('try again'), { retryable: true });
    assert.deepEqual(errorToWire(flaky), ['HANDLER_ERROR', 'try again', true, null]);
  });

  it('rebuilds a code it does not know as a SquadronError with that code', () => {
    const got = errorFromWire(['GRAVITY_EXCEEDED', 'slow down', true, { waitMs: 100 }]);
    assert.equal(got.constructor, SquadronError);
    assert.deepEqual([got.code, got.message, got.retryable, got.details], ['GRAVITY_EXCEEDED', 'slow down', true, { waitMs: 100 }]);
  });

  it('turns a malformed wire error into a ProtocolError', () => {
    for (const wire of [null, 'TIMEOUT', [], [1, 'x'], ['TIMEOUT'], { 0: 'TIMEOUT', 1: 'x' }]) {
      const got = errorFromWire(wire);
      assert.ok(got instanceof ProtocolError, `for ${JSON.stringify(wire)}`);
      assert.equal(got.code, ErrorCode.PROTOCOL_ERROR);
    }
  });
});
