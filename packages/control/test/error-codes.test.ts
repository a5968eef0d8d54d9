import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ControlErrorCode } from '@squadron/control';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const apiSection = doc.slice(doc.indexOf('\n## Control plane API\n'));

describe('control plane error codes', () => {
  it('documents every code the API answers with, and its HTTP status', () => {
    assert.ok(apiSection.length > 30, 'docs/errors.md has a "Control plane API" section');
    const documented = new Map([...apiSection.matchAll(/^\|\s*`([A-Z_]+)`\s*\|\s*(\d{3})\s*\|/gm)].map((m) => [m[1]!, Number(m[2])]));
    const used = [...Object.values(ControlErrorCode), 'BAD_REQUEST', 'PAYLOAD_TOO_LARGE', 'INTERNAL'];
    for (const code of used) assert.ok(documented.has(code), `${code} is documented in docs/errors.md under "Control plane API"`);
  });
});
