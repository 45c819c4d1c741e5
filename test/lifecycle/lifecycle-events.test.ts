import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  LIFECYCLE_EVENT_TYPES,
  LifecycleEventError,
  lifecycleEventSchema,
  parseLifecycleEvent,
  type LifecycleEvent,
} from '../../shared/lifecycle/lifecycle-events.ts';
import { logLifecycleEvents } from '../../server/lifecycle/lifecycle-event-sink.ts';

const KEY = 'c0ffee00c0ffee00c0ffee00c0ffee01';
const TIME = '2026-03-01T12:00:00.000Z';
const CIPHERTEXT = Buffer.from('AQICAHh...kms ciphertext blob').toString('base64');

const events: readonly LifecycleEvent[] = [
  { type: 'AccountPurged', endpoint: 'urn:imei:490154203237518', time: TIME, securityInstanceId: 2, pskIdentity: 'bs-old', reason: 'replaced', sessionId: 'session-7' },
  { type: 'AccountPurged', endpoint: 'nosec-1', time: TIME, securityInstanceId: 0, reason: 'account-timeout', sessionId: 'session-8' },
  { type: 'SimChanged', endpoint: 'ep-1', time: TIME, from: '89340701234567890123', to: '8934070999999999999F', disabledSmartcard: true },
  { type: 'SimChanged', endpoint: 'ep-2', time: TIME, to: '8934070999999999999F', disabledSmartcard: false },
  { type: 'BootstrapMarked', endpoint: 'ep-3', time: TIME, reason: 'sim-changed' },
  { type: 'ServerCredentialsIssued', endpoint: 'ep-4', time: TIME, shortServerId: 101, identity: 'lwm2m-ep-4', secretKeyCiphertext: CIPHERTEXT },
  { type: 'ServerCredentialsIssued', endpoint: 'ep-5', time: TIME, shortServerId: 102, identity: 'lwm2m-ep-5' },
];

describe('lifecycle event schemas', () => {
  it('take every kind of event, and name each type EventBridge will see', () => {
    for (const event of events) assert.deepEqual(lifecycleEventSchema.parse(event), event);
    assert.deepEqual(new Set(events.map((event) => event.type)), new Set(LIFECYCLE_EVENT_TYPES));
  });

  it('refuse a secretKey on every kind of event, without quoting it', () => {
    for (const event of events) {
      const keyed = { ...event, secretKey: KEY };
      assert.equal(lifecycleEventSchema.safeParse(keyed).success, false, event.type);
      assert.throws(
        () => parseLifecycleEvent(keyed),
        (error: unknown) => error instanceof LifecycleEventError && error.message.includes('secretKey') && error.message.includes(event.type) && !JSON.stringify({ ...error, message: error.message }).includes(KEY),
      );
    }
  });

  it('refuse a plaintext key where the ciphertext goes, and any member not declared', () => {
    const refused = [
      { ...events[5], secretKeyCiphertext: 'not base64!' },
      // Hex is valid base64: a key in the clear must not pass for a ciphertext.
      { ...events[5], secretKeyCiphertext: KEY },
      { ...events[5], secretKeyCiphertext: KEY.toUpperCase() },
      { ...events[5], key: KEY },
      { ...events[0], psk: KEY },
      { ...events[2], scp03: { enc: KEY } },
      { ...events[4], reason: 'because' },
      { ...events[0], type: 'AccountDeleted' },
      { ...events[0], time: 'yesterday' },
    ];
    for (const event of refused) {
      assert.throws(() => parseLifecycleEvent(event), (error: unknown) => error instanceof LifecycleEventError && !error.message.includes(KEY));
    }
  });
});

describe('logLifecycleEvents', () => {
  it('writes one line per event, detail as JSON, an encrypted key as its presence only', async () => {
    const lines: string[] = [];
    const sink = logLifecycleEvents((line) => lines.push(line));
    for (const event of events) await sink.emit(event);

    assert.equal(lines.length, events.length);
    for (const line of lines) assert.ok(!line.includes('\n'));
    assert.equal(
      lines[0],
      'lifecycle AccountPurged {"endpoint":"urn:imei:490154203237518","time":"2026-03-01T12:00:00.000Z","securityInstanceId":2,"pskIdentity":"bs-old","reason":"replaced","sessionId":"session-7"}',
    );
    assert.match(lines[5] ?? '', /^lifecycle ServerCredentialsIssued .*"keyEncrypted":true}$/);
    assert.match(lines[6] ?? '', /"keyEncrypted":false}$/);
    assert.ok(!lines.join('\n').includes(CIPHERTEXT));
  });

  it('refuses an event carrying a key and logs nothing', async () => {
    const lines: string[] = [];
    const sink = logLifecycleEvents((line) => lines.push(line));
    const keyed = { ...events[5], secretKey: KEY } as unknown as LifecycleEvent;
    await assert.rejects(sink.emit(keyed), (error: unknown) => error instanceof LifecycleEventError && !error.message.includes(KEY));
    assert.deepEqual(lines, []);
  });
});
