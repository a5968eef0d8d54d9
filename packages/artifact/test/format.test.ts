import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { ARTIFACT_FORMAT, ArtifactError, DIGEST, MAX_ARTIFACT_BYTES, digestOf, packArtifact, unpackArtifact } from '@squadron/artifact';

/**
 * The container agents unpack: the same contents always give the same bytes (so the same
 * digest), and bytes that are not a release, or whose file names could reach outside the folder
 * an agent unpacks them into, are refused whole with an ArtifactError before anything is written.
 */

const bytes = (text: string) => new TextEncoder().encode(text);

/** Bytes as a hand-made (or hostile) builder would write them: the same encoding, nothing checked. */
const raw = (value: unknown) => new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true }).pack(value);

const sameFiles = (actual: Record<string, Uint8Array>, expected: Record<string, Uint8Array>) => {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort());
  for (const [name, data] of Object.entries(expected)) assert.ok(Buffer.from(data).equals(Buffer.from(actual[name]!)), `${name} holds the same bytes`);
};

const refused = (fn: () => unknown, why: RegExp) => assert.throws(fn, (err: unknown) => {
  assert.ok(err instanceof ArtifactError, `an ArtifactError, not ${String(err)}`);
  assert.equal(err.code, 'BAD_REQUEST');
  assert.match(err.message, why);
  return true;
});

// A path segment an unpacked file may have: not empty, not '.' or '..', no separator or NUL.
// msgpackr reads a key of exactly '__proto__' as '__proto_' (it never sets a prototype), so that
// one name does not round trip; a build never makes it (it writes index.mjs and its map).
const segment = fc.string({ minLength: 1, maxLength: 12, unit: fc.constantFrom(...'abcXYZ019-_.é ~'.split('')) })
  .filter((s) => s !== '.' && s !== '..');
const safeName = fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/')).filter((n) => n !== '__proto__');
const contentsArb = fc.uniqueArray(fc.tuple(safeName, fc.uint8Array({ maxLength: 64 })), { minLength: 1, maxLength: 8, selector: ([name]) => name })
  .chain((entries) => fc.record({ entry: fc.constantFrom(...entries.map(([name]) => name)), files: fc.constant(Object.fromEntries(entries)) }));

describe('release artifact format', () => {
  it('unpacks what it packed: the entry, every file and its bytes, checked against its digest', () => {
    const files = { 'index.mjs': bytes('export default 1;\n'), 'index.mjs.map': bytes('{"version":3}'), 'queries/get.sql': new Uint8Array([0, 255, 7]) };
    const packed = packArtifact({ entry: 'index.mjs', files });
    const digest = digestOf(packed);
    assert.match(digest, DIGEST);
    const contents = unpackArtifact(packed, digest);
    assert.equal(contents.format, ARTIFACT_FORMAT);
    assert.equal(contents.entry, 'index.mjs');
    sameFiles(contents.files, files);
  });

  it('round-trips any contents with plain relative names (property)', () => {
    fc.assert(fc.property(contentsArb, ({ entry, files }) => {
      const packed = packArtifact({ entry, files });
      const contents = unpackArtifact(packed, digestOf(packed));
      assert.equal(contents.entry, entry);
      sameFiles(contents.files, files);
    }), { numRuns: 300 });
  });

  it('gives the same bytes and digest for the same contents whatever order the files were listed in', () => {
    const a = packArtifact({ entry: 'index.mjs', files: { 'index.mjs': bytes('a'), 'b.txt': bytes('b'), 'c/d.txt': bytes('d') } });
    const b = packArtifact({ entry: 'index.mjs', files: { 'c/d.txt': bytes('d'), 'b.txt': bytes('b'), 'index.mjs': bytes('a') } });
    assert.ok(Buffer.from(a).equals(Buffer.from(b)));
    assert.equal(digestOf(a), digestOf(b));
    fc.assert(fc.property(contentsArb, fc.infiniteStream(fc.double()), ({ entry, files }, keys) => {
      const reordered = Object.fromEntries(Object.entries(files).map((e) => [e, keys.next().value as number] as const).sort((x, y) => x[1] - y[1]).map(([e]) => e));
      assert.equal(digestOf(packArtifact({ entry, files: reordered })), digestOf(packArtifact({ entry, files })));
    }), { numRuns: 100 });
    // And different contents a different digest.
    const changed = packArtifact({ entry: 'index.mjs', files: { 'index.mjs': bytes('A'), 'b.txt': bytes('b'), 'c/d.txt': bytes('d') } });
    assert.notEqual(digestOf(changed), digestOf(a));
  });

  it('refuses bytes whose digest is not the one expected', () => {
    const packed = packArtifact({ entry: 'index.mjs', files: { 'index.mjs': bytes('export default 1;') } });
    const other = digestOf(packArtifact({ entry: 'index.mjs', files: { 'index.mjs': bytes('export default 2;') } }));
    refused(() => unpackArtifact(packed, other), /have digest sha256:[0-9a-f]{64}, not sha256:[0-9a-f]{64}: refused/);
    const flipped = Uint8Array.from(packed);
    flipped[flipped.length - 1]! ^= 1;
    refused(() => unpackArtifact(flipped, digestOf(packed)), /not sha256/);
  });

  it('refuses bytes that are not an artifact, an unknown format, and an entry or files missing', () => {
    refused(() => unpackArtifact(bytes('#!/bin/sh\nrm -rf /\n')), /not a release artifact/);
    refused(() => unpackArtifact(new Uint8Array([0xc1])), /not a release artifact/);
    refused(() => unpackArtifact(raw(null)), /not a release artifact/);
    refused(() => unpackArtifact(raw(42)), /not a release artifact/);
    refused(() => unpackArtifact(raw({ format: ARTIFACT_FORMAT + 1, entry: 'index.mjs', files: { 'index.mjs': bytes('x') } })),
      new RegExp(`artifact format ${ARTIFACT_FORMAT + 1} is not known to this version \\(it knows ${ARTIFACT_FORMAT}\\)`));
    refused(() => unpackArtifact(raw({ entry: 'index.mjs', files: { 'index.mjs': bytes('x') } })), /not a release artifact: it names no format/);
    refused(() => unpackArtifact(raw({ format: ARTIFACT_FORMAT, files: { 'index.mjs': bytes('x') } })), /lacks its entry or files/);
    refused(() => unpackArtifact(raw({ format: ARTIFACT_FORMAT, entry: 'index.mjs' })), /lacks its entry or files/);
    refused(() => unpackArtifact(raw({ format: ARTIFACT_FORMAT, entry: 'main.mjs', files: { 'index.mjs': bytes('x') } })), /entry 'main\.mjs' is not one of its files/);
    refused(() => unpackArtifact(raw({ format: ARTIFACT_FORMAT, entry: 'index.mjs', files: { 'index.mjs': 'export default 1;' } })), /file 'index\.mjs' is not bytes/);
  });

  it('refuses a file name that could reach outside the folder it is unpacked into', () => {
    const names = ['../x', '../../etc/passwd', 'a/../../x', 'a/..', '/abs', '/etc/cron.d/job', 'a//b', 'a/', '.', './x', 'a/./b', 'a\\b', '..\\x', 'C:\\x', 'a\0b', '', 'x'.repeat(256)];
    for (const name of names) {
      const packed = packArtifact({ entry: 'index.mjs', files: { 'index.mjs': bytes('export default 1;'), [name]: bytes('evil') } });
      refused(() => unpackArtifact(packed, digestOf(packed)), /is not a plain relative path/);
    }
  });

  it('refuses any name with a ".." segment, wherever it is (property)', () => {
    fc.assert(fc.property(fc.array(segment, { maxLength: 4 }), fc.array(segment, { maxLength: 4 }), (before, after) => {
      const name = [...before, '..', ...after].join('/');
      const packed = raw({ format: ARTIFACT_FORMAT, entry: 'index.mjs', files: { 'index.mjs': bytes('x'), [name]: bytes('evil') } });
      refused(() => unpackArtifact(packed), /is not a plain relative path/);
    }), { numRuns: 300 });
  });

  it('refuses bytes over the size limit before reading them', () => {
    const huge = new Uint8Array(MAX_ARTIFACT_BYTES + 1);
    refused(() => unpackArtifact(huge), new RegExp(`is ${MAX_ARTIFACT_BYTES + 1} bytes; the limit is ${MAX_ARTIFACT_BYTES}`));
    // At the limit, what is read is what the bytes are: here, not an artifact.
    refused(() => unpackArtifact(huge.subarray(1)), /not a release artifact/);
  });
});
