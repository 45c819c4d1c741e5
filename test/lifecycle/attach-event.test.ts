import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attachEventSchema, compareEventTimes, parseAttachEvent } from '../../shared/lifecycle/attach-event.ts';

/** Shaped like what an IoT connectivity platform pushes on a PDP context / attach. */
const EVENT = {
  eventId: '7f6c1f0e-3a1b-4c59-9d2e-0b8a4f1e2d3c',
  eventTime: '2026-11-23T10:15:30.123Z',
  carrier: 'example-mno',
  imsi: '214070123456789',
  iccid: '89340701234567890123',
  imei: '356938035643809',
  msisdn: '+34600123456',
  address: '10.45.3.17',
  port: 56830,
  apn: 'iot.example',
};

function issuesOf(input: unknown): { field: string; message: string }[] {
  const result = parseAttachEvent(input);
  assert.equal(result.ok, false, 'expected the event to be refused');
  return result.ok ? [] : [...result.issues];
}

describe('attach event schema', () => {
  it('accepts a full event and keeps every field', () => {
    const result = parseAttachEvent(EVENT);
    assert.deepEqual(result, { ok: true, event: EVENT });
  });

  it('accepts one identity alone, IPv6 peers, offsets and an MSISDN without +', () => {
    for (const identity of [{ imsi: EVENT.imsi }, { iccid: '8934070123456789012F' }, { imei: '35693803564380' }]) {
      const event = {
        eventId: 'e1',
        eventTime: '2026-11-23T11:15:30+01:00',
        carrier: 'c',
        address: '2001:db8:4006:812::200e',
        port: 5683,
        msisdn: '34600123456',
        ...identity,
      };
      assert.deepEqual(parseAttachEvent(event), { ok: true, event });
    }
    assert.equal(parseAttachEvent({ ...EVENT, address: '::ffff:192.0.2.1' }).ok, true);
  });

  const badFields: [string, unknown][] = [
    ['eventId', ''],
    ['eventId', 'x'.repeat(129)],
    ['eventTime', '2026-11-23 10:15:30'],
    ['eventTime', '2026-02-30T10:15:30Z'],
    ['eventTime', '2026-11-23T10:15:30'],
    ['carrier', ''],
    ['carrier', 'c'.repeat(65)],
    ['imsi', '21407'],
    ['imsi', '21407012345678x'],
    ['iccid', '893407012345'],
    ['imei', '3569380356438091'.repeat(2)],
    ['msisdn', '0034600123456'],
    ['msisdn', '+3460012345678901'],
    ['address', '10.45.3.256'],
    ['address', 'device.example.com'],
    ['address', 'fe80::1%eth0'],
    ['port', 0],
    ['port', 65536],
    ['port', 5683.5],
    ['port', '5683'],
    ['apn', ''],
    ['apn', 'a'.repeat(101)],
  ];
  for (const [field, value] of badFields) {
    it(`refuses ${field} = ${JSON.stringify(value).slice(0, 40)} at its path`, () => {
      const issues = issuesOf({ ...EVENT, [field]: value });
      assert.deepEqual(
        issues.map((issue) => issue.field),
        [field],
      );
    });
  }

  it('refuses a missing required field at its path', () => {
    for (const field of ['eventId', 'eventTime', 'carrier', 'address', 'port']) {
      const rest = Object.fromEntries(Object.entries(EVENT).filter(([key]) => key !== field));
      assert.deepEqual(
        issuesOf(rest).map((issue) => issue.field),
        [field],
      );
    }
  });

  it('wants at least one identity, and says so beside other problems', () => {
    const anonymous = Object.fromEntries(Object.entries(EVENT).filter(([key]) => !['imsi', 'iccid', 'imei'].includes(key)));
    assert.deepEqual(issuesOf(anonymous), [{ field: '(event)', message: 'at least one of imsi, iccid or imei is needed to find the device' }]);
    const both = issuesOf({ ...anonymous, port: 0 });
    assert.deepEqual(
      both.map((issue) => issue.field).sort(),
      ['(event)', 'port'],
    );
  });

  it('names an unknown field and refuses what is not an object', () => {
    assert.deepEqual(issuesOf({ ...EVENT, lac: 1234 }), [{ field: 'lac', message: 'not a known field' }]);
    for (const input of [null, 'event', 42, []]) assert.equal(issuesOf(input).length, 1);
  });

  it('never echoes a value in its messages', () => {
    const issues = issuesOf({ ...EVENT, imsi: 'secret-looking-value', address: 'secret-host' });
    for (const issue of issues) assert.doesNotMatch(issue.message, /secret/);
  });

  it('is the schema parseAttachEvent uses', () => {
    assert.deepEqual(attachEventSchema.parse(EVENT), EVENT);
    assert.throws(() => attachEventSchema.parse({ ...EVENT, port: 0 }));
  });
});

describe('compareEventTimes', () => {
  it('orders by instant across offsets', () => {
    assert.equal(compareEventTimes('2026-11-23T11:00:00+01:00', '2026-11-23T10:00:00Z'), 0);
    assert.ok(compareEventTimes('2026-11-23T10:00:01+01:00', '2026-11-23T09:30:00Z') < 0);
    assert.ok(compareEventTimes('2026-11-24T00:30:00+01:00', '2026-11-23T23:00:00Z') > 0);
  });

  it('orders by fractions finer than a millisecond, and ignores trailing zeros', () => {
    assert.ok(compareEventTimes('2026-11-23T10:00:00.0001Z', '2026-11-23T10:00:00.0002Z') < 0);
    assert.ok(compareEventTimes('2026-11-23T10:00:00.1235Z', '2026-11-23T10:00:00.1234999Z') > 0);
    assert.equal(compareEventTimes('2026-11-23T10:00:00.5Z', '2026-11-23T10:00:00.500000Z'), 0);
    assert.equal(compareEventTimes('2026-11-23T10:00:00Z', '2026-11-23T10:00:00.000Z'), 0);
    assert.ok(compareEventTimes('2026-11-23T10:00:00Z', '2026-11-23T10:00:00.000001Z') < 0);
  });
});
