import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import { deviceEntrySchema, type DeviceEntry, type DeviceEntryInput } from '../../shared/bootstrap/device.ts';
import { profileSchema, type Profile, type ProfileInput } from '../../shared/bootstrap/profile.ts';
import { freshServerPsk, type FreshPsk } from '../../shared/lifecycle/fresh-credentials.ts';
import { LifecycleEventError, serverCredentialsIssuedEventSchema } from '../../shared/lifecycle/lifecycle-events.ts';
import {
  issuedEvents,
  mintServerCredentials,
  type FreshServerPskSource,
  type IssuedServerCredentials,
  type KeySealContext,
  type KeySealer,
} from '../../shared/lifecycle/server-credentials.ts';
import { describeLifecycleEvent } from '../../server/lifecycle/lifecycle-event-sink.ts';

const ENDPOINT = 'urn:imei:490154203237518';
const OLD_KEY = '00112233445566778899aabbccddeeff';
const FLEET_KEY = 'f1ee7f1ee7f1ee7f1ee7f1ee7f1ee7f1';
const BOOTSTRAP_KEY = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const AT = '2026-03-01T12:00:00.000Z';

const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/**
 * 101 and 105 (after the device's override) take PSK credentials from the device; 102 has the
 * fleet's, 103 is NoSec, 104 the device switches to NoSec.
 */
const profile = (input: Partial<Omit<ProfileInput, 'name' | 'servers'>> = {}): Profile =>
  profileSchema.parse({
    name: 'fleet',
    mintServerCredentials: true,
    servers: [
      { shortServerId: 101, uri: 'coaps://a.example:5684', securityMode: 'psk' },
      { shortServerId: 102, uri: 'coaps://b.example:5684', securityMode: 'psk', credentialSource: 'profile', credentials: { identity: 'fleet', secretKey: FLEET_KEY } },
      { shortServerId: 103, uri: 'coap://c.example:5683' },
      { shortServerId: 104, uri: 'coaps://d.example:5684', securityMode: 'psk' },
      { shortServerId: 105, uri: 'coap://e.example:5683' },
    ],
    ...input,
  });

const device = (input: Partial<DeviceEntryInput> = {}): DeviceEntry =>
  deviceEntrySchema.parse({
    endpoint: ENDPOINT,
    profile: 'fleet',
    bootstrapCredentials: { securityMode: 'psk', identity: 'bs-ep', secretKey: BOOTSTRAP_KEY },
    serverCredentials: { '101': { identity: 'old-101', secretKey: OLD_KEY }, '105': { identity: 'old-105', secretKey: OLD_KEY } },
    overrides: {
      servers: {
        '104': { securityMode: 'nosec', uri: 'coap://d.example:5683' },
        '105': { securityMode: 'psk', uri: 'coaps://e.example:5684' },
      },
    },
    ...input,
  });

/** Keys 16 bytes from a counter: distinguishable, and high entropy as far as the checks go. */
function scripted(): { fresh: FreshServerPskSource; calls: number[] } {
  const calls: number[] = [];
  const fresh: FreshServerPskSource = (shortServerId) => {
    calls.push(shortServerId);
    const key = Uint8Array.from({ length: 16 }, (_, index) => (shortServerId * 16 + index * 7) & 0xff);
    return { identity: `${ENDPOINT}#s${shortServerId}-new`, key };
  };
  return { fresh, calls };
}

describe('mintServerCredentials', () => {
  it('replaces exactly the PSK accounts whose credentials come from the device, overrides applied', () => {
    const original = device();
    const snapshot = structuredClone(original);
    const { fresh, calls } = scripted();
    const { device: minted, issued } = mintServerCredentials({ profile: profile(), device: original, fresh });

    assert.deepEqual(calls, [101, 105]);
    assert.deepEqual(
      issued.map(({ shortServerId, identity }) => ({ shortServerId, identity })),
      [
        { shortServerId: 101, identity: `${ENDPOINT}#s101-new` },
        { shortServerId: 105, identity: `${ENDPOINT}#s105-new` },
      ],
    );
    for (const { shortServerId, identity, secretKey } of issued) {
      assert.deepEqual(minted.serverCredentials[String(shortServerId)], { identity, secretKey });
      assert.notEqual(secretKey, OLD_KEY);
    }
    assert.deepEqual(Object.keys(minted.serverCredentials).sort(), ['101', '105']);
    assert.deepEqual(original, snapshot, 'the input entry is left as it was');
    assert.deepEqual({ ...minted, serverCredentials: original.serverCredentials }, original, 'nothing else in the entry changes');
    assert.deepEqual(deviceEntrySchema.parse(minted), minted, 'the result is a valid device entry');
  });

  it('puts the new keys, and only those, into the compiled plan', () => {
    const { device: minted, issued } = mintServerCredentials({ profile: profile(), device: device(), fresh: scripted().fresh });
    const plan = JSON.stringify(compileBootstrapPlan(profile(), minted));
    for (const { secretKey } of issued) assert.ok(plan.includes(secretKey));
    assert.ok(!plan.includes(OLD_KEY));
    assert.ok(plan.includes(FLEET_KEY), "the fleet's account keeps its key");
  });

  it('mints nothing, and draws nothing, unless the profile asks', () => {
    for (const flag of [undefined, false]) {
      const original = device();
      const { fresh, calls } = scripted();
      const result = mintServerCredentials({ profile: profile({ mintServerCredentials: flag }), device: original, fresh });
      assert.equal(result.device, original);
      assert.deepEqual(result.issued, []);
      assert.deepEqual(calls, []);
    }
  });

  it('takes 16-byte keys from the injected random source through freshServerPsk', () => {
    const drawn: Uint8Array[] = [];
    const random = (size: number): Uint8Array => {
      // Deterministic but patternless, so the entropy check freshServerPsk makes passes.
      const bytes = new Uint8Array(createHash('sha256').update(`draw ${drawn.length}`).digest().subarray(0, size));
      drawn.push(bytes);
      return bytes;
    };
    const fresh: FreshServerPskSource = (shortServerId, taken) => freshServerPsk({ endpoint: ENDPOINT, shortServerId, taken, random });
    const { issued } = mintServerCredentials({ profile: profile(), device: device(), fresh });

    const keys = drawn.filter((bytes) => bytes.length === 16).map(hexOf);
    assert.equal(issued.length, 2);
    for (const { secretKey } of issued) {
      assert.equal(secretKey.length, 32, '16 bytes as hex');
      assert.ok(keys.includes(secretKey), 'the key is what the source gave');
    }
    assert.notEqual(issued[0]?.secretKey, issued[1]?.secretKey);
    assert.match(issued[0]?.identity ?? '', /#s101-[a-z2-7]{13}$/);
    assert.match(issued[1]?.identity ?? '', /#s105-[a-z2-7]{13}$/);
  });

  it('offers every identity the device has or just got as taken', () => {
    const seen: Record<number, string[]> = {};
    const candidates = ['bs-ep', 'bs-retiring', 'bs-revoked', 'old-101', 'old-105', 'fleet', 'x-101', 'x-105'];
    const fresh: FreshServerPskSource = (shortServerId, taken) => {
      seen[shortServerId] = candidates.filter(taken);
      return { identity: `x-${shortServerId}`, key: new Uint8Array(16).fill(shortServerId) };
    };
    const retiring = { securityMode: 'psk' as const, identity: 'bs-retiring', secretKey: OLD_KEY, retiredAt: AT, reason: 'replaced' as const };
    mintServerCredentials({
      profile: profile(),
      device: device({ retiringBootstrapCredentials: [retiring], revokedBootstrapIdentities: [{ identity: 'bs-revoked', revokedAt: AT, reason: 'replaced' }] }),
      fresh,
    });
    const existing = ['bs-ep', 'bs-retiring', 'bs-revoked', 'old-101', 'old-105', 'fleet'];
    assert.deepEqual(seen[101], existing);
    assert.deepEqual(seen[105], [...existing, 'x-101']);
  });

  it('refuses an identity the device already uses, whatever the source says, and never names a key', () => {
    for (const clash of ['bs-ep', 'fleet', 'old-101', 'same']) {
      const fresh = (shortServerId: number): FreshPsk => ({ identity: shortServerId === 101 && clash !== 'same' ? clash : 'same', key: new Uint8Array(16).fill(0x5a) });
      assert.throws(
        () => mintServerCredentials({ profile: profile(), device: device(), fresh }),
        (error: Error) => /already used by this device/.test(error.message) && !error.message.includes('5a5a') && !error.message.includes(OLD_KEY),
        clash,
      );
    }
  });

  it('refuses keys shorter than 16 bytes and identities the schema would not take', () => {
    assert.throws(() => mintServerCredentials({ profile: profile(), device: device(), fresh: () => ({ identity: 'short-key', key: new Uint8Array(15).fill(1) }) }), /fewer than 16 bytes/);
    assert.throws(() => mintServerCredentials({ profile: profile(), device: device(), fresh: () => ({ identity: 'i'.repeat(129), key: new Uint8Array(16).fill(1) }) }), /1\.\.128 characters/);
  });
});

/** A sealer that records what it is given and "encrypts" by reversing and base64-encoding. */
function recordingSealer(): KeySealer & { calls: { plaintext: string; context: KeySealContext }[] } {
  const calls: { plaintext: string; context: KeySealContext }[] = [];
  return {
    calls,
    seal(plaintext, context) {
      calls.push({ plaintext: hexOf(plaintext), context });
      return Promise.resolve(Buffer.concat([Buffer.from('sealed:'), Buffer.from(plaintext).reverse()]).toString('base64'));
    },
  };
}

describe('issuedEvents', () => {
  const issued: IssuedServerCredentials[] = [
    { shortServerId: 101, identity: 'id-101', secretKey: '0f1e2d3c4b5a69788796a5b4c3d2e1f0' },
    { shortServerId: 105, identity: 'id-105', secretKey: 'ffeeddccbbaa99887766554433221100' },
  ];
  const keyTraces = (key: string): string[] => [key, key.toUpperCase(), Buffer.from(key, 'hex').toString('base64')];

  it('without a sealer carries no key at all, and the log line says the key is not in the event', async () => {
    const events = await issuedEvents(ENDPOINT, issued, undefined, AT);
    assert.deepEqual(events, [
      { type: 'ServerCredentialsIssued', endpoint: ENDPOINT, time: AT, shortServerId: 101, identity: 'id-101' },
      { type: 'ServerCredentialsIssued', endpoint: ENDPOINT, time: AT, shortServerId: 105, identity: 'id-105' },
    ]);
    const json = JSON.stringify(events) + events.map(describeLifecycleEvent).join('\n');
    for (const { secretKey } of issued) for (const trace of keyTraces(secretKey)) assert.ok(!json.includes(trace));
    assert.match(describeLifecycleEvent(events[0]!), /"keyEncrypted":false/);
  });

  it("with a sealer carries the sealer's ciphertext, bound to the endpoint and Short Server ID, never the key", async () => {
    const sealer = recordingSealer();
    const events = await issuedEvents(ENDPOINT, issued, sealer, AT);

    assert.deepEqual(sealer.calls, [
      { plaintext: issued[0]!.secretKey, context: { endpoint: ENDPOINT, shortServerId: 101 } },
      { plaintext: issued[1]!.secretKey, context: { endpoint: ENDPOINT, shortServerId: 105 } },
    ]);
    for (const event of events) {
      assert.deepEqual(serverCredentialsIssuedEventSchema.parse(event), event);
      assert.ok(event.secretKeyCiphertext !== undefined);
      assert.ok(Buffer.from(event.secretKeyCiphertext, 'base64').subarray(0, 7).equals(Buffer.from('sealed:')));
    }
    const json = JSON.stringify(events);
    for (const { secretKey } of issued) for (const trace of keyTraces(secretKey)) assert.ok(!json.includes(trace), 'no key in the events');
  });

  it('refuses a sealer that hands back the key in hex, before any event exists, without quoting it', async () => {
    const leaky: KeySealer = { seal: (plaintext) => Promise.resolve(hexOf(plaintext)) };
    await assert.rejects(issuedEvents(ENDPOINT, issued, leaky, AT), (error: Error) => {
      assert.ok(error instanceof LifecycleEventError);
      assert.ok(!error.message.includes(issued[0]!.secretKey));
      return true;
    });
  });

  it('gives no events for no issued credentials', async () => {
    assert.deepEqual(await issuedEvents(ENDPOINT, [], recordingSealer(), AT), []);
  });
});
