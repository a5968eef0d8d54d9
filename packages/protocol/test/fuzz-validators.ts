/** Inputs for the message validators: well-formed bodies, the same with one part broken, and junk. */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as messages from '../src/messages.ts';
import { decode, encode, errorFromWire, ErrorCode, SquadronError } from '../src/index.ts';

type Validator = (v: unknown) => unknown;

/** Every `as*` export of messages.ts: a validator added there is fuzzed without touching this file. */
export const validators: ReadonlyArray<readonly [string, Validator]> = Object.entries(messages as Record<string, unknown>)
  .filter((e): e is [string, Validator] => e[0].startsWith('as') && typeof e[1] === 'function');

const str = fc.string({ minLength: 1, maxLength: 24 });
const anyString = fc.string({ maxLength: 24 });

const instanceInfo = fc.record(
  {
    id: str, service: str, site: str, address: str, host: str, pid: fc.nat(),
    methods: fc.array(fc.record({ name: str, idempotent: fc.boolean() }), { maxLength: 3 }),
    topics: fc.array(str, { maxLength: 3 }), startedAt: fc.nat(), inFlight: fc.nat(), unixPath: str,
  },
  { requiredKeys: ['id', 'service', 'site', 'address', 'host', 'pid', 'methods', 'topics', 'startedAt'] },
);

/** A well-formed value for each validator, as a correct peer would send it. */
export const wellFormed: Readonly<Record<string, fc.Arbitrary<unknown>>> = {
  asAuth: fc.oneof(
    fc.record({ version: fc.integer(), role: fc.constantFrom('client', 'broker', 'control'), site: str, name: str }),
    fc.record({ version: fc.integer(), role: fc.constant('instance'), site: str, name: str, service: str, instance: str }),
  ),
  asHello: fc.record({
    version: fc.integer(), nonce: fc.base64String({ minLength: 4, maxLength: 48 }), site: str,
    server: fc.constantFrom('broker', 'instance'),
  }),
  asReady: fc.record({ sites: fc.array(str, { maxLength: 4 }) }),
  asInstanceInfo: instanceInfo,
  asSubscribe: fc.record({ topic: str, group: str }),
  asInterest: fc.record({ topic: str, group: str, present: fc.boolean() }),
  asRegistryEvent: fc.oneof(
    fc.record({ type: fc.constant('snapshot'), site: str, sites: fc.array(str, { maxLength: 3 }), instances: fc.array(instanceInfo, { maxLength: 2 }) }),
    fc.record({ type: fc.constant('up'), instance: instanceInfo }),
    fc.record({ type: fc.constant('down'), id: str, site: str, reason: anyString }),
  ),
  asRequest: fc.tuple(str, fc.nat(), anyString, fc.jsonValue({ maxDepth: 2 })),
  asEnqueue: fc.tuple(str, fc.option(str), fc.option(str), fc.nat(), anyString, fc.uint8Array({ maxLength: 64 })),
  asConsume: fc.record({ queue: str, concurrency: fc.integer({ min: 1, max: 10_000 }), maxDeliveries: fc.integer({ min: 1, max: 100 }), visibilityTimeoutMs: fc.integer({ min: 10, max: 600_000 }) }),
  asPublishDurable: fc.tuple(str, fc.option(str), anyString, fc.uint8Array({ maxLength: 64 })),
  asDelivery: fc.tuple(fc.nat(), str, fc.nat(), anyString, fc.uint8Array({ maxLength: 64 })),
  asLoadReport: fc.oneof(
    fc.nat(),
    fc.tuple(fc.nat(), fc.dictionary(str.filter((k) => k !== '__proto__'), fc.record({ rateLimited: fc.nat(), denied: fc.nat() }), { maxKeys: 3 })),
  ),
  asDropReport: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 4 }),
};

const weird = (maxDepth: number) => fc.anything({
  maxDepth, withBigInt: true, withBoxedValues: true, withDate: true, withMap: true, withSet: true,
  withNullPrototype: true, withObjectString: true, withSparseArray: true, withTypedArray: true,
});

/** Every path to a value inside `root` (object keys and array indices), root excluded. */
function paths(root: unknown, prefix: PropertyKey[] = [], out: PropertyKey[][] = []): PropertyKey[][] {
  // Byte arrays are one value (a payload): their elements cannot be deleted or retyped.
  if (root !== null && typeof root === 'object' && !ArrayBuffer.isView(root)) {
    for (const key of Object.keys(root)) {
      const path = [...prefix, key];
      out.push(path);
      paths((root as Record<string, unknown>)[key], path, out);
    }
  }
  return out;
}

/** Replace or delete the part of a copy of `value` found at the `pick`-th path. */
function breakOnePart(value: unknown, pick: number, replacement: unknown, remove: boolean): unknown {
  const copy: unknown = structuredClone(value);
  const all = paths(copy);
  if (all.length === 0) return replacement;
  const path = all[pick % all.length]!;
  let parent = copy as Record<PropertyKey, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<PropertyKey, unknown>;
  const last = path[path.length - 1]!;
  if (remove) delete parent[last];
  else parent[last] = replacement;
  return copy;
}

/** As a value looks after it crossed the wire (undefined becomes null, and so on). */
const viaWire = (v: unknown): unknown => decode(encode(v));

/** `target` names the validator that must accept `value`; null when no validator has to. */
export interface ValidatorInput {
  value: unknown;
  target: string | null;
}

export const arbValidatorInput: fc.Arbitrary<ValidatorInput> = fc.oneof(
  ...Object.entries(wellFormed).map(([target, arb]) =>
    fc.tuple(arb, fc.boolean()).map(([v, wire]) => ({ value: wire ? viaWire(v) : v, target }))),
  ...Object.values(wellFormed).map((arb) =>
    fc.tuple(arb, fc.nat(), weird(2), fc.boolean())
      .map(([v, pick, replacement, remove]) => ({ value: breakOnePart(v, pick, replacement, remove), target: null }))),
  weird(3).map((value) => ({ value, target: null })),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => {
    try {
      return { value: decode(bytes), target: null };
    } catch {
      return { value: null, target: null };
    }
  }),
);

const CODES = [...Object.values(ErrorCode), 'NOT_A_KNOWN_CODE'];

/** errorFromWire turns anything into a SquadronError, with the value in every slot of the wire form. */
export function errorFromWireNeverThrows(value: unknown): void {
  assert.ok(errorFromWire(value) instanceof SquadronError);
  for (const code of CODES) {
    assert.ok(errorFromWire([code, 'message', value, value]) instanceof SquadronError, `errorFromWire threw for ${code}`);
  }
}
