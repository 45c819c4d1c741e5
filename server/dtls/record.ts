/**
 * DTLS 1.2 record layer framing (RFC 6347 section 4.1):
 *
 *   struct { ContentType type; ProtocolVersion version; uint16 epoch;
 *            uint48 sequence_number; uint16 length; opaque fragment[length]; } DTLSCiphertext;
 *
 * One UDP datagram may carry several records back to back (section 4.1.1). Parsing only frames
 * bytes; protection (ccm8.ts) and anti-replay (replay-window.ts) happen above it.
 */
import { CodecError } from '../../shared/errors.ts';
import { ByteReader, concatBytes, uintBytes } from './bytes.ts';

export const ContentType = {
  changeCipherSpec: 20,
  alert: 21,
  handshake: 22,
  applicationData: 23,
} as const;
export type ContentType = (typeof ContentType)[keyof typeof ContentType];

/** DTLS 1.2 on the wire ({254, 253}). */
export const DTLS_1_2 = 0xfefd;
/**
 * DTLS 1.0 ({254, 255}). RFC 6347 section 4.2.1 has servers answer HelloVerifyRequest with it, and
 * clients (OpenSSL among them) put it in the record header of their first ClientHello, so the
 * record layer accepts it; the handshake decides which version is negotiated.
 */
export const DTLS_1_0 = 0xfeff;

export const RECORD_HEADER_LENGTH = 13;
export const MAX_SEQUENCE_NUMBER = 2 ** 48 - 1;
/** RFC 6347 section 4.1 / RFC 5246 6.2.3: a protected fragment is at most 2^14 + 2048 bytes. */
export const MAX_RECORD_FRAGMENT_LENGTH = 2 ** 14 + 2048;

export interface DtlsRecord {
  readonly type: ContentType;
  readonly version: number;
  readonly epoch: number;
  /** 48-bit; a JavaScript number holds it exactly. */
  readonly sequenceNumber: number;
  readonly fragment: Uint8Array;
}

const contentTypes: ReadonlySet<number> = new Set(Object.values(ContentType));

function isContentType(value: number): value is ContentType {
  return contentTypes.has(value);
}

/** Reads one record at the reader's position. */
function readRecord(reader: ByteReader): DtlsRecord {
  const start = reader.offset;
  const type = reader.uint(1, 'type');
  const version = reader.uint(2, 'version');
  const epoch = reader.uint(2, 'epoch');
  const sequenceNumber = reader.uint(6, 'sequence_number');
  const length = reader.uint(2, 'length');
  if (!isContentType(type)) {
    throw new CodecError('UNSUPPORTED', `unknown content type ${type}`, { offset: start, field: 'type' });
  }
  if (version !== DTLS_1_2 && version !== DTLS_1_0) {
    throw new CodecError('UNSUPPORTED', `record version 0x${version.toString(16)} is not DTLS`, { offset: start + 1, field: 'version' });
  }
  if (length > MAX_RECORD_FRAGMENT_LENGTH) {
    throw new CodecError('OUT_OF_RANGE', `record length ${length} exceeds ${MAX_RECORD_FRAGMENT_LENGTH}`, { offset: start + 11, field: 'length' });
  }
  const fragment = reader.bytes(length, 'fragment');
  return { type, version, epoch, sequenceNumber, fragment };
}

/** Parses exactly one record that must fill `bytes`. */
export function parseRecord(bytes: Uint8Array): DtlsRecord {
  const reader = new ByteReader(bytes);
  const record = readRecord(reader);
  reader.end('record');
  return record;
}

/**
 * Every record in a datagram. One bad record makes the whole datagram throw: the caller drops it
 * silently (RFC 6347 section 4.1.2.7), which is safer than acting on the records before it.
 */
export function parseDatagram(datagram: Uint8Array): DtlsRecord[] {
  if (datagram.length === 0) throw new CodecError('TRUNCATED', 'empty datagram', { offset: 0, field: 'record' });
  const reader = new ByteReader(datagram);
  const records: DtlsRecord[] = [];
  while (reader.remaining > 0) records.push(readRecord(reader));
  return records;
}

/** The 13-byte header for a fragment of `length` bytes. */
export function serializeRecordHeader(record: Omit<DtlsRecord, 'fragment'>, length: number): Uint8Array {
  if (length > MAX_RECORD_FRAGMENT_LENGTH) {
    throw new CodecError('OUT_OF_RANGE', `record length ${length} exceeds ${MAX_RECORD_FRAGMENT_LENGTH}`, { field: 'length' });
  }
  return concatBytes(
    uintBytes(record.type, 1),
    uintBytes(record.version, 2),
    uintBytes(record.epoch, 2),
    uintBytes(record.sequenceNumber, 6),
    uintBytes(length, 2),
  );
}

export function serializeRecord(record: DtlsRecord): Uint8Array {
  return concatBytes(serializeRecordHeader(record, record.fragment.length), record.fragment);
}

/** Several records packed into one datagram. */
export function serializeDatagram(records: readonly DtlsRecord[]): Uint8Array {
  return concatBytes(...records.map(serializeRecord));
}

/** The 64-bit seq_num of the MAC/AEAD input: epoch then 48-bit sequence number (RFC 6347 4.1.2.1). */
export function recordSequence(epoch: number, sequenceNumber: number): Uint8Array {
  return concatBytes(uintBytes(epoch, 2), uintBytes(sequenceNumber, 6));
}
