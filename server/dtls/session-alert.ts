/**
 * An alert from the peer inside an established session (RFC 5246 section 7.2): close_notify is
 * answered with close_notify (7.2.1) and ends the session, as does any fatal alert; a warning
 * changes nothing. The handshake's own alerts are server-handshake.ts's business.
 */
import { AlertDescription, AlertLevel, parseAlert, serializeAlert } from './alert.ts';
import type { EstablishedSession } from './established-session.ts';
import { ContentType, type DtlsRecord } from './record.ts';

export interface SessionAlertAnswer {
  /** The record to send back, protected in the session. */
  readonly reply: DtlsRecord | undefined;
  /** Whether the session is over. */
  readonly closes: boolean;
}

/** Throws CodecError for a malformed alert, which the caller drops like any other bad record. */
export function answerSessionAlert(session: EstablishedSession, plaintext: Uint8Array): SessionAlertAnswer {
  const alert = parseAlert(plaintext);
  const closeNotify = alert.description === AlertDescription.closeNotify;
  const reply = closeNotify
    ? session.protect(ContentType.alert, serializeAlert({ level: AlertLevel.warning, description: AlertDescription.closeNotify }))
    : undefined;
  return { reply, closes: closeNotify || alert.level === AlertLevel.fatal };
}
