/**
 * A short run of the payload fuzzer (packages/protocol/fuzz/payload-fuzz.ts): random, deep, huge
 * and malformed payloads through call, reply, publish, enqueue and durable publish, against a
 * real broker and a running instance process. `npm run fuzz` runs it at full size.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runPayloadFuzz, ROUTES } from '../fuzz/payload-fuzz.ts';

describe('payloads under random input, end to end', () => {
  it('fails nothing but the offending message, through every route', async () => {
    const report = await runPayloadFuzz(300);
    assert.deepEqual(report.findings, [], `seed ${report.seed} (FUZZ_SEED=${report.seed} npm run fuzz replays it)`);
    for (const route of ROUTES) {
      const { ok, refused } = report.outcomes[route];
      assert.ok(ok > 0 && refused > 0, `${route}: ${ok} taken and ${refused} failed alone; both kinds must have been tried`);
    }
  });
});
