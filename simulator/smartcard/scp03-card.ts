/**
 * A simulated card's Security Domain speaking SCP03 (Amendment D section 7), in front of a card
 * application (the PKCS#15 bootstrap file, in the smartcard mode). It answers INITIALIZE UPDATE,
 * verifies EXTERNAL AUTHENTICATE, then verifies and decrypts every protected command before the
 * application sees it and protects every response.
 *
 * It fails closed as a card does: a C-MAC that does not verify (a tampered, replayed or
 * reordered command, a wrong key) or a command without secure messaging inside a session
 * answers 6982 and ends the session; a host cryptogram that does not verify answers 6300 (GP Card
 * Specification 11.8.3) and ends it too. Key material never leaves the object.
 */
import { randomBytes } from 'node:crypto';
import {
  CLA_GLOBALPLATFORM,
  CLA_SECURE_MESSAGING,
  SW,
  decodeCommandApdu,
  encodeResponseApdu,
  type CommandApdu,
  type ResponseApdu,
} from '../../shared/smartcard/apdu.ts';
import {
  I_PARAMETER,
  INS_EXTERNAL_AUTHENTICATE,
  INS_INITIALIZE_UPDATE,
  KEY_DIVERSIFICATION_DATA_LENGTH,
  SCP03_IDENTIFIER,
  encodeInitializeUpdateResponse,
} from '../../shared/smartcard/initialize-update.ts';
import { isScp03Error } from '../../shared/smartcard/scp03-error.ts';
import type { Scp03KeySet } from '../../shared/smartcard/scp03-keys.ts';
import {
  CHALLENGE_LENGTH,
  CRYPTOGRAM_LENGTH,
  cardCryptogram,
  constantTimeEqual,
  deriveSessionKeys,
  hostCryptogram,
  pseudoRandomCardChallenge,
  sessionContext,
} from '../../shared/smartcard/scp03-session.ts';
import { SecureMessaging } from '../../shared/smartcard/secure-messaging.ts';
import { VALID_SECURITY_LEVELS } from '../../shared/smartcard/security-level.ts';

/** What the application behind the Security Domain is told about the command it gets. */
export interface CardCommandContext {
  /** The level of the open secure channel; undefined when the command came in without one. */
  readonly securityLevel: number | undefined;
}

export type CardApplication = (command: CommandApdu, context: CardCommandContext) => ResponseApdu;

/** The Issuer Security Domain's AID (GP Card Specification), the default context of a pseudo-random challenge. */
export const ISD_AID = Uint8Array.from([0xa0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00, 0x00]);

export interface Scp03CardOptions {
  readonly keys: Scp03KeySet;
  readonly application: CardApplication;
  /** 10 bytes returned in INITIALIZE UPDATE; zeros by default (keys not diversified). */
  readonly keyDiversificationData?: Uint8Array;
  /** Pseudo-random card challenges from a sequence counter (default), or random ones. */
  readonly pseudoRandomChallenge?: boolean;
  /** AID of the Security Domain, the context of a pseudo-random challenge. */
  readonly securityDomainAid?: Uint8Array;
  /** The sequence counter the next INITIALIZE UPDATE uses. */
  readonly sequenceCounter?: number;
}

interface PendingSession {
  readonly messaging: SecureMessaging;
  readonly context: Uint8Array;
  readonly sMac: Uint8Array;
}

const respond = (sw: number, data: Uint8Array = new Uint8Array(0)): ResponseApdu => ({ data, sw });

export class Scp03Card {
  readonly #keys: Scp03KeySet;
  readonly #application: CardApplication;
  readonly #diversification: Uint8Array;
  readonly #pseudoRandom: boolean;
  readonly #aid: Uint8Array;
  #sequenceCounter: number;
  #pending: PendingSession | undefined;
  #session: SecureMessaging | undefined;

  constructor(options: Scp03CardOptions) {
    this.#keys = options.keys;
    this.#application = options.application;
    this.#diversification = options.keyDiversificationData?.slice() ?? new Uint8Array(KEY_DIVERSIFICATION_DATA_LENGTH);
    if (this.#diversification.length !== KEY_DIVERSIFICATION_DATA_LENGTH) throw new RangeError('key diversification data must be 10 bytes');
    this.#pseudoRandom = options.pseudoRandomChallenge ?? true;
    this.#aid = options.securityDomainAid?.slice() ?? ISD_AID.slice();
    this.#sequenceCounter = options.sequenceCounter ?? 0;
  }

  /** The open session's level; undefined when no session is open. */
  get securityLevel(): number | undefined {
    return this.#session?.securityLevel;
  }

  get sequenceCounter(): number {
    return this.#sequenceCounter;
  }

  /** Drops any session, as a card reset or power cycle does. */
  reset(): void {
    this.#pending = undefined;
    this.#session = undefined;
  }

  /** The card's APDU interface: command bytes in, response bytes out. */
  transmit(command: Uint8Array): Uint8Array {
    let decoded: CommandApdu;
    try {
      decoded = decodeCommandApdu(command);
    } catch {
      this.reset();
      return encodeResponseApdu(respond(SW.WRONG_LENGTH));
    }
    return encodeResponseApdu(this.process(decoded));
  }

  process(command: CommandApdu): ResponseApdu {
    const gp = (command.cla & 0xf0) === CLA_GLOBALPLATFORM;
    if (gp && command.ins === INS_INITIALIZE_UPDATE) return this.#initializeUpdate(command);
    if (gp && command.ins === INS_EXTERNAL_AUTHENTICATE) return this.#externalAuthenticate(command);
    // Anything but EXTERNAL AUTHENTICATE after INITIALIZE UPDATE abandons the half-open session.
    this.#pending = undefined;
    const session = this.#session;
    if (session === undefined) {
      if ((command.cla & CLA_SECURE_MESSAGING) !== 0) return respond(SW.SECURITY_STATUS_NOT_SATISFIED);
      return this.#run(command, undefined);
    }
    let plain: CommandApdu;
    try {
      plain = session.verifyCommand(command);
    } catch (error) {
      if (!isScp03Error(error)) throw error;
      this.reset();
      return respond(SW.SECURITY_STATUS_NOT_SATISFIED);
    }
    return session.protectResponse(this.#run(plain, session.securityLevel));
  }

  #run(command: CommandApdu, securityLevel: number | undefined): ResponseApdu {
    try {
      return this.#application(command, { securityLevel });
    } catch {
      return respond(0x6f00); // no precise diagnosis, as a card reports an internal fault
    }
  }

  #initializeUpdate(command: CommandApdu): ResponseApdu {
    this.reset();
    if (command.p2 !== 0x00) return respond(SW.INCORRECT_P1_P2);
    if (command.data.length !== CHALLENGE_LENGTH) return respond(SW.WRONG_LENGTH);
    if (command.p1 !== 0x00 && command.p1 !== this.#keys.keyVersion) return respond(SW.REFERENCED_DATA_NOT_FOUND);

    let cardChallenge: Uint8Array;
    let sequenceCounter: number | undefined;
    if (this.#pseudoRandom) {
      if (this.#sequenceCounter > 0xffffff) return respond(SW.CONDITIONS_NOT_SATISFIED); // counter exhausted: no more sessions
      sequenceCounter = this.#sequenceCounter;
      // A challenge is never reused, even for a session that is never completed.
      this.#sequenceCounter += 1;
      cardChallenge = pseudoRandomCardChallenge(this.#keys.enc, sequenceCounter, this.#aid);
    } else {
      cardChallenge = new Uint8Array(randomBytes(CHALLENGE_LENGTH));
    }
    const context = sessionContext(command.data, cardChallenge);
    const keys = deriveSessionKeys(this.#keys, context);
    this.#pending = { messaging: new SecureMessaging(keys), context, sMac: keys.sMac };
    const iParameter =
      I_PARAMETER.R_MAC_SUPPORT | I_PARAMETER.R_ENCRYPTION_SUPPORT | (this.#pseudoRandom ? I_PARAMETER.PSEUDO_RANDOM_CHALLENGE : 0);
    const data = encodeInitializeUpdateResponse({
      keyDiversificationData: this.#diversification,
      keyVersion: this.#keys.keyVersion,
      scpIdentifier: SCP03_IDENTIFIER,
      iParameter,
      cardChallenge,
      cardCryptogram: cardCryptogram(keys.sMac, context),
      sequenceCounter,
    });
    return respond(SW.OK, data);
  }

  #externalAuthenticate(command: CommandApdu): ResponseApdu {
    const pending = this.#pending;
    this.reset();
    if (pending === undefined) return respond(SW.CONDITIONS_NOT_SATISFIED);
    if (command.p2 !== 0x00 || !VALID_SECURITY_LEVELS.includes(command.p1)) return respond(SW.INCORRECT_P1_P2);
    let checked: CommandApdu;
    try {
      checked = pending.messaging.verifyExternalAuthenticate(command);
    } catch (error) {
      if (!isScp03Error(error)) throw error;
      return respond(SW.SECURITY_STATUS_NOT_SATISFIED);
    }
    if (checked.data.length !== CRYPTOGRAM_LENGTH) return respond(SW.WRONG_LENGTH);
    if (!constantTimeEqual(hostCryptogram(pending.sMac, pending.context), checked.data)) return respond(SW.AUTHENTICATION_FAILED);
    pending.messaging.startSession(command.p1);
    this.#session = pending.messaging;
    return respond(SW.OK);
  }
}
