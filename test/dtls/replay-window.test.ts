import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { REPLAY_WINDOW_SIZE, ReplayWindow } from '../../server/dtls/replay-window.ts';

/** mayAccept then markReceived, as the record layer does once protection has been checked. */
function receive(window: ReplayWindow, sequenceNumber: number): boolean {
  if (!window.mayAccept(sequenceNumber)) return false;
  window.markReceived(sequenceNumber);
  return true;
}

describe('anti-replay window (RFC 6347 4.1.2.6)', () => {
  it('accepts the first record, whatever its number, and refuses its duplicate', () => {
    const window = new ReplayWindow();
    assert.ok(receive(window, 0));
    assert.ok(!receive(window, 0));
    const late = new ReplayWindow();
    assert.ok(receive(late, 1000));
    assert.ok(!receive(late, 1000));
  });

  it('accepts reordered records inside the window once each', () => {
    const window = new ReplayWindow();
    for (const seq of [5, 3, 4, 1, 2, 0]) assert.ok(receive(window, seq), `seq ${seq}`);
    for (const seq of [0, 1, 2, 3, 4, 5]) assert.ok(!receive(window, seq), `replayed ${seq}`);
  });

  it('the window edge: highest - 63 is inside, highest - 64 is outside', () => {
    const window = new ReplayWindow();
    assert.ok(receive(window, 100));
    assert.ok(window.mayAccept(100 - (REPLAY_WINDOW_SIZE - 1)));
    assert.ok(!window.mayAccept(100 - REPLAY_WINDOW_SIZE));
    assert.ok(receive(window, 37));
    assert.ok(!receive(window, 37));
  });

  it('a jump of 64 or more forgets everything behind the window', () => {
    const window = new ReplayWindow();
    for (let seq = 0; seq < 10; seq++) receive(window, seq);
    assert.ok(receive(window, 9 + REPLAY_WINDOW_SIZE));
    assert.ok(!window.mayAccept(9), 'now left of the window');
    assert.ok(window.mayAccept(10), 'never seen, inside');
    assert.ok(receive(window, 1000));
    assert.ok(!window.mayAccept(9 + REPLAY_WINDOW_SIZE));
    assert.ok(window.mayAccept(999));
  });

  it('a shift of exactly 63 keeps the old highest at the far edge', () => {
    const window = new ReplayWindow();
    receive(window, 0);
    receive(window, 63);
    assert.ok(!window.mayAccept(0));
    assert.ok(window.mayAccept(1));
  });

  it('forged records do not move the window: only markReceived does', () => {
    const window = new ReplayWindow();
    receive(window, 10);
    assert.ok(window.mayAccept(2 ** 40));
    assert.ok(window.mayAccept(5), 'checking a high number did not advance the window');
  });

  it('handles the top of the 48-bit space and refuses numbers outside it', () => {
    const window = new ReplayWindow();
    assert.ok(receive(window, 2 ** 48 - 1));
    assert.ok(!receive(window, 2 ** 48 - 1));
    assert.ok(receive(window, 2 ** 48 - 2));
    for (const bad of [-1, 2 ** 48, 1.5, Number.NaN]) assert.ok(!window.mayAccept(bad));
  });

  it('reset starts a new epoch', () => {
    const window = new ReplayWindow();
    receive(window, 7);
    window.reset();
    assert.ok(receive(window, 7));
  });

  it('matches a set-based model for any arrival order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 200 }), (arrivals) => {
        const window = new ReplayWindow();
        const seen = new Set<number>();
        let highest = -1;
        for (const seq of arrivals) {
          const expected = !seen.has(seq) && seq > highest - REPLAY_WINDOW_SIZE;
          assert.equal(receive(window, seq), expected, `seq ${seq} after ${[...seen].join(',')}`);
          if (expected) {
            seen.add(seq);
            highest = Math.max(highest, seq);
          }
        }
      }),
    );
  });
});
