import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { deviceEntrySchema, type DeviceEntry } from '../../shared/bootstrap/device.ts';
import { profileSchema, type Profile } from '../../shared/bootstrap/profile.ts';
import { decideOnAttach, markForBootstrap, recordBootstrapSuccess, type AttachDecision } from '../../shared/lifecycle/attach-decision.ts';
import { attachEventSchema, compareEventTimes, type AttachEvent } from '../../shared/lifecycle/attach-event.ts';
import { emptyLifecycleRecord, lifecycleRecordSchema, RECENT_EVENT_IDS, SIM_CHANGES_KEPT, type LifecycleRecord } from '../../shared/lifecycle/lifecycle-record.ts';
import { profileFingerprint } from '../../shared/lifecycle/profile-fingerprint.ts';

const KEY = '00112233445566778899aabbccddeeff';
const CARD_A = '89340701234567890123';
const CARD_B = '89340709876543210987';
const CARD_C = '89340705555555555555';
const NOW = new Date('2026-11-23T12:00:00.000Z');
const LATER = new Date('2026-11-23T13:00:00.000Z');

const PROFILE: Profile = profileSchema.parse({
  name: 'meters',
  servers: [{ shortServerId: 101, uri: 'coaps://lwm2m.example:5684', securityMode: 'psk' }],
});
const DEVICE: DeviceEntry = deviceEntrySchema.parse({
  endpoint: 'urn:imei:356938035643809',
  profile: 'meters',
  identities: { imei: '356938035643809', iccid: CARD_A },
  serverCredentials: { '101': { identity: 'dm-1', secretKey: KEY } },
});
const FINGERPRINT = profileFingerprint(PROFILE, DEVICE);

function attach(eventId: string, eventTime: string, change: Partial<AttachEvent> = {}): AttachEvent {
  return attachEventSchema.parse({ eventId, eventTime, carrier: 'example-mno', iccid: CARD_A, imei: '356938035643809', address: '10.45.3.17', port: 56830, ...change });
}

/** A device bootstrapped on card A with the current profile, seen attaching at 10:00. */
function settled(): LifecycleRecord {
  const seen = lifecycleAfter(decideOnAttach({ device: DEVICE, profile: PROFILE, lifecycle: emptyLifecycleRecord(), event: attach('e0', '2026-11-23T10:00:00Z'), now: NOW }));
  return recordBootstrapSuccess(seen, { profileFingerprint: FINGERPRINT, iccid: CARD_A, at: NOW.toISOString() });
}

function lifecycleAfter(decision: AttachDecision): LifecycleRecord {
  assert.notEqual(decision.decision, 'ignore', 'expected the event to be taken');
  if (decision.decision === 'ignore') throw new Error('unreachable');
  // Every record a decision returns is one the store can read back.
  assert.deepEqual(lifecycleRecordSchema.parse(decision.lifecycle), decision.lifecycle);
  return decision.lifecycle;
}

const decide = (lifecycle: LifecycleRecord, event: AttachEvent, device: DeviceEntry = DEVICE, profile: Profile = PROFILE, now: Date = LATER): AttachDecision =>
  decideOnAttach({ device, profile, lifecycle, event, now });

describe('decideOnAttach', () => {
  it('initiates a bootstrap of a device never bootstrapped, to the address in the event', () => {
    const event = attach('e1', '2026-11-23T10:00:00Z', { address: '2001:db8::17', port: 5683 });
    const decision = decide(emptyLifecycleRecord(), event);
    assert.deepEqual(decision, {
      decision: 'initiate',
      peer: { address: '2001:db8::17', port: 5683 },
      reasons: ['never-bootstrapped'],
      lifecycle: {
        lastAttach: { eventId: 'e1', eventTime: '2026-11-23T10:00:00Z', iccid: CARD_A, address: '2001:db8::17', port: 5683, carrier: 'example-mno' },
        recentEventIds: ['e1'],
        simChanges: [],
        bootstrapNeeded: { reason: 'never-bootstrapped', since: LATER.toISOString() },
      },
    });
  });

  it('only records a bootstrapped device with an unchanged profile and card', () => {
    const decision = decide(settled(), attach('e1', '2026-11-23T11:00:00Z', { address: '10.45.9.9' }));
    assert.equal(decision.decision, 'record');
    const lifecycle = lifecycleAfter(decision);
    assert.deepEqual(lifecycle.lastAttach, { eventId: 'e1', eventTime: '2026-11-23T11:00:00Z', iccid: CARD_A, address: '10.45.9.9', port: 56830, carrier: 'example-mno' });
    assert.deepEqual(lifecycle.recentEventIds, ['e0', 'e1']);
    assert.equal(lifecycle.bootstrapNeeded, undefined);
    assert.deepEqual(lifecycle.bootstrappedWith, settled().bootstrappedWith);
  });

  it('ignores a redelivered event, and a second decision on it writes nothing', () => {
    const event = attach('e1', '2026-11-23T11:00:00Z');
    const once = lifecycleAfter(decide(settled(), event));
    assert.deepEqual(decide(once, event), { decision: 'ignore', reason: 'duplicate' });
    // Redelivered with a different body (a carrier retry re-stamping it): still the same event.
    assert.deepEqual(decide(once, attach('e1', '2026-11-23T11:30:00Z', { address: '10.0.0.1' })), { decision: 'ignore', reason: 'duplicate' });
    assert.deepEqual(decide(once, attach('e0', '2026-11-23T10:00:00Z')), { decision: 'ignore', reason: 'duplicate' });
  });

  it('ignores an event older than the last, whatever it says', () => {
    const lifecycle = lifecycleAfter(decide(settled(), attach('e2', '2026-11-23T11:00:00Z')));
    for (const change of [{}, { iccid: CARD_B }, { address: '10.99.0.1' }]) {
      assert.deepEqual(decide(lifecycle, attach('e1', '2026-11-23T10:59:59.999Z', change)), { decision: 'ignore', reason: 'stale' });
    }
    // The same instant written with an offset is not older.
    assert.notEqual(decide(lifecycle, attach('e3', '2026-11-23T12:00:00+01:00')).decision, 'ignore');
  });

  it('takes another event with the same time, but lastAttach goes to the greater id', () => {
    const lifecycle = lifecycleAfter(decide(settled(), attach('m', '2026-11-23T11:00:00Z', { address: '10.0.0.13' })));
    const lower = lifecycleAfter(decide(lifecycle, attach('a', '2026-11-23T11:00:00Z', { address: '10.0.0.1' })));
    assert.equal(lower.lastAttach?.eventId, 'm');
    assert.deepEqual(lower.recentEventIds, ['e0', 'm', 'a']);
    const higher = lifecycleAfter(decide(lower, attach('z', '2026-11-23T11:00:00Z', { address: '10.0.0.26' })));
    assert.equal(higher.lastAttach?.eventId, 'z');
    assert.equal(higher.lastAttach?.address, '10.0.0.26');
    assert.deepEqual(decide(higher, attach('a', '2026-11-23T11:00:00Z')), { decision: 'ignore', reason: 'duplicate' });
  });

  it('keeps only the last event ids and SIM changes', () => {
    let lifecycle = settled();
    for (let minute = 1; minute <= RECENT_EVENT_IDS + 5; minute += 1) {
      lifecycle = lifecycleAfter(decide(lifecycle, attach(`e${minute}`, `2026-11-23T11:${String(minute).padStart(2, '0')}:00Z`)));
    }
    assert.equal(lifecycle.recentEventIds.length, RECENT_EVENT_IDS);
    assert.equal(lifecycle.recentEventIds.at(-1), `e${RECENT_EVENT_IDS + 5}`);
    // The evicted ids are older than the last attach: still ignored, now as stale.
    assert.deepEqual(decide(lifecycle, attach('e1', '2026-11-23T11:01:00Z')), { decision: 'ignore', reason: 'stale' });

    let swapping = settled();
    for (let swap = 0; swap < SIM_CHANGES_KEPT + 3; swap += 1) {
      const card = swap % 2 === 0 ? CARD_B : CARD_C;
      swapping = lifecycleAfter(decide(swapping, attach(`s${swap}`, `2026-11-23T12:${String(swap).padStart(2, '0')}:00Z`, { iccid: card })));
    }
    assert.equal(swapping.simChanges.length, SIM_CHANGES_KEPT);
  });

  describe('SIM change', () => {
    it('is an ICCID other than the one the device was bootstrapped with', () => {
      const decision = decide(settled(), attach('e1', '2026-11-23T11:00:00Z', { iccid: CARD_B }));
      assert.equal(decision.decision, 'initiate');
      if (decision.decision !== 'initiate') return;
      assert.deepEqual(decision.simChanged, { from: CARD_A, to: CARD_B });
      assert.deepEqual(decision.reasons, ['sim-changed']);
      assert.deepEqual(decision.lifecycle.simChanges, [{ from: CARD_A, to: CARD_B, at: LATER.toISOString() }]);
      assert.deepEqual(decision.lifecycle.bootstrapNeeded, { reason: 'sim-changed', since: LATER.toISOString() });
      assert.equal(decision.lifecycle.lastAttach?.iccid, CARD_B);
    });

    it('before any bootstrap, is an ICCID other than the entry names', () => {
      const decision = decide(emptyLifecycleRecord(), attach('e1', '2026-11-23T11:00:00Z', { iccid: CARD_B }));
      assert.equal(decision.decision, 'initiate');
      if (decision.decision !== 'initiate') return;
      assert.deepEqual(decision.simChanged, { from: CARD_A, to: CARD_B });
      assert.deepEqual(decision.reasons, ['never-bootstrapped', 'sim-changed']);
      assert.equal(decision.lifecycle.bootstrapNeeded?.reason, 'never-bootstrapped');
    });

    it('is reported once while the re-bootstrap is pending, and the device stays marked', () => {
      const changed = lifecycleAfter(decide(settled(), attach('e1', '2026-11-23T11:00:00Z', { iccid: CARD_B })));
      const again = decide(changed, attach('e2', '2026-11-23T11:05:00Z', { iccid: CARD_B }), DEVICE, PROFILE, new Date('2026-11-23T14:00:00Z'));
      assert.equal(again.decision, 'initiate');
      if (again.decision !== 'initiate') return;
      assert.equal(again.simChanged, undefined);
      assert.deepEqual(again.reasons, ['sim-changed']);
      assert.deepEqual(again.lifecycle.bootstrapNeeded, { reason: 'sim-changed', since: LATER.toISOString() });
      assert.equal(again.lifecycle.simChanges.length, 1);
    });

    it('is settled by a bootstrap on the new card, even when the caller does not name it', () => {
      const changed = lifecycleAfter(decide(settled(), attach('e1', '2026-11-23T11:00:00Z', { iccid: CARD_B })));
      const rebooted = recordBootstrapSuccess(changed, { profileFingerprint: FINGERPRINT, at: LATER.toISOString() });
      assert.equal(rebooted.bootstrappedWith?.iccid, CARD_B);
      // The entry still names card A: the record of the bootstrap wins.
      assert.equal(decide(rebooted, attach('e2', '2026-11-23T11:10:00Z', { iccid: CARD_B })).decision, 'record');
    });

    it('is the same card with or without the filler digit, and no card at all is no change', () => {
      assert.equal(decide(settled(), attach('e1', '2026-11-23T11:00:00Z', { iccid: `${CARD_A}F` })).decision, 'record');
      const withoutCard = attach('e2', '2026-11-23T11:00:00Z');
      delete withoutCard.iccid;
      assert.equal(decide(settled(), withoutCard).decision, 'record');
    });

    it('with no card known yet, the first card seen is learnt, the next different one is a change', () => {
      const anonymous = deviceEntrySchema.parse({ ...DEVICE, identities: { imei: '356938035643809' } });
      const fingerprint = profileFingerprint(PROFILE, anonymous);
      const first = lifecycleAfter(decide(emptyLifecycleRecord(), attach('e1', '2026-11-23T11:00:00Z', { iccid: CARD_B }), anonymous));
      assert.equal(first.simChanges.length, 0);
      const bootstrapped = recordBootstrapSuccess(first, { profileFingerprint: fingerprint, at: LATER.toISOString() });
      assert.equal(decide(bootstrapped, attach('e2', '2026-11-23T11:05:00Z', { iccid: CARD_B }), anonymous).decision, 'record');
      const swapped = decide(bootstrapped, attach('e3', '2026-11-23T11:10:00Z', { iccid: CARD_C }), anonymous);
      assert.equal(swapped.decision, 'initiate');
      assert.deepEqual(swapped.decision === 'initiate' && swapped.simChanged, { from: CARD_B, to: CARD_C });
    });
  });

  describe('profile change', () => {
    it('initiates when the fingerprint of profile and entry differs from the last bootstrap', () => {
      const moved = profileSchema.parse({ ...PROFILE, servers: [{ shortServerId: 101, uri: 'coaps://lwm2m-eu.example:5684', securityMode: 'psk' }] });
      const decision = decide(settled(), attach('e1', '2026-11-23T11:00:00Z'), DEVICE, moved);
      assert.equal(decision.decision, 'initiate');
      assert.deepEqual(decision.decision === 'initiate' && decision.reasons, ['profile-changed']);
      assert.deepEqual(decision.decision === 'initiate' && decision.lifecycle.bootstrapNeeded?.reason, 'profile-changed');
    });

    it('initiates when the device was given a new server key', () => {
      const rekeyed = deviceEntrySchema.parse({ ...DEVICE, serverCredentials: { '101': { identity: 'dm-1', secretKey: 'ff'.repeat(16) } } });
      assert.equal(decide(settled(), attach('e1', '2026-11-23T11:00:00Z'), rekeyed).decision, 'initiate');
    });

    it('records when only the description changed', () => {
      const described = profileSchema.parse({ ...PROFILE, description: 'now with a description' });
      assert.equal(decide(settled(), attach('e1', '2026-11-23T11:00:00Z'), DEVICE, described).decision, 'record');
    });
  });

  describe('marks', () => {
    it('an operator mark initiates at the next attach and keeps its reason and time', () => {
      const marked = markForBootstrap(settled(), 'operator', '2026-11-23T10:30:00.000Z');
      const decision = decide(marked, attach('e1', '2026-11-23T11:00:00Z', { iccid: CARD_B }));
      assert.equal(decision.decision, 'initiate');
      if (decision.decision !== 'initiate') return;
      assert.deepEqual(decision.reasons, ['operator', 'sim-changed']);
      assert.deepEqual(decision.lifecycle.bootstrapNeeded, { reason: 'operator', since: '2026-11-23T10:30:00.000Z' });
    });

    it('a device that never answered stays marked and is offered the bootstrap again', () => {
      const first = lifecycleAfter(decide(emptyLifecycleRecord(), attach('e1', '2026-11-23T10:00:00Z'), DEVICE, PROFILE, NOW));
      const second = decide(first, attach('e2', '2026-11-23T11:00:00Z', { address: '10.45.3.99' }));
      assert.deepEqual(second.decision === 'initiate' && second.peer, { address: '10.45.3.99', port: 56830 });
      assert.deepEqual(second.decision === 'initiate' && second.lifecycle.bootstrapNeeded, { reason: 'never-bootstrapped', since: NOW.toISOString() });
    });

    it('markForBootstrap keeps the first mark; marking twice is marking once', () => {
      const once = markForBootstrap(settled(), 'account-replacement', '2026-11-23T10:30:00.000Z');
      assert.deepEqual(once.bootstrapNeeded, { reason: 'account-replacement', since: '2026-11-23T10:30:00.000Z' });
      assert.equal(markForBootstrap(once, 'operator', '2026-11-23T11:30:00.000Z'), once);
    });

    it('recordBootstrapSuccess clears the mark, is idempotent and leaves the attach history alone', () => {
      const marked = markForBootstrap(settled(), 'operator', '2026-11-23T10:30:00.000Z');
      const success = { profileFingerprint: FINGERPRINT, iccid: CARD_A, at: LATER.toISOString() };
      const once = recordBootstrapSuccess(marked, success);
      assert.equal(once.bootstrapNeeded, undefined);
      assert.ok(!('bootstrapNeeded' in once));
      assert.deepEqual(once.bootstrappedWith, { profileFingerprint: FINGERPRINT, iccid: CARD_A, at: LATER.toISOString() });
      assert.deepEqual(recordBootstrapSuccess(once, success), once);
      assert.deepEqual(once.lastAttach, marked.lastAttach);
      assert.deepEqual(once.recentEventIds, marked.recentEventIds);
      assert.deepEqual(lifecycleRecordSchema.parse(once), once);
    });
  });

  it('recordBootstrapSuccess writes nothing for a routine re-bootstrap, keeps a mark newer than the session, and ignores an older success', () => {
    const lifecycle = settled();
    const again = { profileFingerprint: FINGERPRINT, iccid: CARD_A, at: LATER.toISOString(), startedAt: '2026-11-23T12:59:58.000Z' };
    assert.equal(recordBootstrapSuccess(lifecycle, again), lifecycle, 'same content, no mark: the very same record, so nothing is written');

    const markedDuring = markForBootstrap(lifecycle, 'operator', '2026-11-23T12:59:59.000Z');
    assert.equal(recordBootstrapSuccess(markedDuring, again), markedDuring, 'an operator mark set while the session ran stays');
    const markedBefore = markForBootstrap(lifecycle, 'operator', '2026-11-23T12:59:00.000Z');
    assert.equal(recordBootstrapSuccess(markedBefore, again).bootstrapNeeded, undefined, 'a mark from before the session is cleared');
    assert.equal(recordBootstrapSuccess(markedBefore, { ...again, startedAt: undefined }).bootstrapNeeded, undefined, 'without a start time, as before');

    const changed = recordBootstrapSuccess(lifecycle, { ...again, profileFingerprint: 'f'.repeat(32) });
    assert.deepEqual(changed.bootstrappedWith, { profileFingerprint: 'f'.repeat(32), iccid: CARD_A, at: LATER.toISOString() });
    const older = { profileFingerprint: FINGERPRINT, iccid: CARD_A, at: '2026-11-23T12:30:00.000Z' };
    assert.equal(recordBootstrapSuccess(changed, older), changed, 'an older success does not take the record back');
  });

  it('does not change the record it was given', () => {
    const lifecycle = settled();
    const snapshot = structuredClone(lifecycle);
    decide(lifecycle, attach('e1', '2026-11-23T11:00:00Z', { iccid: CARD_B }));
    recordBootstrapSuccess(lifecycle, { profileFingerprint: FINGERPRINT, at: LATER.toISOString() });
    markForBootstrap(lifecycle, 'operator', LATER.toISOString());
    assert.deepEqual(lifecycle, snapshot);
  });

  it('whatever the order and redeliveries, ends on the newest event and takes each event once', () => {
    // Distinct ids; times from a few seconds (with offsets and sub-millisecond fractions), so equal times happen.
    const times = ['2026-11-23T10:00:00Z', '2026-11-23T11:00:00+01:00', '2026-11-23T10:00:00.0005Z', '2026-11-23T10:00:01Z', '2026-11-23T10:00:01.000Z', '2026-11-23T10:00:02Z'];
    const eventSet = fc.uniqueArray(fc.record({ id: fc.string({ minLength: 1, maxLength: 4 }), time: fc.constantFrom(...times), card: fc.constantFrom(CARD_A, CARD_B) }), {
      minLength: 1,
      maxLength: RECENT_EVENT_IDS,
      selector: (event) => event.id,
    });
    const scenario = eventSet.chain((events) =>
      fc.record({
        events: fc.constant(events.map((event) => attach(event.id, event.time, { iccid: event.card }))),
        // Each event delivered one to three times, in any order.
        deliveries: fc.shuffledSubarray(events.flatMap((_event, index) => [index, index, index]), { minLength: events.length * 3, maxLength: events.length * 3 }),
        copies: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: events.length, maxLength: events.length }),
      }),
    );
    fc.assert(
      fc.property(scenario, ({ events, deliveries, copies }) => {
        const delivered = new Map<number, number>();
        const order = deliveries.filter((index) => {
          const count = (delivered.get(index) ?? 0) + 1;
          delivered.set(index, count);
          return count <= copies[index]!;
        });
        let lifecycle = emptyLifecycleRecord();
        const taken = new Map<string, number>();
        for (const index of order) {
          const decision = decideOnAttach({ device: DEVICE, profile: PROFILE, lifecycle, event: events[index]!, now: NOW });
          if (decision.decision === 'ignore') continue;
          taken.set(events[index]!.eventId, (taken.get(events[index]!.eventId) ?? 0) + 1);
          lifecycle = decision.lifecycle;
        }
        const newest = [...events].sort((a, b) => compareEventTimes(a.eventTime, b.eventTime) || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0)).at(-1)!;
        assert.equal(lifecycle.lastAttach?.eventId, newest.eventId);
        assert.equal(lifecycle.lastAttach?.eventTime, newest.eventTime);
        for (const [id, count] of taken) assert.equal(count, 1, `event ${id} taken ${count} times`);
        assert.ok(taken.has(newest.eventId));
        assert.deepEqual(lifecycleRecordSchema.parse(lifecycle), lifecycle);
      }),
      { numRuns: 300 },
    );
  });
});
