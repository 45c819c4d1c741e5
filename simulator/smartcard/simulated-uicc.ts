/**
 * A simulated UICC in a reader slot: a card image served by a CardFileSystem behind an Scp03Card
 * (the PKCS#15 application's Security Domain, the default one as Appendix H has it). Tests take
 * it out, put it back, or swap it for another card, as a user does with a SIM; a reader talking
 * to an empty slot gets a CardRemovedError. Every insertion is a power-on: no session and no
 * selection survive it.
 */
import type { CardImage } from '../../shared/smartcard/card-image.ts';
import type { Scp03KeySet } from '../../shared/smartcard/scp03-keys.ts';
import { CardRemovedError, type CardConnection } from './card-connection.ts';
import { CardFileSystem, type CardFileSystemOptions } from './card-file-system.ts';
import { Scp03Card, type Scp03CardOptions } from './scp03-card.ts';

export interface SimulatedUiccOptions extends CardFileSystemOptions, Omit<Scp03CardOptions, 'application' | 'keys'> {
  readonly image: CardImage;
  /** The card's static SCP03 keys (KEY_ENC, KEY_MAC, KEY_DEK). */
  readonly keys: Scp03KeySet;
  /** In the slot from the start (default true). */
  readonly inserted?: boolean;
}

interface InsertedCard {
  readonly files: CardFileSystem;
  readonly securityDomain: Scp03Card;
}

export class SimulatedUicc implements CardConnection {
  #options: SimulatedUiccOptions;
  #card: InsertedCard | undefined;
  #commands = 0;
  /** The card's SCP03 sequence counter outlives a removal, as it lives in the card's memory. */
  #sequenceCounter: number | undefined;

  constructor(options: SimulatedUiccOptions) {
    this.#options = options;
    if (options.inserted ?? true) this.insert();
  }

  get present(): boolean {
    return this.#card !== undefined;
  }

  /** Commands the card has answered since it was made: lets a test see the device talked to it. */
  get commandCount(): number {
    return this.#commands;
  }

  /** Puts the card (back) in the slot, powered on afresh. */
  insert(): void {
    const { image, keys, ...rest } = this.#options;
    const files = new CardFileSystem(image, rest);
    const sequenceCounter = this.#card?.securityDomain.sequenceCounter ?? this.#sequenceCounter ?? rest.sequenceCounter;
    this.#card = {
      files,
      securityDomain: new Scp03Card({ ...rest, keys, application: files.application, ...(sequenceCounter === undefined ? {} : { sequenceCounter }) }),
    };
  }

  remove(): void {
    if (this.#card !== undefined) this.#sequenceCounter = this.#card.securityDomain.sequenceCounter;
    this.#card = undefined;
  }

  /**
   * Another card in the slot: a new image, and new static keys when given (a card the device
   * shares no keys with). The sequence counter starts again, as on a fresh card.
   */
  replace(image: CardImage, options: { readonly keys?: Scp03KeySet } = {}): void {
    this.#options = { ...this.#options, image, keys: options.keys ?? this.#options.keys };
    this.#card = undefined;
    this.#sequenceCounter = undefined;
    this.insert();
  }

  reset(): void {
    const card = this.#card;
    if (card === undefined) throw new CardRemovedError();
    card.files.reset();
    card.securityDomain.reset();
  }

  transmit(command: Uint8Array): Uint8Array {
    const card = this.#card;
    if (card === undefined) throw new CardRemovedError();
    this.#commands += 1;
    return card.securityDomain.transmit(command);
  }
}
