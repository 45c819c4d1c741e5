/**
 * The anti-replay sliding window of RFC 6347 section 4.1.2.6, 64 records wide, one per epoch.
 * `mayAccept` runs before record protection is checked and `markReceived` only after it passed,
 * so forged records cannot move the window.
 */
import { MAX_SEQUENCE_NUMBER } from './record.ts';

export const REPLAY_WINDOW_SIZE = 64;
const WINDOW_MASK = (1n << BigInt(REPLAY_WINDOW_SIZE)) - 1n;

export class ReplayWindow {
  /** Highest sequence number received; -1 before the first. */
  #highest = -1;
  /** Bit i set: record (highest - i) was received. */
  #seen = 0n;

  /** False for a duplicate, for a record left of the window, or for a number that is not uint48. */
  mayAccept(sequenceNumber: number): boolean {
    if (!Number.isInteger(sequenceNumber) || sequenceNumber < 0 || sequenceNumber > MAX_SEQUENCE_NUMBER) return false;
    if (sequenceNumber > this.#highest) return true;
    const age = this.#highest - sequenceNumber;
    if (age >= REPLAY_WINDOW_SIZE) return false;
    return ((this.#seen >> BigInt(age)) & 1n) === 0n;
  }

  /** Records an authenticated record; call only when mayAccept returned true for it. */
  markReceived(sequenceNumber: number): void {
    if (!this.mayAccept(sequenceNumber)) return;
    if (sequenceNumber > this.#highest) {
      const shift = sequenceNumber - this.#highest;
      this.#seen = shift >= REPLAY_WINDOW_SIZE ? 1n : ((this.#seen << BigInt(shift)) | 1n) & WINDOW_MASK;
      this.#highest = sequenceNumber;
    } else {
      this.#seen |= 1n << BigInt(this.#highest - sequenceNumber);
    }
  }

  /** A new epoch starts its own sequence space (RFC 6347 section 4.1). */
  reset(): void {
    this.#highest = -1;
    this.#seen = 0n;
  }
}
