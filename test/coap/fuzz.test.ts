import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BLOCK_SIZES } from '../../shared/coap/block.ts';
import { COAP_TYPES, parseCoapHeader } from '../../shared/coap/header.ts';
import { parseCoapMessage, serializeCoapMessage } from '../../shared/coap/message.ts';
import type { CoapMessage } from '../../shared/coap/message.ts';
import { optionDefinition } from '../../shared/coap/option.ts';
import { isCodecError } from '../../shared/errors.ts';

/** Runs `parse`; anything thrown must be a CodecError. Returns the message or undefined. */
function tryParse(bytes: Uint8Array): CoapMessage | undefined {
  try {
    return parseCoapMessage(bytes);
  } catch (error) {
    if (!isCodecError(error)) throw error;
    return undefined;
  }
}

// fast-check builds null-prototype records by default; the parser returns plain objects.
const PLAIN = { noNullPrototype: true } as const;
const text = (minLength = 0) => fc.string({ unit: 'grapheme', minLength, maxLength: 12 });
const uint = (bytes: number) => fc.integer({ min: 0, max: 2 ** (8 * bytes) - 1 });
const opaque = (minLength: number, maxLength: number) => fc.uint8Array({ minLength, maxLength });
const block = fc.record({
  num: fc.integer({ min: 0, max: 2 ** 20 - 1 }),
  more: fc.boolean(),
  size: fc.constantFrom(...BLOCK_SIZES),
}, PLAIN);
// Unknown numbers only: a recognized one in `others` reads back as a typed field.
const otherOption = fc.record({
  number: fc.integer({ min: 0, max: 0xffff }).filter((number) => optionDefinition(number) === undefined),
  value: opaque(0, 20),
}, PLAIN);

const options = fc.record(
  {
    ifMatch: fc.array(opaque(0, 8), { minLength: 1, maxLength: 2 }),
    uriHost: text(1),
    etag: fc.array(opaque(1, 8), { minLength: 1, maxLength: 2 }),
    ifNoneMatch: fc.constant(true),
    observe: uint(3),
    uriPort: uint(2),
    locationPath: fc.array(text(), { minLength: 1, maxLength: 3 }),
    uriPath: fc.array(text(), { minLength: 1, maxLength: 4 }),
    contentFormat: uint(2),
    maxAge: uint(4),
    uriQuery: fc.array(text(), { minLength: 1, maxLength: 4 }),
    accept: uint(2),
    locationQuery: fc.array(text(), { minLength: 1, maxLength: 2 }),
    block2: block,
    block1: block,
    size2: uint(4),
    size1: uint(4),
    others: fc.array(otherOption, { minLength: 1, maxLength: 3 }).map((list) =>
      [...list].sort((left, right) => left.number - right.number),
    ),
  },
  { requiredKeys: [], noNullPrototype: true },
);

const nonEmptyMessage: fc.Arbitrary<CoapMessage> = fc.record({
  type: fc.constantFrom(...COAP_TYPES),
  code: fc.integer({ min: 1, max: 255 }),
  messageId: uint(2),
  token: opaque(0, 8),
  options,
  payload: opaque(0, 40),
}, PLAIN);
const emptyMessage: fc.Arbitrary<CoapMessage> = fc.record({
  type: fc.constantFrom(...COAP_TYPES),
  code: fc.constant(0),
  messageId: uint(2),
  token: fc.constant(new Uint8Array(0)),
  options: fc.constant({}),
  payload: fc.constant(new Uint8Array(0)),
}, PLAIN);
const message = fc.oneof({ arbitrary: nonEmptyMessage, weight: 9 }, { arbitrary: emptyMessage, weight: 1 });

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: opaque(1, 4) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(bytes: Uint8Array, change: Mutation): Uint8Array {
  const at = change.at % (bytes.length + 1);
  switch (change.kind) {
    case 'flip': {
      const copy = new Uint8Array(bytes);
      if (at < copy.length) copy[at]! ^= change.bits;
      return copy;
    }
    case 'truncate':
      return bytes.slice(0, at);
    case 'insert':
      return Uint8Array.from([...bytes.subarray(0, at), ...change.bytes, ...bytes.subarray(at)]);
    case 'delete':
      return Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + change.count)]);
  }
}

describe('CoAP codec properties', () => {
  it('random bytes only ever throw CodecError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        tryParse(bytes);
        parseCoapHeader(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('random bytes behind a valid header only ever throw CodecError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 15 }), fc.nat(255), fc.uint8Array({ maxLength: 64 }), (first, code, rest) => {
        tryParse(Uint8Array.from([0x40 | first, code, 0x12, 0x34, ...rest]));
      }),
      { numRuns: 2000 },
    );
  });

  it('valid messages round-trip: parse(serialize(m)) equals m', () => {
    fc.assert(
      fc.property(message, (original) => {
        assert.deepStrictEqual(parseCoapMessage(serializeCoapMessage(original)), original);
      }),
      { numRuns: 1000 },
    );
  });

  it('mutated valid messages only ever throw CodecError, and what parses re-serializes stably', () => {
    fc.assert(
      fc.property(message, fc.array(mutation, { minLength: 1, maxLength: 3 }), (original, changes) => {
        const bytes = changes.reduce(mutate, serializeCoapMessage(original));
        const parsed = tryParse(bytes);
        if (parsed === undefined) return;
        const once = serializeCoapMessage(parsed);
        assert.deepStrictEqual(parseCoapMessage(once), parsed);
        assert.deepStrictEqual(serializeCoapMessage(parseCoapMessage(once)), once);
      }),
      { numRuns: 2000 },
    );
  });

  it('serialize(parse(x)) is stable for random bytes that parse', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (tail) => {
        const parsed = tryParse(Uint8Array.from([0x40, 0x01, 0x00, 0x01, ...tail]));
        if (parsed === undefined) return;
        const once = serializeCoapMessage(parsed);
        assert.deepStrictEqual(parseCoapMessage(once), parsed);
      }),
      { numRuns: 2000 },
    );
  });

  it('the header of anything that parses agrees with the full parse', () => {
    fc.assert(
      fc.property(message, (original) => {
        const bytes = serializeCoapMessage(original);
        const header = parseCoapHeader(bytes);
        assert.deepStrictEqual(header, {
          type: original.type,
          code: original.code,
          messageId: original.messageId,
          tokenLength: original.token.length,
          token: original.token,
        });
      }),
      { numRuns: 500 },
    );
  });
});
