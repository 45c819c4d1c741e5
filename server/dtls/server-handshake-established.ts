/**
 * What the server's handshake machine still does once the session is established: the handshake
 * is over for the client only when our last flight arrived, and a client may try to start again
 * inside the session. Application data and alerts in the session are the server's business, not
 * this machine's.
 */
import { AlertDescription, AlertLevel, serializeAlert } from './alert.ts';
import { changeCipherSpecRecord } from './epoch-zero-records.ts';
import { HandshakeType, parseHandshakeFragments } from './handshake.ts';
import { ContentType, type DtlsRecord } from './record.ts';
import type { Established, ServerHandshakeStep } from './server-handshake-state.ts';

/**
 * After the handshake only epoch 1 handshake records concern this machine. A retransmitted client
 * Finished means our last flight was lost, so it goes out again (RFC 6347 4.2.4). A ClientHello
 * inside the session asks for renegotiation, which is refused with a warning no_renegotiation
 * alert (RFC 5246 7.2.2) and the session goes on.
 */
export function onEstablishedRecord(state: Established, record: DtlsRecord): ServerHandshakeStep {
  if (record.type !== ContentType.handshake || record.epoch !== state.session.epoch) return { state, actions: [] };
  const opened = state.session.open(record);
  if (opened === undefined) return { state, actions: [] };
  const fragments = parseHandshakeFragments(opened.plaintext);
  // First fragments only, so a fragmented message is answered once.
  const starts = fragments.filter((fragment) => fragment.fragmentOffset === 0);
  if (starts.some((fragment) => fragment.msgType === HandshakeType.clientHello)) {
    const alert = serializeAlert({ level: AlertLevel.warning, description: AlertDescription.noRenegotiation });
    return { state, actions: [{ type: 'send', records: [state.session.protect(ContentType.alert, alert)] }] };
  }
  if (!starts.some((fragment) => fragment.msgType === HandshakeType.finished && fragment.messageSeq === state.clientFinishedSeq)) {
    return { state, actions: [] };
  }
  const records = [changeCipherSpecRecord(state.nextRecordSeq), ...state.serverFinished.map((payload) => state.session.protect(ContentType.handshake, payload))];
  return { state: { ...state, nextRecordSeq: state.nextRecordSeq + 1 }, actions: [{ type: 'send', records }] };
}
