/**
 * TLS alerts (RFC 5246 section 7.2): two bytes, level then description. Only the descriptions this
 * server sends or must recognise are named.
 */
import { CodecError } from '../../shared/errors.ts';
import { ByteReader } from './bytes.ts';

export const AlertLevel = { warning: 1, fatal: 2 } as const;
export type AlertLevel = (typeof AlertLevel)[keyof typeof AlertLevel];

export const AlertDescription = {
  closeNotify: 0,
  unexpectedMessage: 10,
  badRecordMac: 20,
  handshakeFailure: 40,
  illegalParameter: 47,
  decodeError: 50,
  decryptError: 51,
  protocolVersion: 70,
  internalError: 80,
  /** Warning only: the peer asked for a renegotiation that is refused (RFC 5246 7.2.2). */
  noRenegotiation: 100,
} as const;
export type AlertDescription = (typeof AlertDescription)[keyof typeof AlertDescription];

export interface Alert {
  readonly level: number;
  readonly description: number;
}

export function parseAlert(fragment: Uint8Array): Alert {
  const reader = new ByteReader(fragment);
  const level = reader.uint(1, 'alert_level');
  const description = reader.uint(1, 'alert_description');
  reader.end('Alert');
  if (level !== AlertLevel.warning && level !== AlertLevel.fatal) {
    throw new CodecError('MALFORMED', `alert level ${level}`, { offset: 0, field: 'alert_level' });
  }
  return { level, description };
}

export function serializeAlert(alert: Alert): Uint8Array {
  return new Uint8Array([alert.level, alert.description]);
}

const ALERT_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(AlertDescription).map(([name, value]) => [value, name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)]),
);

/** The RFC 5246 name of an alert description (`decrypt_error`), or its number when not one named here. */
export function alertName(description: number): string {
  return ALERT_NAMES.get(description) ?? `alert ${description}`;
}
