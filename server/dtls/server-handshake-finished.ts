/**
 * The end of the server's handshake: the client's ChangeCipherSpec and its Finished in epoch 1
 * (RFC 5246 section 7.4.9), then our own ChangeCipherSpec and Finished, and the session.
 *
 * Epoch 1 records may overtake the ChangeCipherSpec or the PSK lookup; a few are held until both
 * are in. A Finished that does not open or does not verify ends the handshake with decrypt_error,
 * whichever of wrong key or unknown identity caused it.
 */
import { timingSafeEqual } from 'node:crypto';
import { CodecError } from '../../shared/errors.ts';
import { AlertDescription } from './alert.ts';
import { changeCipherSpecRecord } from './epoch-zero-records.ts';
import { EstablishedSession } from './established-session.ts';
import { HandshakeType, parseFinished, parseHandshakeFragments, serializeFinished } from './handshake.ts';
import { flightPayloads } from './handshake-flight.ts';
import { verifyData } from './prf.ts';
import { isBadRecordMacError } from './record-protection-error.ts';
import { ContentType, type DtlsRecord } from './record.ts';
import { ReplayWindow } from './replay-window.ts';
import {
  fail,
  type AwaitingFinished,
  type Handshaking,
  type ServerHandshakeAction,
  type ServerHandshakeState,
  type ServerHandshakeStep,
} from './server-handshake-state.ts';

/** Epoch 1 records held while the key lookup runs or the ChangeCipherSpec is missing. */
const MAX_PENDING_FINISHED_RECORDS = 8;

export function onChangeCipherSpec(state: Handshaking, record: DtlsRecord): ServerHandshakeStep {
  if (record.fragment.length !== 1 || record.fragment[0] !== 1) {
    throw new CodecError('MALFORMED', 'ChangeCipherSpec must be the single byte 1', { offset: 0, field: 'change_cipher_spec' });
  }
  // Before the ClientKeyExchange it can only be reordered or lost-flight debris: the client repeats it.
  if (state.phase === 'awaiting-client-key-exchange') return { state, actions: [] };
  if (state.phase === 'awaiting-psk') return { state: { ...state, changeCipherSpecSeen: true }, actions: [] };
  return onFinishedRecords({ ...state, changeCipherSpecSeen: true, pendingFinished: [] }, state.pendingFinished);
}

export function onEpochOneHandshake(state: Handshaking, record: DtlsRecord): ServerHandshakeStep {
  if (state.phase === 'awaiting-client-key-exchange') return { state, actions: [] };
  if (state.phase === 'awaiting-psk' || !state.changeCipherSpecSeen) {
    if (state.pendingFinished.length >= MAX_PENDING_FINISHED_RECORDS) return { state, actions: [] };
    return { state: { ...state, pendingFinished: [...state.pendingFinished, record] }, actions: [] };
  }
  return onFinishedRecord(state, record);
}

/** Epoch 1 records in arrival order, until the handshake ends one way or the other. */
export function onFinishedRecords(state: AwaitingFinished, records: readonly DtlsRecord[]): ServerHandshakeStep {
  let current: ServerHandshakeState = state;
  const actions: ServerHandshakeAction[] = [];
  for (const record of records) {
    if (current.phase !== 'awaiting-finished') break;
    const step = onFinishedRecord(current, record);
    current = step.state;
    actions.push(...step.actions);
  }
  return { state: current, actions };
}

function onFinishedRecord(state: AwaitingFinished, record: DtlsRecord): ServerHandshakeStep {
  // A repeated record adds nothing; opening it again would only cost time.
  if (state.epochOneReceived.includes(record.sequenceNumber)) return { state, actions: [] };
  let plaintext: Uint8Array;
  try {
    plaintext = state.ciphers.read.open(record, record.fragment);
  } catch (error) {
    if (!isBadRecordMacError(error)) throw error;
    // A wrong key and an unknown identity both land here, and end the same way.
    return fail(state, AlertDescription.decryptError);
  }
  let reassembly = state.finishedReassembly;
  let message: { readonly messageSeq: number; readonly body: Uint8Array } | undefined;
  try {
    for (const fragment of parseHandshakeFragments(plaintext)) {
      if (fragment.msgType !== HandshakeType.finished || fragment.messageSeq !== state.nextReceiveSeq) return fail(state, AlertDescription.unexpectedMessage);
      const step = reassembly.add(fragment);
      if (step.dropped) return fail(state, AlertDescription.illegalParameter);
      reassembly = step.reassembly;
      message ??= step.message;
    }
  } catch (error) {
    if (error instanceof CodecError) return fail(state, AlertDescription.decodeError);
    throw error;
  }
  const epochOneReceived = [...state.epochOneReceived, record.sequenceNumber];
  if (message === undefined) return { state: { ...state, finishedReassembly: reassembly, epochOneReceived }, actions: [] };

  let received: Uint8Array;
  try {
    received = parseFinished(message.body);
  } catch (error) {
    if (error instanceof CodecError) return fail(state, AlertDescription.decodeError);
    throw error;
  }
  const expected = verifyData(state.master, 'client finished', state.transcript.hash());
  if (!timingSafeEqual(received, expected)) return fail(state, AlertDescription.decryptError);

  const transcript = state.transcript.with(HandshakeType.finished, message.messageSeq, message.body);
  const serverFinished = flightPayloads(
    [{ msgType: HandshakeType.finished, messageSeq: state.nextSendSeq, body: serializeFinished(verifyData(state.master, 'server finished', transcript.hash())) }],
    state.maxHandshakeFragment,
  );
  const window = new ReplayWindow();
  for (const sequenceNumber of epochOneReceived) window.markReceived(sequenceNumber);
  const session = new EstablishedSession(state.ciphers, 1, 0, window);
  const changeCipherSpec = changeCipherSpecRecord(state.nextRecordSeq);
  const finishedRecords = serverFinished.map((payload) => session.protect(ContentType.handshake, payload));
  return {
    state: {
      phase: 'established',
      identity: state.identity,
      suite: state.suite,
      session,
      clientFinishedSeq: message.messageSeq,
      serverFinished,
      nextRecordSeq: state.nextRecordSeq + 1,
    },
    actions: [
      { type: 'send', records: [changeCipherSpec, ...finishedRecords] },
      { type: 'established', identity: state.identity, session },
    ],
  };
}
