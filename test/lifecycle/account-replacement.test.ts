import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import { deviceEntrySchema, type DeviceEntry, type DeviceEntryInput } from '../../shared/bootstrap/device.ts';
import { arrangeWrites } from '../../shared/bootstrap/instance-remap.ts';
import { bootstrapPlanSchema } from '../../shared/bootstrap/plan.ts';
import { profileSchema, type Profile, type ProfileInput } from '../../shared/bootstrap/profile.ts';
import {
  MAX_RETIRING_CREDENTIALS,
  originalAccountDeletes,
  pendingAccountSchema,
  planAccountReplacement,
  promotePendingAccount,
  settlePendingAccount,
  type PendingAccount,
} from '../../shared/lifecycle/account-replacement.ts';
import { freshBootstrapPsk, type FreshPsk } from '../../shared/lifecycle/fresh-credentials.ts';
import { lifecycleRecordSchema } from '../../shared/lifecycle/lifecycle-record.ts';

const ORIGINAL_KEY = '31323334313233343132333431323334';
const NOW = new Date('2026-11-23T10:00:00.000Z');
const FRESH: FreshPsk = { identity: 'meter-7#bs-abcdefghijklm', key: Uint8Array.from({ length: 16 }, (_, index) => (index * 37 + 11) & 0xff) };
const FRESH_HEX = Buffer.from(FRESH.key).toString('hex');
const hex = (text: string): string => Buffer.from(text, 'utf8').toString('hex');

const profile = (input: Partial<ProfileInput> = {}): Profile =>
  profileSchema.parse({
    name: 'fleet',
    servers: [
      { shortServerId: 101, uri: 'coaps://lwm2m.example:5684', securityMode: 'psk', credentialSource: 'device' },
      { shortServerId: 102, uri: 'coap://lwm2m2.example:5683' },
    ],
    bootstrapServer: { uri: 'coaps://bs.example:5684', clientHoldOffTime: 10, accountTimeout: 3600, instanceId: 0 },
    ...input,
  });

const device = (input: Partial<DeviceEntryInput> = {}): DeviceEntry =>
  deviceEntrySchema.parse({
    endpoint: 'meter-7',
    profile: 'fleet',
    bootstrapCredentials: { securityMode: 'psk', identity: 'meter-7', secretKey: ORIGINAL_KEY, keyOrigin: 'pin' },
    serverCredentials: { '101': { identity: 'meter-7-dm', secretKey: '00112233445566778899aabbccddeeff' } },
    ...input,
  });

function replace(p: Profile = profile(), d: DeviceEntry = device(), fresh: FreshPsk = FRESH) {
  const plan = compileBootstrapPlan(p, d);
  const replacement = planAccountReplacement({ plan, device: d, profile: p, fresh, now: NOW });
  return { plan, replacement };
}

describe('planAccountReplacement', () => {
  it('adds a second Bootstrap-Server account with the fresh PSK at the first free Security instance', () => {
    const { plan, replacement } = replace();
    assert.ok(replacement);
    assert.deepEqual(bootstrapPlanSchema.parse(replacement.plan), replacement.plan);
    // Servers take /0/1 and /0/2, the original account is planned at /0/0: the new one is /0/3.
    assert.deepEqual(
      replacement.plan.writes.map((write) => write.path),
      ['/0/1', '/0/2', '/0/3', '/1/0', '/1/1'],
    );
    assert.deepEqual(replacement.plan.writes.find((write) => write.path === '/0/3')?.values, {
      '/0/3/0': 'coaps://bs.example:5684',
      '/0/3/1': true,
      '/0/3/2': 0,
      '/0/3/3': hex(FRESH.identity),
      '/0/3/4': '',
      '/0/3/5': FRESH_HEX,
      '/0/3/11': 10,
      // Kept: the profile's 3600 s is the original account's timeout, which the rewrite still carries.
      '/0/3/12': 0,
    });
    assert.deepEqual(replacement.plan.bootstrapServerWrite, plan.bootstrapServerWrite);
    assert.equal(plan.bootstrapServerWrite?.values['/0/0/12'], 3600);
    assert.deepEqual(replacement.plan.deletes, plan.deletes);
  });

  it('records the pending account as the lifecycle record takes it', () => {
    const { replacement } = replace();
    assert.ok(replacement);
    const pending: PendingAccount = {
      identity: FRESH.identity,
      secretKey: FRESH_HEX,
      instanceId: 3,
      originalIdentity: 'meter-7',
      originalInstanceId: 0,
      createdAt: NOW.toISOString(),
    };
    assert.deepEqual(replacement.pending, pending);
    assert.deepEqual(pendingAccountSchema.parse(replacement.pending), pending);
    const record = lifecycleRecordSchema.parse({ pendingAccount: replacement.pending });
    assert.deepEqual(record.pendingAccount, pending);
    assert.equal(lifecycleRecordSchema.safeParse({ pendingAccount: { ...pending, extra: 1 } }).success, false);
  });

  it('avoids the original account planned on a higher id, and gaps between server instances', () => {
    const p = profile({
      servers: [
        { shortServerId: 101, uri: 'coap://a.example', securityInstanceId: 0 },
        { shortServerId: 102, uri: 'coap://b.example', securityInstanceId: 2 },
      ],
      bootstrapServer: { uri: 'coaps://bs.example', instanceId: 1 },
    });
    const { replacement } = replace(p, device({ serverCredentials: {} }));
    assert.ok(replacement);
    assert.equal(replacement.pending.instanceId, 3);
    assert.equal(replacement.pending.originalInstanceId, 1);
    // No hold-off in the profile: none written.
    assert.equal(replacement.plan.writes.find((write) => write.path === '/0/3')?.values['/0/3/11'], undefined);
  });

  it('is undefined when the profile has no Bootstrap-Server account to write', () => {
    const p = profileSchema.parse({ name: 'fleet', servers: [{ shortServerId: 101, uri: 'coap://a.example' }] });
    const d = device({ serverCredentials: {} });
    assert.equal(planAccountReplacement({ plan: compileBootstrapPlan(p, d), device: d, profile: p, fresh: FRESH, now: NOW }), undefined);
  });

  it('refuses a Bootstrap-Server URI a PSK account cannot use', () => {
    const p = profile({ bootstrapServer: { uri: 'coap://bs.example:5683' } });
    const d = device({ bootstrapCredentials: { securityMode: 'nosec' } });
    const plan = compileBootstrapPlan(p, d);
    assert.throws(() => planAccountReplacement({ plan, device: d, profile: p, fresh: FRESH, now: NOW }), /bootstrapServer\.uri security mode psk needs coaps/);
  });

  it('refuses a short fresh key or a reused identity without showing either key', () => {
    const short: FreshPsk = { identity: 'meter-7#bs-x', key: Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]) };
    assert.throws(() => replace(profile(), device(), short), (error: Error) => {
      assert.match(error.message, /16 bytes/);
      assert.doesNotMatch(error.message, /deadbeef/i);
      return true;
    });
    assert.throws(() => replace(profile(), device(), { identity: 'meter-7', key: FRESH.key }), (error: Error) => {
      assert.match(error.message, /replaces/);
      assert.ok(!error.message.includes(FRESH_HEX) && !error.message.includes(ORIGINAL_KEY));
      return true;
    });
  });

  it('takes a real fresh PSK', () => {
    const d = device();
    const fresh = freshBootstrapPsk({ endpoint: d.endpoint, device: d });
    const { replacement } = replace(profile(), d, fresh);
    assert.equal(replacement?.pending.secretKey, Buffer.from(fresh.key).toString('hex'));
  });
});

describe('the replacement through arrangeWrites', () => {
  it('keeps both Bootstrap-Server writes and moves the new one when Discover finds the original on its id', () => {
    const { replacement } = replace();
    assert.ok(replacement);
    const discovered = {
      lwm2mVersion: '1.1',
      objects: [{ objectId: 0, instances: [{ instanceId: 3, uri: 'coaps://bs.example:5684' }] }],
    };
    const arranged = arrangeWrites(replacement.plan, discovered);
    const bootstrapAccounts = arranged.filter((write) => write.values[`${write.path}/1`] === true).map((write) => write.path);
    // The new account moved off /0/3 (the original's) to /0/0; the original is rewritten in place.
    assert.deepEqual(bootstrapAccounts, ['/0/0', '/0/3']);
    const settled = settlePendingAccount(replacement.pending, replacement.plan, arranged);
    assert.equal(settled.instanceId, 0);
    assert.equal(settled.originalInstanceId, 3);
    assert.equal(arranged.find((write) => write.path === '/0/0')?.values['/0/0/5'], FRESH_HEX);
    assert.equal(originalAccountDeletes(settled), '/0/3');
  });

  it('settles to the planned ids when nothing moved', () => {
    const { replacement } = replace();
    assert.ok(replacement);
    const arranged = arrangeWrites(replacement.plan, undefined);
    assert.equal(settlePendingAccount(replacement.pending, replacement.plan, arranged), replacement.pending);
    assert.equal(originalAccountDeletes(replacement.pending), '/0/0');
  });
});

describe('promotePendingAccount', () => {
  const pending: PendingAccount = {
    identity: FRESH.identity,
    secretKey: FRESH_HEX,
    instanceId: 3,
    originalIdentity: 'meter-7',
    originalInstanceId: 0,
    createdAt: NOW.toISOString(),
  };
  const at = new Date('2026-11-23T10:00:05.000Z');

  it('makes the fresh account the device credential and retires the original', () => {
    const promoted = promotePendingAccount(device(), pending, at);
    assert.deepEqual(deviceEntrySchema.parse(promoted), promoted);
    assert.deepEqual(promoted.bootstrapCredentials, { securityMode: 'psk', identity: FRESH.identity, secretKey: FRESH_HEX, keyOrigin: 'random' });
    assert.deepEqual(promoted.retiringBootstrapCredentials, [
      { securityMode: 'psk', identity: 'meter-7', secretKey: ORIGINAL_KEY, keyOrigin: 'pin', retiredAt: at.toISOString(), reason: 'replaced' },
    ]);
  });

  it('is idempotent', () => {
    const once = promotePendingAccount(device(), pending, at);
    assert.equal(promotePendingAccount(once, pending, new Date('2026-11-24T00:00:00.000Z')), once);
  });

  it('retires nothing for a NoSec account and keeps the entry within its retiring limit', () => {
    const nosec = promotePendingAccount(device({ bootstrapCredentials: { securityMode: 'nosec' } }), pending, at);
    assert.equal(nosec.retiringBootstrapCredentials, undefined);
    const retiring = Array.from({ length: MAX_RETIRING_CREDENTIALS }, (_, index) => ({
      securityMode: 'psk' as const,
      identity: `old-${index}`,
      secretKey: ORIGINAL_KEY,
      retiredAt: '2026-01-01T00:00:00.000Z',
      reason: 'replaced' as const,
    }));
    const full = promotePendingAccount(device({ retiringBootstrapCredentials: retiring }), pending, at);
    assert.deepEqual(full.retiringBootstrapCredentials?.map((credential) => credential.identity), ['old-1', 'old-2', 'old-3', 'meter-7']);
    assert.ok(deviceEntrySchema.safeParse(full).success);
  });
});
