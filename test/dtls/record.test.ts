import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { assertCodecError, assertOnlyCodecErrors, hex, mutatedBytes, toHex } from '../fixtures/codec-assertions.ts';
import {
  ContentType,
  DTLS_1_0,
  DTLS_1_2,
  MAX_RECORD_FRAGMENT_LENGTH,
  parseDatagram,
  parseRecord,
  recordSequence,
  serializeDatagram,
  serializeRecord,
  type DtlsRecord,
} from '../../server/dtls/record.ts';

// The shape of a client's second flight: ChangeCipherSpec in epoch 0, then an encrypted Finished
// in epoch 1 (8-byte explicit nonce, 16 bytes ciphertext, 8-byte tag), in one datagram.
const flight = hex(
  '14 fefd 0000 000000000002 0001', '01',
  '16 fefd 0001 000000000000 0020', '0001000000000000', 'a1'.repeat(16), 'b2'.repeat(8),
);

const recordArbitrary: fc.Arbitrary<DtlsRecord> = fc.record({
  type: fc.constantFrom(...Object.values(ContentType)),
  version: fc.constantFrom(DTLS_1_2, DTLS_1_0),
  epoch: fc.integer({ min: 0, max: 0xffff }),
  sequenceNumber: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
  fragment: fc.uint8Array({ maxLength: 64 }),
});

describe('DTLS record layer', () => {
  it('parses several records from one datagram', () => {
    const [ccs, finished, ...rest] = parseDatagram(flight);
    assert.equal(rest.length, 0);
    assert.deepEqual(ccs, { type: ContentType.changeCipherSpec, version: DTLS_1_2, epoch: 0, sequenceNumber: 2, fragment: hex('01') });
    assert.equal(finished?.type, ContentType.handshake);
    assert.equal(finished?.epoch, 1);
    assert.equal(finished?.sequenceNumber, 0);
    assert.equal(finished?.fragment.length, 32);
  });

  it('serializes back to the same bytes', () => {
    assert.equal(toHex(serializeDatagram(parseDatagram(flight))), toHex(flight));
  });

  it('carries the full 48-bit sequence number', () => {
    const record = parseRecord(hex('17 fefd ffff ffffffffffff 0000'));
    assert.equal(record.epoch, 0xffff);
    assert.equal(record.sequenceNumber, 2 ** 48 - 1);
    assert.equal(toHex(recordSequence(record.epoch, record.sequenceNumber)), 'ffffffffffffffff');
  });

  it('accepts the DTLS 1.0 record version of a first ClientHello', () => {
    assert.equal(parseRecord(hex('16 feff 0000 000000000000 0000')).version, DTLS_1_0);
  });

  it('reports truncation in the header and in the fragment', () => {
    assertCodecError(() => parseDatagram(new Uint8Array(0)), 'TRUNCATED');
    assertCodecError(() => parseRecord(hex('16 fefd 0000 0000')), 'TRUNCATED', { field: 'sequence_number' });
    assertCodecError(() => parseRecord(hex('16 fefd 0000 000000000000 0003 0102')), 'TRUNCATED', { field: 'fragment', offset: 13 });
    assertCodecError(() => parseDatagram(flight.subarray(0, flight.length - 1)), 'TRUNCATED', { field: 'fragment' });
  });

  it('refuses a version that is not DTLS', () => {
    assertCodecError(() => parseRecord(hex('16 0303 0000 000000000000 0000')), 'UNSUPPORTED', { field: 'version', offset: 1 });
    assertCodecError(() => parseRecord(hex('16 fefc 0000 000000000000 0000')), 'UNSUPPORTED', { field: 'version' });
  });

  it('refuses an unknown content type', () => {
    assertCodecError(() => parseRecord(hex('18 fefd 0000 000000000000 0000')), 'UNSUPPORTED', { field: 'type', offset: 0 });
  });

  it('refuses a length over 2^14 + 2048, and accepts exactly that', () => {
    const over = MAX_RECORD_FRAGMENT_LENGTH + 1;
    const header = (length: number) => hex('17 fefd 0000 000000000000', length.toString(16).padStart(4, '0'));
    assertCodecError(() => parseRecord(new Uint8Array([...header(over), ...new Uint8Array(over)])), 'OUT_OF_RANGE', { field: 'length', offset: 11 });
    const max = MAX_RECORD_FRAGMENT_LENGTH;
    assert.equal(parseRecord(new Uint8Array([...header(max), ...new Uint8Array(max)])).fragment.length, max);
    assertCodecError(() => serializeRecord({ ...parseRecord(header(0)), fragment: new Uint8Array(over) }), 'OUT_OF_RANGE');
  });

  it('parseRecord refuses bytes after the record', () => {
    assertCodecError(() => parseRecord(flight), 'TRAILING_BYTES');
  });

  it('round trips any list of records', () => {
    fc.assert(
      fc.property(fc.array(recordArbitrary, { minLength: 1, maxLength: 4 }), (records) => {
        assert.deepStrictEqual(parseDatagram(serializeDatagram(records)), records.map((record) => ({ ...record })));
      }),
    );
  });

  it('mutated datagrams only ever give records or a CodecError', () => {
    const datagrams = fc.oneof(fc.constant(flight), fc.array(recordArbitrary, { minLength: 1, maxLength: 3 }).map(serializeDatagram));
    assertOnlyCodecErrors(mutatedBytes(datagrams), parseDatagram);
    assertOnlyCodecErrors(fc.uint8Array({ maxLength: 40 }), parseDatagram);
  });
});
