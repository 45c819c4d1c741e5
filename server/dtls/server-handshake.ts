/**
 * The server side of a DTLS 1.2 PSK handshake (RFC 6347 section 4.2, RFC 4279, RFC 7925) for
 * TLS_PSK_WITH_AES_128_CCM_8 and TLS_PSK_WITH_AES_128_CBC_SHA256, as a state machine without
 * sockets or timers:
 *
 *   ClientHello (no cookie)       -> HelloVerifyRequest, and no state at all
 *   ClientHello (valid cookie)    -> ServerHello, ServerHelloDone         startServerHandshake
 *   retransmit event              -> the ServerHello flight again          stepServerHandshake
 *   ClientKeyExchange(identity)   -> lookup-psk action
 *   psk event                     -> keys
 *   ChangeCipherSpec, Finished    -> ChangeCipherSpec, Finished, established
 *
 * The PSK lookup is asynchronous, so it is an action out and an event in; the retransmission
 * timer (RFC 6347 4.2.4) is an event in as well, so the caller owns time. Handshake messages may
 * arrive fragmented: they are reassembled (handshake-reassembly.ts) before they are acted on; the
 * stateless start takes whole ClientHellos only (client-hello-assembly.ts reassembles those).
 * Parse errors are CodecErrors thrown with the state untouched, and the caller drops the datagram
 * (RFC 6347 section 4.1.2.7).
 *
 * This module is the machine's public face and its dispatch; each phase lives beside it:
 * server-handshake-start.ts (cookie and negotiation), server-handshake-key-exchange.ts
 * (ClientKeyExchange, PSK, keys), server-handshake-finished.ts (Finished, established),
 * server-handshake-established.ts (after the handshake), server-handshake-state.ts (the types).
 */
import { AlertDescription, AlertLevel, parseAlert } from './alert.ts';
import { ContentType, type DtlsRecord } from './record.ts';
import { onEstablishedRecord } from './server-handshake-established.ts';
import { onChangeCipherSpec, onEpochOneHandshake } from './server-handshake-finished.ts';
import { onHandshake, onPsk, resendServerHelloFlight } from './server-handshake-key-exchange.ts';
import { fail, type Handshaking, type ServerHandshakeEvent, type ServerHandshakeState, type ServerHandshakeStep } from './server-handshake-state.ts';

export { TLS_PSK_WITH_AES_128_CBC_SHA256, TLS_PSK_WITH_AES_128_CCM_8 } from './cipher-suite.ts';
export {
  awaitsClientFlight,
  DEFAULT_HANDSHAKE_CONFIG,
  type ClientHelloOutcome,
  type ServerHandshakeAction,
  type ServerHandshakeConfig,
  type ServerHandshakeEvent,
  type ServerHandshakeState,
  type ServerHandshakeStep,
} from './server-handshake-state.ts';
export { startServerHandshake } from './server-handshake-start.ts';

export function stepServerHandshake(state: ServerHandshakeState, event: ServerHandshakeEvent): ServerHandshakeStep {
  if (state.phase === 'failed') return { state, actions: [] };
  if (event.type === 'psk') return state.phase === 'awaiting-psk' ? onPsk(state, event.key) : { state, actions: [] };
  if (event.type === 'psk-unavailable') return state.phase === 'awaiting-psk' ? fail(state, AlertDescription.internalError) : { state, actions: [] };
  if (event.type === 'retransmit') return state.phase === 'awaiting-client-key-exchange' ? resendServerHelloFlight(state) : { state, actions: [] };
  const { record } = event;
  if (state.phase === 'established') return onEstablishedRecord(state, record);
  if (record.type === ContentType.alert && record.epoch === 0) return onAlert(state, record);
  if (record.type === ContentType.changeCipherSpec && record.epoch === 0) return onChangeCipherSpec(state, record);
  if (record.type !== ContentType.handshake) return { state, actions: [] };
  if (record.epoch === 1) return onEpochOneHandshake(state, record);
  if (record.epoch === 0) return onHandshake(state, record);
  return { state, actions: [] };
}

/** The client gave up: a fatal alert or close_notify ends the handshake, a warning does not. */
function onAlert(state: Handshaking, record: DtlsRecord): ServerHandshakeStep {
  const alert = parseAlert(record.fragment);
  if (alert.level !== AlertLevel.fatal && alert.description !== AlertDescription.closeNotify) return { state, actions: [] };
  return { state: { phase: 'failed', alert: alert.description }, actions: [{ type: 'failed', alert: alert.description, sent: false }] };
}
