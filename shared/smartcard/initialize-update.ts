/**
 * INITIALIZE UPDATE and EXTERNAL AUTHENTICATE as SCP03 uses them (GP Card Specification v2.2
 * sections 11.8 and 11.9; Amendment D sections 5.1 and 7.1), and the card's INITIALIZE UPDATE
 * response: key diversification data, key information, card challenge, card cryptogram and, with
 * pseudo-random challenges, the sequence counter.
 */
import { CLA_GLOBALPLATFORM, CLA_SECURE_MESSAGING, type CommandApdu } from './apdu.ts';
import { CHALLENGE_LENGTH, CRYPTOGRAM_LENGTH, SEQUENCE_COUNTER_LENGTH } from './scp03-session.ts';
import { Scp03Error } from './scp03-error.ts';

export const INS_INITIALIZE_UPDATE = 0x50;
export const INS_EXTERNAL_AUTHENTICATE = 0x82;
export const SCP03_IDENTIFIER = 0x03;
export const KEY_DIVERSIFICATION_DATA_LENGTH = 10;

/** Bits of the SCP03 "i" parameter (Amendment D section 5.1). */
export const I_PARAMETER = {
  S16_MODE: 0x01,
  PSEUDO_RANDOM_CHALLENGE: 0x10,
  R_MAC_SUPPORT: 0x20,
  R_ENCRYPTION_SUPPORT: 0x40,
} as const;

/** Key version 00 asks the card for the first available key set. */
export function initializeUpdateCommand(keyVersion: number, hostChallenge: Uint8Array): CommandApdu {
  if (hostChallenge.length !== CHALLENGE_LENGTH) throw new Scp03Error('MALFORMED_APDU', `host challenge of ${hostChallenge.length} bytes`);
  return { cla: CLA_GLOBALPLATFORM, ins: INS_INITIALIZE_UPDATE, p1: keyVersion, p2: 0x00, data: hostChallenge, le: 256 };
}

/** The command before its C-MAC is appended; P1 carries the security level for the session. */
export function externalAuthenticateCommand(securityLevel: number, hostCryptogram: Uint8Array): CommandApdu {
  return {
    cla: CLA_GLOBALPLATFORM | CLA_SECURE_MESSAGING,
    ins: INS_EXTERNAL_AUTHENTICATE,
    p1: securityLevel,
    p2: 0x00,
    data: hostCryptogram,
  };
}

export interface InitializeUpdateResponse {
  readonly keyDiversificationData: Uint8Array;
  readonly keyVersion: number;
  readonly scpIdentifier: number;
  readonly iParameter: number;
  readonly cardChallenge: Uint8Array;
  readonly cardCryptogram: Uint8Array;
  /** Present when the card uses pseudo-random challenges (i bit 0x10). */
  readonly sequenceCounter?: number | undefined;
}

const FIXED_LENGTH = KEY_DIVERSIFICATION_DATA_LENGTH + 3 + CHALLENGE_LENGTH + CRYPTOGRAM_LENGTH;

export function encodeInitializeUpdateResponse(response: InitializeUpdateResponse): Uint8Array {
  const withCounter = response.sequenceCounter !== undefined;
  const out = new Uint8Array(FIXED_LENGTH + (withCounter ? SEQUENCE_COUNTER_LENGTH : 0));
  out.set(response.keyDiversificationData);
  let at = KEY_DIVERSIFICATION_DATA_LENGTH;
  out.set([response.keyVersion, response.scpIdentifier, response.iParameter], at);
  at += 3;
  out.set(response.cardChallenge, at);
  out.set(response.cardCryptogram, at + CHALLENGE_LENGTH);
  if (response.sequenceCounter !== undefined) {
    const counter = response.sequenceCounter;
    out.set([(counter >> 16) & 0xff, (counter >> 8) & 0xff, counter & 0xff], FIXED_LENGTH);
  }
  return out;
}

/** Only SCP03 in S8 mode is accepted; the length must agree with the i parameter. */
export function decodeInitializeUpdateResponse(data: Uint8Array): InitializeUpdateResponse {
  if (data.length < KEY_DIVERSIFICATION_DATA_LENGTH + 3) {
    throw new Scp03Error('MALFORMED_APDU', `INITIALIZE UPDATE response of ${data.length} bytes`);
  }
  const keyVersion = data[KEY_DIVERSIFICATION_DATA_LENGTH]!;
  const scpIdentifier = data[KEY_DIVERSIFICATION_DATA_LENGTH + 1]!;
  const iParameter = data[KEY_DIVERSIFICATION_DATA_LENGTH + 2]!;
  if (scpIdentifier !== SCP03_IDENTIFIER) {
    throw new Scp03Error('UNSUPPORTED', `card offers SCP ${scpIdentifier.toString(16).padStart(2, '0')}, not SCP03`);
  }
  if ((iParameter & I_PARAMETER.S16_MODE) !== 0) throw new Scp03Error('UNSUPPORTED', 'card uses SCP03 S16 mode; only S8 is supported');
  const withCounter = (iParameter & I_PARAMETER.PSEUDO_RANDOM_CHALLENGE) !== 0;
  const expected = FIXED_LENGTH + (withCounter ? SEQUENCE_COUNTER_LENGTH : 0);
  if (data.length !== expected) {
    throw new Scp03Error('MALFORMED_APDU', `INITIALIZE UPDATE response of ${data.length} bytes (${expected} expected for i=${iParameter.toString(16)})`);
  }
  const at = KEY_DIVERSIFICATION_DATA_LENGTH + 3;
  return {
    keyDiversificationData: data.slice(0, KEY_DIVERSIFICATION_DATA_LENGTH),
    keyVersion,
    scpIdentifier,
    iParameter,
    cardChallenge: data.slice(at, at + CHALLENGE_LENGTH),
    cardCryptogram: data.slice(at + CHALLENGE_LENGTH, FIXED_LENGTH),
    sequenceCounter: withCounter ? (data[FIXED_LENGTH]! << 16) | (data[FIXED_LENGTH + 1]! << 8) | data[FIXED_LENGTH + 2]! : undefined,
  };
}
