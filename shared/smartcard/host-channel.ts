/**
 * The off-card entity's side of one SCP03 session (Amendment D section 7): build INITIALIZE
 * UPDATE, check the card's answer and card cryptogram, build EXTERNAL AUTHENTICATE with the host
 * cryptogram, then protect every command and verify every response at the chosen level.
 *
 * The object is single-use and fails closed: after any error it refuses further work, and a
 * new session starts with a new object. The transport is the caller's; this only makes and
 * checks APDUs.
 */
import { randomBytes } from 'node:crypto';
import { CLA_SECURE_MESSAGING, SW, statusWordHex, type CommandApdu, type ResponseApdu } from './apdu.ts';
import {
  I_PARAMETER,
  decodeInitializeUpdateResponse,
  externalAuthenticateCommand,
  initializeUpdateCommand,
  type InitializeUpdateResponse,
} from './initialize-update.ts';
import { Scp03Error } from './scp03-error.ts';
import type { Scp03KeySet } from './scp03-keys.ts';
import { CHALLENGE_LENGTH, cardCryptogram, constantTimeEqual, deriveSessionKeys, hostCryptogram, sessionContext } from './scp03-session.ts';
import { SecureMessaging } from './secure-messaging.ts';
import { checkSecurityLevel, hasResponseEncryption, hasResponseMac } from './security-level.ts';

export interface HostChannelOptions {
  readonly keys: Scp03KeySet;
  /** Level for the session, e.g. 0x33 for C-MAC, C-DECRYPTION, R-MAC and R-ENCRYPTION. */
  readonly securityLevel: number;
  /** Key version to ask the card for; 0 lets the card pick. Defaults to the key set's. */
  readonly keyVersion?: number;
  /** Fixed host challenge, for published test traces; otherwise 8 random bytes. */
  readonly hostChallenge?: Uint8Array;
}

type HostState = 'new' | 'initializing' | 'authenticating' | 'open' | 'closed';

export class Scp03HostChannel {
  readonly #keys: Scp03KeySet;
  readonly #level: number;
  readonly #keyVersion: number;
  readonly #hostChallenge: Uint8Array;
  #state: HostState = 'new';
  #messaging: SecureMessaging | undefined;
  #card: InitializeUpdateResponse | undefined;

  constructor(options: HostChannelOptions) {
    this.#keys = options.keys;
    this.#level = checkSecurityLevel(options.securityLevel);
    this.#keyVersion = options.keyVersion ?? options.keys.keyVersion;
    this.#hostChallenge = options.hostChallenge?.slice() ?? new Uint8Array(randomBytes(CHALLENGE_LENGTH));
    if (this.#hostChallenge.length !== CHALLENGE_LENGTH) throw new Scp03Error('MALFORMED_APDU', 'host challenge must be 8 bytes');
  }

  get isOpen(): boolean {
    return this.#state === 'open';
  }

  get securityLevel(): number {
    return this.#level;
  }

  /** What the card said about itself in INITIALIZE UPDATE (key diversification data, counter, ...). */
  get cardInfo(): Omit<InitializeUpdateResponse, 'cardCryptogram'> | undefined {
    const card = this.#card;
    if (card === undefined) return undefined;
    return {
      keyDiversificationData: card.keyDiversificationData,
      keyVersion: card.keyVersion,
      scpIdentifier: card.scpIdentifier,
      iParameter: card.iParameter,
      cardChallenge: card.cardChallenge,
      sequenceCounter: card.sequenceCounter,
    };
  }

  close(): void {
    this.#state = 'closed';
    this.#messaging = undefined;
  }

  #expect(state: HostState, step: string): void {
    if (this.#state !== state) throw new Scp03Error('SEQUENCE', `${step} while the channel is ${this.#state}`);
  }

  /** Runs a step; any error closes the channel before it propagates. */
  #failClosed<T>(step: () => T): T {
    try {
      return step();
    } catch (error) {
      this.close();
      throw error;
    }
  }

  initializeUpdate(): CommandApdu {
    this.#expect('new', 'INITIALIZE UPDATE');
    this.#state = 'initializing';
    return initializeUpdateCommand(this.#keyVersion, this.#hostChallenge);
  }

  /** Checks the card's INITIALIZE UPDATE response and returns the EXTERNAL AUTHENTICATE to send. */
  externalAuthenticate(response: ResponseApdu): CommandApdu {
    this.#expect('initializing', 'EXTERNAL AUTHENTICATE');
    return this.#failClosed(() => {
      if (response.sw !== SW.OK) throw new Scp03Error('STATUS', `INITIALIZE UPDATE answered ${statusWordHex(response.sw)}`, response.sw);
      const card = decodeInitializeUpdateResponse(response.data);
      if (this.#keyVersion !== 0 && card.keyVersion !== this.#keyVersion) {
        throw new Scp03Error('KEY_VERSION', `card answered with key version ${card.keyVersion}, not ${this.#keyVersion}`);
      }
      if (hasResponseMac(this.#level) && (card.iParameter & I_PARAMETER.R_MAC_SUPPORT) === 0) {
        throw new Scp03Error('SECURITY_LEVEL', 'card does not support R-MAC');
      }
      if (hasResponseEncryption(this.#level) && (card.iParameter & I_PARAMETER.R_ENCRYPTION_SUPPORT) === 0) {
        throw new Scp03Error('SECURITY_LEVEL', 'card does not support R-ENCRYPTION');
      }
      const context = sessionContext(this.#hostChallenge, card.cardChallenge);
      const keys = deriveSessionKeys(this.#keys, context);
      if (!constantTimeEqual(cardCryptogram(keys.sMac, context), card.cardCryptogram)) {
        throw new Scp03Error('CARD_CRYPTOGRAM', 'card cryptogram does not verify (wrong static keys or key version)');
      }
      this.#card = card;
      this.#messaging = new SecureMessaging(keys);
      this.#state = 'authenticating';
      return this.#messaging.macExternalAuthenticate(externalAuthenticateCommand(this.#level, hostCryptogram(keys.sMac, context)));
    });
  }

  /** Takes the card's answer to EXTERNAL AUTHENTICATE; the channel is open once it is 9000. */
  confirm(response: ResponseApdu): void {
    this.#expect('authenticating', 'EXTERNAL AUTHENTICATE response');
    this.#failClosed(() => {
      if (response.sw !== SW.OK) throw new Scp03Error('STATUS', `EXTERNAL AUTHENTICATE answered ${statusWordHex(response.sw)}`, response.sw);
      this.#messaging!.startSession(this.#level);
      this.#state = 'open';
    });
  }

  /** A plain command (CLA without the secure messaging bit) protected for the open session. */
  wrap(command: CommandApdu): CommandApdu {
    this.#expect('open', 'wrap');
    return this.#failClosed(() => {
      if ((command.cla & CLA_SECURE_MESSAGING) !== 0) throw new Scp03Error('MALFORMED_APDU', 'command already has the secure messaging bit');
      return this.#messaging!.protectCommand(command);
    });
  }

  /**
   * The card's response to the last wrapped command, verified and decrypted. 6982 means the card
   * rejected the command's protection and closed its side, so this side closes too.
   */
  unwrap(response: ResponseApdu): ResponseApdu {
    this.#expect('open', 'unwrap');
    return this.#failClosed(() => {
      if (response.sw === SW.SECURITY_STATUS_NOT_SATISFIED) {
        throw new Scp03Error('STATUS', 'card closed the secure channel (6982)', response.sw);
      }
      return this.#messaging!.verifyResponse(response);
    });
  }
}
