/**
 * The middle of the server's handshake: the client's epoch 0 flight (its ClientKeyExchange, which
 * names the PSK identity, RFC 4279 section 2), our ServerHello flight sent again while that flight
 * is missing (RFC 6347 section 4.2.4), and the key schedule once the PSK lookup answers.
 *
 * An unknown identity continues with a random key and so fails exactly where a wrong key fails,
 * at the client's Finished, with the same decrypt_error alert (RFC 4279 section 2 lets a server
 * hide unknown_psk_identity that way).
 */
import { randomBytes } from 'node:crypto';
import { AlertDescription } from './alert.ts';
import { plainFlight } from './epoch-zero-records.ts';
import { HandshakeType, parseHandshakeFragments, parsePskClientKeyExchange } from './handshake.ts';
import { HandshakeReassembly } from './handshake-reassembly.ts';
import { keyBlock, masterSecret, pskPremasterSecret } from './prf.ts';
import { MAX_SEQUENCE_NUMBER, type DtlsRecord } from './record.ts';
import { onFinishedRecords } from './server-handshake-finished.ts';
import {
  fail,
  type AwaitingClientKeyExchange,
  type AwaitingFinished,
  type AwaitingPsk,
  type Handshaking,
  type ServerHandshakeAction,
  type ServerHandshakeStep,
} from './server-handshake-state.ts';

/** Stands in for the key of an unknown identity, so that case costs and ends like a wrong key. */
const DUMMY_PSK_LENGTH = 32;

/** Our ServerHello flight again, under fresh record sequence numbers (RFC 6347 4.2.4). */
export function resendServerHelloFlight(state: AwaitingClientKeyExchange): ServerHandshakeStep {
  if (state.nextRecordSeq + state.serverHelloFlight.length > MAX_SEQUENCE_NUMBER) return { state, actions: [] };
  const records = plainFlight(state.serverHelloFlight, state.nextRecordSeq);
  return { state: { ...state, nextRecordSeq: state.nextRecordSeq + records.length }, actions: [{ type: 'send', records }] };
}

/** An epoch 0 handshake record during the handshake: the ClientKeyExchange, or debris of earlier flights. */
export function onHandshake(state: Handshaking, record: DtlsRecord): ServerHandshakeStep {
  let current: Handshaking = state;
  const actions: ServerHandshakeAction[] = [];
  let resent = false;
  for (const fragment of parseHandshakeFragments(record.fragment)) {
    if (current.phase === 'awaiting-client-key-exchange' && fragment.messageSeq === current.clientHelloSeq && fragment.msgType === HandshakeType.clientHello) {
      // The client repeats its hello, so our flight was lost: send it again, once per record
      // and only for the hello's first fragment, so a fragmented hello costs one flight, not many.
      if (fragment.fragmentOffset === 0 && !resent) {
        const step = resendServerHelloFlight(current);
        actions.push(...step.actions);
        current = step.state as AwaitingClientKeyExchange;
        resent = true;
      }
      continue;
    }
    // Older messages are retransmissions, later ones arrive too early: the client repeats its flight.
    if (fragment.messageSeq !== current.nextReceiveSeq) continue;
    if (current.phase !== 'awaiting-client-key-exchange' || fragment.msgType !== HandshakeType.clientKeyExchange) {
      const failed = fail(current, AlertDescription.unexpectedMessage);
      return { state: failed.state, actions: [...actions, ...failed.actions] };
    }
    const step = current.reassembly.add(fragment);
    current = { ...current, reassembly: step.reassembly };
    if (step.message === undefined) continue;
    const { pskIdentity } = parsePskClientKeyExchange(step.message.body);
    current = {
      ...current,
      phase: 'awaiting-psk',
      transcript: current.transcript.with(HandshakeType.clientKeyExchange, step.message.messageSeq, step.message.body),
      nextReceiveSeq: step.message.messageSeq + 1,
      reassembly: step.reassembly.discardBefore(step.message.messageSeq + 1),
      identity: pskIdentity,
      changeCipherSpecSeen: false,
      pendingFinished: [],
    };
    actions.push({ type: 'lookup-psk', identity: pskIdentity });
  }
  return { state: current, actions };
}

/** The lookup answered: derive the keys, then open the client's Finished if it already came. */
export function onPsk(state: AwaitingPsk, key: Uint8Array | undefined): ServerHandshakeStep {
  const psk = key ?? new Uint8Array(randomBytes(DUMMY_PSK_LENGTH));
  const master = masterSecret(pskPremasterSecret(psk), state.clientRandom, state.serverRandom);
  const block = keyBlock(master, state.clientRandom, state.serverRandom, state.suite.layout);
  const next: AwaitingFinished = {
    ...state,
    phase: 'awaiting-finished',
    master,
    ciphers: state.suite.ciphers(block),
    finishedReassembly: new HandshakeReassembly(),
    epochOneReceived: [],
  };
  if (!state.changeCipherSpecSeen) return { state: next, actions: [] };
  return onFinishedRecords({ ...next, pendingFinished: [] }, state.pendingFinished);
}
