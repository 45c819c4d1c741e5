/**
 * Outgoing records packed into UDP datagrams (RFC 6347 section 4.1.1 allows several records per
 * datagram): as few datagrams as fit the limit, so a flight cut into small fragments to fit a
 * path MTU is not then sent as one oversized datagram, nor as one datagram per record.
 */
import { HANDSHAKE_HEADER_LENGTH } from './handshake.ts';
import { RECORD_HEADER_LENGTH, serializeRecord, type DtlsRecord } from './record.ts';

/** Record header and handshake header around one fragment, so fragmented flights fit a datagram. */
const FRAGMENT_FRAMING = RECORD_HEADER_LENGTH + HANDSHAKE_HEADER_LENGTH;

/** The datagram size that holds one record carrying a handshake fragment of `maxHandshakeFragment` bytes. */
export function datagramLimit(maxHandshakeFragment: number): number {
  return maxHandshakeFragment + FRAGMENT_FRAMING;
}

/** The datagrams that carry `records` in order; a datagram exceeds `limit` only for a record that alone does. */
export function packDatagrams(records: readonly DtlsRecord[], limit: number): Buffer[] {
  const datagrams: Buffer[] = [];
  let datagram: Uint8Array[] = [];
  let size = 0;
  const flush = (): void => {
    if (datagram.length === 0) return;
    datagrams.push(Buffer.concat(datagram));
    datagram = [];
    size = 0;
  };
  for (const record of records) {
    let bytes: Uint8Array;
    try {
      bytes = serializeRecord(record);
    } catch {
      // A record that cannot be framed (sequence space exhausted) is not sent.
      continue;
    }
    if (size + bytes.length > limit) flush();
    datagram.push(bytes);
    size += bytes.length;
  }
  flush();
  return datagrams;
}
