/**
 * Outgoing handshake messages cut to size (RFC 6347 section 4.2.3): each message becomes
 * fragments of at most `maxFragment` body bytes.
 */
import { serializeHandshakeFragment } from './handshake.ts';
import type { HandshakeMessage } from './handshake-reassembly.ts';

export const DEFAULT_MAX_HANDSHAKE_FRAGMENT = 1024;

export function handshakeFragments(message: HandshakeMessage, maxFragment: number): Uint8Array[] {
  if (!Number.isInteger(maxFragment) || maxFragment < 1) throw new RangeError('maxHandshakeFragment must be a positive integer');
  const { msgType, messageSeq, body } = message;
  const fragments: Uint8Array[] = [];
  for (let offset = 0; offset === 0 || offset < body.length; offset += maxFragment) {
    const part = body.subarray(offset, offset + maxFragment);
    fragments.push(serializeHandshakeFragment({ msgType, length: body.length, messageSeq, fragmentOffset: offset, body: part }));
  }
  return fragments;
}

/**
 * The record payloads (plaintext fragments) that carry `messages`, in order, one fragment per
 * record. RFC 6347 allows several messages in one record, but some small stacks read only the
 * first (node-dtls-client does), while records packed into one datagram cost just 13 bytes each.
 */
export function flightPayloads(messages: readonly HandshakeMessage[], maxFragment: number): Uint8Array[] {
  return messages.flatMap((message) => handshakeFragments(message, maxFragment));
}
