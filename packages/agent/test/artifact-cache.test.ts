import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf, packArtifact } from '@squadron/artifact';
import { ArtifactCache } from '../src/artifact-cache.ts';

const enc = new TextEncoder();

/** An artifact of one entry whose text is `text`, and its digest. */
function artifact(text: string): { bytes: Uint8Array; digest: string } {
  const bytes = packArtifact({ entry: 'index.mjs', files: { 'index.mjs': enc.encode(text), 'lib/part.mjs': enc.encode(`// ${text}`) } });
  return { bytes, digest: digestOf(bytes) };
}

describe('ArtifactCache', () => {
  let root: string;
  const store = new Map<string, Uint8Array>();
  let fetches = 0;
  const fetchArtifact = async (digest: string) => {
    fetches++;
    const bytes = store.get(digest);
    if (!bytes) throw new Error(`no artifact ${digest}`);
    return bytes;
  };

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'squadron-cache-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('fetches once for instances asking at once, unpacks read-only, and keeps a copy while an instance runs it', async () => {
    const cache = new ArtifactCache(join(root, 'a'), fetchArtifact);
    await cache.open();
    const a = artifact('export default 1');
    store.set(a.digest, a.bytes);
    fetches = 0;
    const [one, two] = await Promise.all([cache.unpacked('radio', a.digest, 'i-1'), cache.unpacked('radio', a.digest, 'i-2')]);
    assert.equal(fetches, 1);
    assert.equal(one.entry, two.entry);
    assert.equal(readFileSync(one.entry, 'utf8'), 'export default 1');
    assert.equal(readFileSync(join(one.dir, 'lib', 'part.mjs'), 'utf8'), '// export default 1');
    assert.equal(statSync(one.entry).mode & 0o777, 0o444, 'files read-only');
    assert.equal(statSync(one.dir).mode & 0o777, 0o555, 'folders read-only');

    cache.release('i-1');
    await cache.prune();
    assert.ok(existsSync(one.entry), 'kept: i-2 still runs it');
    cache.release('i-2');
    await cache.prune();
    assert.ok(!existsSync(one.dir), 'removed once no instance runs it');

    // Asked again after its removal: fetched and unpacked anew.
    const again = await cache.unpacked('radio', a.digest, 'i-3');
    assert.equal(readFileSync(again.entry, 'utf8'), 'export default 1');
    assert.equal(fetches, 2);
    await cache.close();
    assert.ok(!existsSync(join(root, 'a')));
  });

  it('refuses bytes that are not the digest asked for, and tries again at the next ask', async () => {
    const cache = new ArtifactCache(join(root, 'b'), fetchArtifact);
    await cache.open();
    const good = artifact('export default "good"');
    const evil = artifact('export default "evil"');
    store.set(good.digest, evil.bytes);
    await assert.rejects(cache.unpacked('radio', good.digest, 'i-1'), /digest/);
    store.set(good.digest, good.bytes);
    const u = await cache.unpacked('radio', good.digest, 'i-1');
    assert.equal(readFileSync(u.entry, 'utf8'), 'export default "good"');
    await cache.close();
  });

  it('keeps each squad\'s copies apart, and starts empty whatever an earlier run left', async () => {
    const dir = join(root, 'c');
    const first = new ArtifactCache(dir, fetchArtifact);
    await first.open();
    const a = artifact('export default 2');
    store.set(a.digest, a.bytes);
    const radio = await first.unpacked('radio', a.digest, 'r-1');
    const video = await first.unpacked('video', a.digest, 'v-1');
    assert.notEqual(radio.dir, video.dir);
    // A copy changed behind the agent's back (as root could): a new run never trusts it.
    writeFileSync(join(dir, 'leftover'), 'x');
    const second = new ArtifactCache(dir, fetchArtifact);
    await second.open();
    assert.ok(!existsSync(radio.dir) && !existsSync(join(dir, 'leftover')));
    await second.close();
  });
});
