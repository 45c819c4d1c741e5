import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { deviceEntrySchema, type DeviceEntry, type DeviceEntryInput } from '../../shared/bootstrap/device.ts';
import { profileSchema, type Profile, type ProfileInput } from '../../shared/bootstrap/profile.ts';
import { canonicalJson, profileFingerprint } from '../../shared/lifecycle/profile-fingerprint.ts';

const KEY = '00112233445566778899aabbccddeeff';
const OTHER_KEY = '00112233445566778899aabbccddeef0';

const BASE_PROFILE: ProfileInput = {
  name: 'meters',
  description: 'smart meters, 2026 batch',
  servers: [{ shortServerId: 101, uri: 'coaps://lwm2m.example:5684', securityMode: 'psk' }],
  bootstrapServer: { uri: 'coaps://bs.example:5684', accountTimeout: 0 },
};
const BASE_DEVICE: DeviceEntryInput = {
  endpoint: 'urn:imei:356938035643809',
  profile: 'meters',
  identities: { imei: '356938035643809', iccid: '89340701234567890123' },
  bootstrapCredentials: { securityMode: 'psk', identity: 'bs-356938035643809', secretKey: KEY },
  serverCredentials: { '101': { identity: 'dm-356938035643809', secretKey: KEY } },
};

const profile = (change: Partial<ProfileInput> = {}): Profile => profileSchema.parse({ ...BASE_PROFILE, ...change });
const device = (change: Partial<DeviceEntryInput> = {}): DeviceEntry => deviceEntrySchema.parse({ ...BASE_DEVICE, ...change });
const base = profileFingerprint(profile(), device());

describe('profileFingerprint', () => {
  it('is 32 lowercase hex digits and the same for the same input', () => {
    assert.match(base, /^[0-9a-f]{32}$/);
    assert.equal(profileFingerprint(profile(), device()), base);
  });

  it('does not change with key order, spelled-out defaults or key case', () => {
    const reordered = profileSchema.parse({
      bootstrapServer: { accountTimeout: 0, instanceId: 0, uri: 'coaps://bs.example:5684' },
      servers: [{ securityMode: 'psk', uri: 'coaps://lwm2m.example:5684', shortServerId: 101, lifetime: 86400, binding: 'U' }],
      name: 'meters',
      deletes: ['/0', '/1'],
      acl: [],
    });
    const upperKeys = device({ serverCredentials: { '101': { secretKey: KEY.toUpperCase(), identity: 'dm-356938035643809' } } });
    assert.equal(profileFingerprint(reordered, upperKeys), base);
  });

  it('changes with what a bootstrap writes', () => {
    const changed: [string, Profile, DeviceEntry][] = [
      ['server uri', profile({ servers: [{ shortServerId: 101, uri: 'coaps://lwm2m2.example:5684', securityMode: 'psk' }] }), device()],
      ['lifetime', profile({ servers: [{ shortServerId: 101, uri: 'coaps://lwm2m.example:5684', securityMode: 'psk', lifetime: 3600 }] }), device()],
      ['a second server', profile({ servers: [...BASE_PROFILE.servers, { shortServerId: 102, uri: 'coap://s2.example' }] }), device()],
      ['account timeout', profile({ bootstrapServer: { uri: 'coaps://bs.example:5684', accountTimeout: 3600 } }), device()],
      ['deletes', profile({ deletes: ['/0', '/1', '/21'] }), device()],
      ['acl', profile({ acl: [{ objectId: 3, objectInstanceId: 0, rights: { '101': ['read'] }, owner: 101 }] }), device()],
      ['server key', profile(), device({ serverCredentials: { '101': { identity: 'dm-356938035643809', secretKey: OTHER_KEY } } })],
      ['server identity', profile(), device({ serverCredentials: { '101': { identity: 'dm-2', secretKey: KEY } } })],
      ['bootstrap key', profile(), device({ bootstrapCredentials: { securityMode: 'psk', identity: 'bs-356938035643809', secretKey: OTHER_KEY } })],
      ['override', profile(), device({ overrides: { servers: { '101': { lifetime: 600 } } } })],
      ['oscore', profile(), device({ oscore: { '101': { masterSecret: KEY, senderId: '01', recipientId: '02' } } })],
    ];
    const seen = new Set([base]);
    for (const [what, p, d] of changed) {
      const fingerprint = profileFingerprint(p, d);
      assert.notEqual(fingerprint, base, what);
      seen.add(fingerprint);
    }
    assert.equal(seen.size, changed.length + 1, 'every change gives its own fingerprint');
  });

  it('does not change with what a bootstrap does not write', () => {
    const same: [string, Profile, DeviceEntry][] = [
      ['name', profile({ name: 'meters-v2' }), device({ profile: 'meters-v2' })],
      ['description', profile({ description: 'renamed batch' }), device()],
      ['reads', profile({ reads: ['/1'] }), device()],
      ['discover', profile({ discover: false }), device()],
      ['content format', profile({ contentFormat: 'senml-cbor' }), device({ overrides: { contentFormat: 'tlv' } })],
      ['NoSec policy', profile({ allowSecretsOverNoSec: true }), device()],
      ['identities', profile(), device({ identities: { imsi: '214070123456789' } })],
      ['empty overrides', profile(), device({ overrides: { servers: {} } })],
      ['smartcard keys', profile(), device({ smartcard: { scp03: { enc: KEY, mac: KEY, dek: KEY } } })],
      [
        'status',
        profile(),
        device({ status: { sessionId: 's1', outcome: 'success', startedAt: '2026-11-23T10:00:00Z', endedAt: '2026-11-23T10:00:01Z', kind: 'bs' } }),
      ],
    ];
    for (const [what, p, d] of same) assert.equal(profileFingerprint(p, d), base, what);
  });

  it('covers the bootstrap key only when the profile rewrites the Bootstrap-Server account', () => {
    const withoutRewrite = { ...BASE_PROFILE };
    delete withoutRewrite.bootstrapServer;
    const plain = profileSchema.parse(withoutRewrite);
    const otherKey = device({ bootstrapCredentials: { securityMode: 'psk', identity: 'bs-356938035643809', secretKey: OTHER_KEY } });
    assert.equal(profileFingerprint(plain, otherKey), profileFingerprint(plain, device()));
  });

  it('does not contain the keys it covers', () => {
    assert.ok(!base.includes(KEY.slice(0, 8)));
    assert.notEqual(base, KEY);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth, drops undefined members and keeps array order', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: undefined, x: null }], c: 'x' } }), '{"a":{"c":"x","d":[3,{"x":null,"z":1}]},"b":1}');
    assert.equal(canonicalJson([2, 1]), '[2,1]');
  });

  it('refuses what JSON cannot carry faithfully', () => {
    assert.throws(() => canonicalJson({ a: Number.NaN }), TypeError);
    assert.throws(() => canonicalJson({ a: 1n }), TypeError);
  });

  it('is JSON that parses back to the value, whatever order the keys came in', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(value)));
        const shuffled = JSON.parse(JSON.stringify(value), (_key, member: unknown) =>
          member !== null && typeof member === 'object' && !Array.isArray(member) ? Object.fromEntries(Object.entries(member).reverse()) : member,
        ) as unknown;
        assert.equal(canonicalJson(shuffled), text);
      }),
    );
  });
});
