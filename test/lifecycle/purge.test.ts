import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SCHEDULE_NAME_PATTERN, accountPurgeSchema, purgeDueAt, purgeScheduleName, purgeScheduleNameOf } from '../../shared/lifecycle/purge.ts';

const purge = {
  endpoint: 'urn:imei:490154203237518',
  securityInstanceId: 0,
  pskIdentity: 'bs-490154203237518',
  reason: 'account-timeout',
  dueAt: '2026-01-01T01:00:00.000Z',
  scheduledAt: '2026-01-01T00:00:00.000Z',
  bootstrapSessionId: 'session-1',
} as const;

describe('purgeScheduleName', () => {
  it('is a valid Scheduler name for endpoints Scheduler would refuse, without the endpoint in it', () => {
    const endpoints = ['urn:imei:490154203237518', 'a', 'x'.repeat(255), 'dev/01+@:~!', '\x21\x7e', 'urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6'];
    for (const endpoint of endpoints) {
      for (const instance of [0, 1, 9, 65534]) {
        const name = purgeScheduleName(endpoint, instance);
        assert.match(name, SCHEDULE_NAME_PATTERN, name);
        if (endpoint.length > 8) assert.ok(!name.includes(endpoint), 'the endpoint is hashed, not written out');
        assert.ok(name.endsWith(`-${instance}`));
      }
    }
    assert.equal(purgeScheduleName('x'.repeat(255), 65534).length, 52);
  });

  it('is stable, and distinct per endpoint and per Security instance', () => {
    assert.equal(purgeScheduleName('ep-1', 3), purgeScheduleName('ep-1', 3));
    const names = new Set<string>();
    for (const endpoint of ['ep-1', 'ep-2', 'ep-11', 'ep-1 ']) {
      for (const instance of [0, 1, 2, 11]) names.add(purgeScheduleName(endpoint, instance));
    }
    assert.equal(names.size, 16);
    // 'ep-1' with instance 11 and 'ep-11' with instance 1 must not meet.
    assert.notEqual(purgeScheduleName('ep-1', 11), purgeScheduleName('ep-11', 1));
    assert.equal(purgeScheduleNameOf(purge), purgeScheduleName(purge.endpoint, 0));
  });

  it('is the first 40 hex digits of SHA-256 of the endpoint', () => {
    // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    assert.equal(purgeScheduleName('abc', 7), 'purge-ba7816bf8f01cfea414140de5dae2223b00361a3-7');
  });

  it('refuses instance ids that are not a Security Object instance', () => {
    for (const bad of [-1, 65535, 1.5, Number.NaN]) assert.throws(() => purgeScheduleName('ep', bad), RangeError);
  });
});

describe('purgeDueAt', () => {
  it('adds the account timeout in seconds to the finish time', () => {
    assert.equal(purgeDueAt('2026-01-01T00:00:00.000Z', 3600), '2026-01-01T01:00:00.000Z');
    assert.equal(purgeDueAt(new Date('2026-02-28T23:59:59.500Z'), 1), '2026-03-01T00:00:00.500Z');
    assert.equal(purgeDueAt('2026-01-01T02:00:00+02:00', 60), '2026-01-01T00:01:00.000Z');
  });

  it('refuses a timeout of 0 (never purge) or a malformed one, and a bad finish time', () => {
    for (const bad of [0, -5, 1.5, Number.NaN]) assert.throws(() => purgeDueAt('2026-01-01T00:00:00.000Z', bad), RangeError);
    assert.throws(() => purgeDueAt('not a time', 60), RangeError);
  });
});

describe('accountPurgeSchema', () => {
  it('takes a purge and refuses one carrying a key or an unknown reason', () => {
    assert.deepEqual(accountPurgeSchema.parse(purge), purge);
    assert.equal(accountPurgeSchema.safeParse({ ...purge, secretKey: '00112233' }).success, false);
    assert.equal(accountPurgeSchema.safeParse({ ...purge, reason: 'whim' }).success, false);
    assert.equal(accountPurgeSchema.safeParse({ ...purge, securityInstanceId: 65535 }).success, false);
    assert.equal(accountPurgeSchema.safeParse({ ...purge, pskIdentity: undefined }).success, true);
  });
});
