/**
 * Record protection once the handshake is done: the negotiated suite's ciphers in epoch 1, one
 * write sequence and one replay window. Received records that are replayed, from another epoch or
 * fail authentication are dropped silently (RFC 6347 section 4.1.2.7): `open` returns undefined
 * and says nothing about which check failed.
 */
import { isBadRecordMacError } from './record-protection-error.ts';
import type { SessionCiphers } from './record-cipher.ts';
import { ContentType, DTLS_1_2, MAX_SEQUENCE_NUMBER, type DtlsRecord } from './record.ts';
import type { ReplayWindow } from './replay-window.ts';

export interface OpenedRecord {
  readonly type: ContentType;
  readonly plaintext: Uint8Array;
}

export class EstablishedSession {
  readonly epoch: number;
  readonly #ciphers: SessionCiphers;
  readonly #window: ReplayWindow;
  #nextWriteSequence: number;

  /**
   * `window` already holds the client's Finished and `nextWriteSequence` follows the server's
   * Finished, both of which were sent in this epoch during the handshake.
   */
  constructor(ciphers: SessionCiphers, epoch: number, nextWriteSequence: number, window: ReplayWindow) {
    this.#ciphers = ciphers;
    this.epoch = epoch;
    this.#nextWriteSequence = nextWriteSequence;
    this.#window = window;
  }

  protect(type: ContentType, plaintext: Uint8Array): DtlsRecord {
    // A sequence number must never repeat under one key (CCM nonce); renegotiation is not offered.
    if (this.#nextWriteSequence > MAX_SEQUENCE_NUMBER) throw new RangeError('DTLS write sequence exhausted');
    const sequenceNumber = this.#nextWriteSequence++;
    const context = { type, version: DTLS_1_2, epoch: this.epoch, sequenceNumber };
    return { ...context, fragment: this.#ciphers.write.protect(context, plaintext) };
  }

  open(record: DtlsRecord): OpenedRecord | undefined {
    if (record.epoch !== this.epoch || !this.#window.mayAccept(record.sequenceNumber)) return undefined;
    let plaintext: Uint8Array;
    try {
      plaintext = this.#ciphers.read.open(record, record.fragment);
    } catch (error) {
      if (isBadRecordMacError(error)) return undefined;
      throw error;
    }
    this.#window.markReceived(record.sequenceNumber);
    return { type: record.type, plaintext };
  }

  encryptApplicationData(plaintext: Uint8Array): DtlsRecord {
    return this.protect(ContentType.applicationData, plaintext);
  }

  /** The application data in `record`, or undefined when it is dropped (replay, forgery, not data). */
  decryptApplicationData(record: DtlsRecord): Uint8Array | undefined {
    if (record.type !== ContentType.applicationData) return undefined;
    return this.open(record)?.plaintext;
  }
}
