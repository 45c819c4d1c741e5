/**
 * What a cipher suite's record protection looks like to the rest of the server (RFC 5246 section
 * 6.2.3): one direction's keys turned into "protect this plaintext" and "open this fragment".
 * The handshake and EstablishedSession work through this, whatever the suite: AEAD (ccm8.ts) or
 * MAC-then-encrypt CBC (cbc-sha256.ts).
 */

/** What identifies a record: the header fields that enter the MAC or the additional data. */
export interface RecordContext {
  readonly type: number;
  readonly version: number;
  readonly epoch: number;
  readonly sequenceNumber: number;
}

export interface RecordCipher {
  /** The record fragment carrying `plaintext`. */
  protect(context: RecordContext, plaintext: Uint8Array): Uint8Array;
  /** The plaintext of a protected fragment; any failure at all is a BadRecordMacError. */
  open(context: RecordContext, fragment: Uint8Array): Uint8Array;
}

/** Both directions of one epoch, as the server sees them. */
export interface SessionCiphers {
  /** client_write keys: what the server opens with. */
  readonly read: RecordCipher;
  /** server_write keys. */
  readonly write: RecordCipher;
}
