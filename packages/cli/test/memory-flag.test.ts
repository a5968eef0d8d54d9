import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { squadron, WORKER_DIR } from '@squadron/testkit';
import { parseMemoryFlag } from '../src/memory-flag.ts';

describe('--max-memory', () => {
  it('takes a size with its unit, in MiB', () => {
    const cases: Array<[string, number]> = [['256MB', 256], ['512M', 512], ['1GB', 1024], ['1G', 1024], ['1.5GB', 1536], ['300mb', 300], ['2GiB', 2048], ['128 MB', 128], ['64GB', 65_536]];
    for (const [text, mb] of cases) assert.equal(parseMemoryFlag(text, '--max-memory'), mb, text);
  });

  it('refuses a bare number, an unknown unit, a fraction of a MB and a size out of range, naming the flag', () => {
    for (const text of ['256', '256KB', '1TB', 'lots', '', '-256MB', '0.5MB', '100MB', '65GB']) {
      assert.throws(() => parseMemoryFlag(text, '--max-memory'), (err: Error) => err.name === 'UsageError' && err.message.startsWith('--max-memory'), text);
    }
  });

  it('makes squadron deploy exit 2 with one line before it asks the platform anything', async () => {
    // No platform at this address: the flag is refused before any request.
    const r = await squadron(['deploy', 'worker', '--path', WORKER_DIR, '--sites', 'sto', '--max-memory', '256'], { SQUADRON_URL: 'http://127.0.0.1:9', SQUADRON_TOKEN: 'sqa_x' });
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "BAD_REQUEST: --max-memory takes a size with its unit, such as 256MB, 512M or 1GB; got '256'\n");
  });
});
