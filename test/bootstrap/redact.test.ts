import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deviceEntrySchema } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { redactDevice, redactProfile } from '../../shared/bootstrap/redact.ts';

const BOOTSTRAP_KEY = '0102030405060708090a0b0c0d0e0f10';
const SERVER_KEY = 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4';
const OVERRIDE_KEY = 'c1c2c3c4c5c6c7c8c9cacbcccdcecfd0';
const MASTER_SECRET = 'd1d2d3d4d5d6d7d8d9dadbdcdddedfe0';
const MASTER_SALT = 'e1e2e3e4e5e6e7e8';
const PUBLIC_KEY = '3059301306072a8648ce3d020106082a8648ce3d03010703420004';
const KEY_ENC = '404142434445464748494a4b4c4d4e4f';
const KEY_MAC = '505152535455565758595a5b5c5d5e5f';
const KEY_DEK = '606162636465666768696a6b6c6d6e6f';
const SECRETS = [BOOTSTRAP_KEY, SERVER_KEY, OVERRIDE_KEY, MASTER_SECRET, MASTER_SALT, KEY_ENC, KEY_MAC, KEY_DEK];

const device = deviceEntrySchema.parse({
  endpoint: 'urn:imei:490154203237518',
  profile: 'fleet',
  bootstrapCredentials: { securityMode: 'psk', identity: 'bs-identity', secretKey: BOOTSTRAP_KEY },
  serverCredentials: { '101': { identity: 'dm-identity', secretKey: SERVER_KEY }, '102': { publicKey: PUBLIC_KEY, serverPublicKey: PUBLIC_KEY } },
  oscore: { '101': { masterSecret: MASTER_SECRET, masterSalt: MASTER_SALT, senderId: '01', recipientId: '02' } },
  smartcard: { scp03: { keyVersion: 0x30, enc: KEY_ENC, mac: KEY_MAC, dek: KEY_DEK } },
  overrides: {
    servers: {
      '101': { credentials: { identity: 'override', secretKey: OVERRIDE_KEY }, oscore: { masterSecret: MASTER_SECRET, senderId: '03', recipientId: '04' } },
    },
  },
});

function leaks(value: unknown): string[] {
  const text = JSON.stringify(value).toLowerCase();
  return SECRETS.filter((secret) => text.includes(secret));
}

describe('redactDevice', () => {
  it('hides every secret key, master secret and master salt, saying how long each was', () => {
    const redacted = redactDevice(device);
    assert.deepEqual(leaks(redacted), []);
    assert.equal(redacted.bootstrapCredentials?.secretKey, '(hidden: 16 bytes)');
    assert.equal(redacted.serverCredentials['101']?.secretKey, '(hidden: 20 bytes)');
    assert.equal(redacted.oscore['101']?.masterSecret, '(hidden: 16 bytes)');
    assert.equal(redacted.oscore['101']?.masterSalt, '(hidden: 8 bytes)');
    assert.deepEqual(redacted.smartcard?.scp03, { keyVersion: 0x30, enc: '(hidden: 16 bytes)', mac: '(hidden: 16 bytes)', dek: '(hidden: 16 bytes)' });
    assert.equal(redacted.overrides.servers?.['101']?.credentials?.secretKey, '(hidden: 16 bytes)');
    const oscoreOverride = redacted.overrides.servers?.['101']?.oscore;
    assert.ok(typeof oscoreOverride === 'object');
    assert.equal(oscoreOverride.masterSecret, '(hidden: 16 bytes)');
  });

  it('keeps what is not secret: identities, public keys, OSCORE ids', () => {
    const redacted = redactDevice(device);
    assert.equal(redacted.bootstrapCredentials?.identity, 'bs-identity');
    assert.equal(redacted.serverCredentials['102']?.publicKey, PUBLIC_KEY);
    assert.equal(redacted.serverCredentials['102']?.serverPublicKey, PUBLIC_KEY);
    assert.equal(redacted.oscore['101']?.senderId, '01');
    assert.equal(redacted.endpoint, device.endpoint);
  });

  it('leaves the entry it was given untouched', () => {
    const before = structuredClone(device);
    redactDevice(device);
    assert.deepEqual(device, before);
  });

  it('adds nothing to an entry without credentials', () => {
    const bare = deviceEntrySchema.parse({ endpoint: 'ep', profile: 'fleet' });
    assert.deepEqual(redactDevice(bare), bare);
  });
});

describe('redactProfile', () => {
  it('hides fleet-wide secret keys and OSCORE secrets, not the server public key', () => {
    const profile = profileSchema.parse({
      name: 'fleet',
      servers: [
        { shortServerId: 101, uri: 'coaps://dm.example.com', securityMode: 'psk', credentialSource: 'profile', credentials: { identity: 'shared', secretKey: SERVER_KEY } },
        { shortServerId: 102, uri: 'coap://dm.example.com', oscore: { masterSecret: MASTER_SECRET, masterSalt: MASTER_SALT, senderId: '01', recipientId: '02' } },
        { shortServerId: 103, uri: 'coaps://x509.example.com', securityMode: 'x509', credentialSource: 'profile', credentials: { serverPublicKey: PUBLIC_KEY } },
      ],
    });
    const redacted = redactProfile(profile);
    assert.deepEqual(leaks(redacted), []);
    assert.equal(redacted.servers[0]?.credentials?.secretKey, '(hidden: 20 bytes)');
    assert.equal(redacted.servers[0]?.credentials?.identity, 'shared');
    assert.equal(redacted.servers[2]?.credentials?.serverPublicKey, PUBLIC_KEY);
    assert.ok(leaks(profile).length > 0, 'the original still holds its keys');
  });
});
