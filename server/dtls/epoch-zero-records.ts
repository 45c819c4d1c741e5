/**
 * The unprotected records the server sends during a handshake (RFC 6347 section 4.1): epoch 0 has
 * no keys, so its handshake messages, ChangeCipherSpec and alerts go out as plain fragments.
 */
import { AlertLevel, serializeAlert } from './alert.ts';
import { ContentType, DTLS_1_2, type DtlsRecord } from './record.ts';

export function plainRecord(type: ContentType, sequenceNumber: number, fragment: Uint8Array, version = DTLS_1_2): DtlsRecord {
  return { type, version, epoch: 0, sequenceNumber, fragment };
}

export function alertRecord(description: number, sequenceNumber: number): DtlsRecord {
  return plainRecord(ContentType.alert, sequenceNumber, serializeAlert({ level: AlertLevel.fatal, description }));
}

/** The ChangeCipherSpec message is the single byte 1 (RFC 5246 section 7.1). */
export function changeCipherSpecRecord(sequenceNumber: number): DtlsRecord {
  return plainRecord(ContentType.changeCipherSpec, sequenceNumber, new Uint8Array([1]));
}

/** Consecutive epoch 0 handshake records from `firstSeq`, one per payload. */
export function plainFlight(payloads: readonly Uint8Array[], firstSeq: number): DtlsRecord[] {
  return payloads.map((payload, i) => plainRecord(ContentType.handshake, firstSeq + i, payload));
}
