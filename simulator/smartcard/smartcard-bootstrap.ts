/**
 * Bootstrap from Smartcard on the client (LwM2M Core 1.1 §5.2.2.3 as seeds 000 and 001 word it):
 * read the card, apply its Bootstrap Information, and at each check compare the card with what
 * was applied. A changed card, a removed one, or one that can no longer be read disables what
 * the old card provisioned: its instances are deleted ("MUST be deleted"). Seed 001 relaxes the
 * application of a card's data to SHOULD, so a client may decline it (`accept`); deleting the
 * old card's data stays a MUST either way.
 *
 * An unreadable card fails closed: the client cannot tell that the data it applied is still on
 * the card, so it treats the card as changed.
 */
import { isCodecError } from '../../shared/errors.ts';
import type { SmartcardBootstrap } from '../../shared/smartcard/bootstrap-file.ts';
import { isScp03Error } from '../../shared/smartcard/scp03-error.ts';
import type { Scp03KeySet } from '../../shared/smartcard/scp03-keys.ts';
import type { ClientObjectStore } from '../client-state.ts';
import { isCardRemovedError, type CardConnection } from './card-connection.ts';
import { readSmartcard } from './card-reader.ts';

export interface SmartcardOptions {
  /** The card in the device's reader (a SimulatedUicc, or anything speaking APDUs). */
  readonly card: CardConnection;
  /** The SCP03 static keys the device shares with the card. */
  readonly keys: Scp03KeySet;
  /** SCP03 security level; default 0x33 (C-MAC, C-DECRYPTION, R-MAC, R-ENCRYPTION). */
  readonly securityLevel?: number;
  /**
   * Seed 001: the client SHOULD (no longer MUST) apply the card's Bootstrap Information, so it may
   * choose not to. Return false to leave the card's data unapplied. Default: apply.
   */
  readonly accept?: (bootstrap: SmartcardBootstrap) => boolean;
}

export type SmartcardOutcome =
  /** The card's data is now applied (first read, or a changed card). */
  | 'applied'
  /** The card still holds the file that was applied. */
  | 'unchanged'
  /** The card's data was read and checked, and the client chose not to apply it (seed 001). */
  | 'declined'
  | 'no-card'
  | 'no-bootstrap-data'
  | 'unreadable';

/** A card failure, named without any key material. */
export interface SmartcardError {
  readonly name: string;
  readonly code: string | undefined;
  readonly message: string;
}

export interface SmartcardCheck {
  readonly outcome: SmartcardOutcome;
  /** 'smartcard-read', then 'smartcard-unchanged' | 'smartcard-changed' | 'smartcard-removed' | ..., 'smartcard-accounts-deleted', 'smartcard-applied'. */
  readonly steps: string[];
  /** Paths of the instances deleted because they came from the old card. */
  readonly deleted: string[];
  readonly fingerprint?: string;
  readonly error?: SmartcardError;
}

export async function checkSmartcard(store: ClientObjectStore, options: SmartcardOptions): Promise<SmartcardCheck> {
  const steps = ['smartcard-read'];
  const previous = store.smartcardProvision();
  let deleted: string[] = [];
  const disablePrevious = (): void => {
    if (previous === undefined) return;
    deleted = store.removeSmartcard();
    steps.push('smartcard-accounts-deleted');
  };

  let read: Awaited<ReturnType<typeof readSmartcard>>;
  try {
    read = await readSmartcard(options.card, {
      keys: options.keys,
      ...(options.securityLevel === undefined ? {} : { securityLevel: options.securityLevel }),
    });
  } catch (error) {
    if (isCardRemovedError(error)) {
      steps.push(previous === undefined ? 'smartcard-absent' : 'smartcard-removed');
      disablePrevious();
      return { outcome: 'no-card', steps, deleted };
    }
    if (!isScp03Error(error) && !isCodecError(error)) throw error;
    steps.push('smartcard-unreadable');
    disablePrevious();
    return { outcome: 'unreadable', steps, deleted, error: { name: error.name, code: error.code, message: error.message } };
  }

  if (read.status === 'no-bootstrap-data') {
    steps.push('smartcard-no-bootstrap-data');
    disablePrevious();
    return { outcome: 'no-bootstrap-data', steps, deleted };
  }
  const { fingerprint } = read;
  if (previous?.fingerprint === fingerprint) {
    steps.push('smartcard-unchanged');
    return { outcome: 'unchanged', steps, deleted, fingerprint };
  }
  if (previous !== undefined) steps.push('smartcard-changed');
  disablePrevious();
  if (options.accept !== undefined && !options.accept(read.bootstrap)) {
    steps.push('smartcard-declined');
    return { outcome: 'declined', steps, deleted, fingerprint };
  }
  store.applySmartcard(
    read.bootstrap.objects.map(({ object }) => object),
    fingerprint,
  );
  steps.push('smartcard-applied');
  return { outcome: 'applied', steps, deleted, fingerprint };
}
