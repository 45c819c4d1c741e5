import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { checkBootstrapConfiguration } from '../../shared/bootstrap/checker.ts';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import { ConfigurationError, type ConfigurationIssue } from '../../shared/bootstrap/configuration-error.ts';
import { deviceEntrySchema, type DeviceEntry, type DeviceEntryInput } from '../../shared/bootstrap/device.ts';
import { profileSchema, type Profile, type ProfileInput, type ServerAccount } from '../../shared/bootstrap/profile.ts';

const KEY = '00112233445566778899aabbccddeeff';

/** A real EC P-256 key pair as DER hex: SubjectPublicKeyInfo (91 bytes) and PKCS#8 (138 bytes). */
const EC = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const SPKI = EC.publicKey.export({ type: 'spki', format: 'der' }).toString('hex');
const PKCS8 = EC.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('hex');

/** A DER SEQUENCE of `size` bytes in all, standing in for a certificate: the checker reads only size and outer framing. */
function derSequence(size: number): string {
  const content = size - (size - 2 < 0x80 ? 2 : size - 3 < 0x100 ? 3 : 4);
  const length = content < 0x80 ? content.toString(16).padStart(2, '0') : content < 0x100 ? `81${content.toString(16).padStart(2, '0')}` : `82${content.toString(16).padStart(4, '0')}`;
  return `30${length}${'a5'.repeat(content)}`;
}

const profile = (input: Omit<ProfileInput, 'name'>): Profile => profileSchema.parse({ name: 'fleet', ...input });
const device = (input: Omit<DeviceEntryInput, 'endpoint' | 'profile'> = {}): DeviceEntry =>
  deviceEntrySchema.parse({ endpoint: 'urn:dev:1', profile: 'fleet', ...input });
const nosec = (shortServerId: number, extra: Partial<ProfileInput['servers'][number]> = {}) => ({
  shortServerId,
  uri: `coap://s${shortServerId}.example`,
  ...extra,
});
const psk = (shortServerId: number, extra: Partial<ProfileInput['servers'][number]> = {}) => ({
  shortServerId,
  uri: `coaps://s${shortServerId}.example`,
  securityMode: 'psk' as const,
  ...extra,
});

/** The single issue a configuration has, so each test shows its rule alone. */
function onlyIssue(issues: ConfigurationIssue[]): ConfigurationIssue {
  assert.equal(issues.length, 1, JSON.stringify(issues));
  return issues[0]!;
}

describe('checkBootstrapConfiguration', () => {
  it('accepts consistent configurations, with and without a device', () => {
    const p = profile({
      servers: [nosec(101), psk(102), { shortServerId: 103, uri: 'coap+tcp://[::1]:5683', oscore: 'device' }],
      acl: [{ objectId: 3, objectInstanceId: 0, rights: { '0': ['read'], '102': ['read', 'write'] }, owner: 102 }],
      bootstrapServer: { uri: 'coaps://bs.example' },
    });
    const d = device({
      bootstrapCredentials: { securityMode: 'psk', identity: 'bs', secretKey: KEY },
      serverCredentials: { '102': { identity: 'dm', secretKey: KEY } },
      oscore: { '103': { masterSecret: KEY, senderId: '01', recipientId: '02' } },
    });
    assert.deepEqual(checkBootstrapConfiguration(p, d), []);
    assert.deepEqual(checkBootstrapConfiguration(p), []);
  });

  it('needs at least one LwM2M Server account', () => {
    const p: Profile = { ...profile({ servers: [nosec(1)] }), servers: [] };
    assert.equal(onlyIssue(checkBootstrapConfiguration(p)).field, 'servers');
  });

  it('refuses a Short Server ID used twice', () => {
    const issue = onlyIssue(checkBootstrapConfiguration(profile({ servers: [nosec(101), { ...nosec(101), uri: 'coap://other.example' }] })));
    assert.deepEqual(issue, { field: 'servers[1].shortServerId', message: 'Short Server ID 101 is also used by servers[0]' });
  });

  it("refuses a Security instance id that is the Bootstrap-Server account's", () => {
    assert.equal(onlyIssue(checkBootstrapConfiguration(profile({ servers: [nosec(1, { securityInstanceId: 0 })] }))).field, 'servers[0].securityInstanceId');
    const moved = profile({ servers: [nosec(1, { securityInstanceId: 0 })], bootstrapServer: { uri: 'coap://bs.example', instanceId: 5 } });
    assert.deepEqual(checkBootstrapConfiguration(moved), []);
    const clash = profile({ servers: [nosec(1, { securityInstanceId: 5 })], bootstrapServer: { uri: 'coap://bs.example', instanceId: 5 } });
    assert.equal(onlyIssue(checkBootstrapConfiguration(clash)).field, 'servers[0].securityInstanceId');
  });

  it('refuses Security and Server instance ids pinned twice', () => {
    const issues = checkBootstrapConfiguration(
      profile({ servers: [nosec(1, { securityInstanceId: 3, serverInstanceId: 1 }), nosec(2, { securityInstanceId: 3, serverInstanceId: 1 })] }),
    );
    assert.deepEqual(
      issues.map((issue) => issue.field),
      ['servers[1].securityInstanceId', 'servers[1].serverInstanceId'],
    );
  });

  it('refuses ACL rights for a Short Server ID that is not configured, and allows the default key 0', () => {
    const issue = onlyIssue(
      checkBootstrapConfiguration(profile({ servers: [nosec(1)], acl: [{ objectId: 3, objectInstanceId: 0, rights: { '0': ['read'], '999': ['write'] }, owner: 1 }] })),
    );
    assert.equal(issue.field, 'acl[0].rights.999');
  });

  it('refuses an ACL owner that is not a configured server', () => {
    const issue = onlyIssue(checkBootstrapConfiguration(profile({ servers: [nosec(1)], acl: [{ objectId: 3, objectInstanceId: 0, rights: {}, owner: 2 }] })));
    assert.equal(issue.field, 'acl[0].owner');
  });

  it('refuses two ACL instances for one object instance, or one ACL instance id twice', () => {
    const issues = checkBootstrapConfiguration(
      profile({
        servers: [nosec(1)],
        acl: [
          { instanceId: 4, objectId: 3, objectInstanceId: 0, rights: {}, owner: 1 },
          { instanceId: 4, objectId: 3, objectInstanceId: 0, rights: {}, owner: 1 },
        ],
      }),
    );
    assert.deepEqual(
      issues.map((issue) => issue.field),
      ['acl[1].instanceId', 'acl[1]'],
    );
  });

  it('refuses a server URI that does not parse, has another scheme, or has no host', () => {
    for (const uri of ['not a uri', 'http://s.example', 'coap:///path']) {
      assert.equal(onlyIssue(checkBootstrapConfiguration(profile({ servers: [nosec(1, { uri })] }))).field, 'servers[0].uri', uri);
    }
  });

  it('matches the URI scheme to the security mode', () => {
    const plain = onlyIssue(checkBootstrapConfiguration(profile({ servers: [psk(1, { uri: 'coap://s.example' })] })));
    assert.equal(plain.field, 'servers[0].uri');
    assert.match(plain.message, /psk needs coaps/);
    const secure = onlyIssue(checkBootstrapConfiguration(profile({ servers: [nosec(1, { uri: 'coaps+tcp://s.example' })] })));
    assert.match(secure.message, /nosec needs coap/);
    // OSCORE protects messages over plain CoAP.
    const oscore = { masterSecret: KEY, senderId: '01', recipientId: '02' };
    assert.deepEqual(checkBootstrapConfiguration(profile({ servers: [nosec(1, { uri: 'coap+tcp://s.example', oscore })] })), []);
  });

  it('needs a PSK identity and key', () => {
    const p = profile({ servers: [psk(101)] });
    assert.deepEqual(
      checkBootstrapConfiguration(p, device({ serverCredentials: { '101': {} } })).map((issue) => issue.field),
      ['device.serverCredentials.101.identity', 'device.serverCredentials.101.secretKey'],
    );
  });

  it('refuses a PSK identity over 128 bytes of UTF-8', () => {
    const identity = 'é'.repeat(65); // 65 characters, 130 bytes
    const issue = onlyIssue(checkBootstrapConfiguration(profile({ servers: [psk(101)] }), device({ serverCredentials: { '101': { identity, secretKey: KEY } } })));
    assert.deepEqual(issue, { field: 'device.serverCredentials.101.identity', message: 'is 130 bytes in UTF-8; a PSK identity is at most 128' });
  });

  it('refuses a PSK under 16 bytes or over 64, naming the size', () => {
    const check = (secretKey: string) =>
      onlyIssue(checkBootstrapConfiguration(profile({ servers: [psk(101)] }), device({ serverCredentials: { '101': { identity: 'dev', secretKey } } })));
    assert.deepEqual(check('0011223344556677'), { field: 'device.serverCredentials.101.secretKey', message: 'is 8 bytes; a PSK needs at least 16 (128 bits)' });
    assert.match(check('ab'.repeat(65)).message, /is 65 bytes; a PSK is at most 64/);
    assert.deepEqual(checkBootstrapConfiguration(profile({ servers: [psk(101)] }), device({ serverCredentials: { '101': { identity: 'dev', secretKey: 'ab'.repeat(64) } } })), []);
  });

  it('needs public key, private key and server public key for RPK', () => {
    const issue = onlyIssue(
      checkBootstrapConfiguration(profile({ servers: [psk(7, { securityMode: 'rpk' })] }), device({ serverCredentials: { '7': { publicKey: SPKI, secretKey: PKCS8 } } })),
    );
    assert.equal(issue.field, 'device.serverCredentials.7.serverPublicKey');
    assert.match(issue.message, /rpk needs the server public key/);
  });

  it('needs certificate, private key and server certificate for X.509', () => {
    const issue = onlyIssue(
      checkBootstrapConfiguration(
        profile({ servers: [psk(7, { securityMode: 'x509', credentialSource: 'profile', credentials: { secretKey: PKCS8, serverPublicKey: derSequence(700) } })] }),
      ),
    );
    assert.equal(issue.field, 'servers[0].credentials.publicKey');
    assert.match(issue.message, /x509 needs the client certificate/);
  });

  it('accepts DER keys and certificates of plausible size for RPK and X.509', () => {
    assert.equal(SPKI.length / 2, 91);
    const p = profile({ servers: [psk(7, { securityMode: 'rpk' }), psk(8, { securityMode: 'x509' })], bootstrapServer: { uri: 'coaps://bs.example' } });
    const d = device({
      bootstrapCredentials: { securityMode: 'x509', publicKey: derSequence(64), secretKey: derSequence(2048), serverPublicKey: derSequence(8192) },
      serverCredentials: { '7': { publicKey: SPKI, secretKey: PKCS8, serverPublicKey: derSequence(1024) }, '8': { publicKey: derSequence(600), secretKey: derSequence(121), serverPublicKey: derSequence(900) } },
    });
    assert.deepEqual(checkBootstrapConfiguration(p, d), []);
  });

  it('refuses RPK and X.509 values of the wrong size or without a consistent outer DER SEQUENCE, naming field and size only', () => {
    const rawPoint = `04${'11'.repeat(64)}`; // an uncompressed EC point, not a SubjectPublicKeyInfo
    const cases: [mode: 'rpk' | 'x509', key: 'publicKey' | 'secretKey' | 'serverPublicKey', value: string, message: RegExp][] = [
      ['rpk', 'publicKey', rawPoint, /^is 65 bytes but does not start with a DER SEQUENCE \(0x30\); expected a DER SubjectPublicKeyInfo$/],
      ['rpk', 'publicKey', SPKI.slice(0, 160), /^is 80 bytes but its DER SEQUENCE header declares 91; the value is cut short or has extra bytes$/],
      ['rpk', 'serverPublicKey', `${SPKI}00`, /^is 92 bytes but its DER SEQUENCE header declares 91/],
      ['rpk', 'serverPublicKey', derSequence(31), /^is 31 bytes; a DER SubjectPublicKeyInfo is 32 to 1024 bytes \(91 for EC P-256\)$/],
      ['rpk', 'publicKey', derSequence(1025), /^is 1025 bytes; a DER SubjectPublicKeyInfo is 32 to 1024/],
      ['rpk', 'secretKey', 'ab'.repeat(32), /^is 32 bytes but does not start with a DER SEQUENCE \(0x30\); expected a DER private key/],
      ['rpk', 'secretKey', derSequence(2049), /^is 2049 bytes; a DER private key \(PKCS#8 or SEC 1\) is 32 to 2048 bytes/],
      ['x509', 'publicKey', SPKI.slice(0, 126), /^is 63 bytes; a DER X\.509 certificate is 64 to 8192 bytes$/],
      ['x509', 'serverPublicKey', `3080${'00'.repeat(100)}`, /^is 102 bytes but does not start with a DER SEQUENCE/], // indefinite length is not DER
      ['x509', 'secretKey', PKCS8.slice(0, -2), /^is 137 bytes but its DER SEQUENCE header declares 138/],
    ];
    for (const [mode, key, value, message] of cases) {
      const good = mode === 'rpk' ? { publicKey: SPKI, secretKey: PKCS8, serverPublicKey: SPKI } : { publicKey: derSequence(500), secretKey: PKCS8, serverPublicKey: derSequence(500) };
      const issue = onlyIssue(checkBootstrapConfiguration(profile({ servers: [psk(7, { securityMode: mode })] }), device({ serverCredentials: { '7': { ...good, [key]: value } } })));
      assert.equal(issue.field, `device.serverCredentials.7.${key}`);
      assert.match(issue.message, message);
      assert.ok(!issue.message.includes(value.slice(0, 16)), issue.message);
    }
  });

  it("applies the RPK rules to the device's bootstrap credentials too", () => {
    const p = profile({ servers: [nosec(101)], bootstrapServer: { uri: 'coaps://bs.example' } });
    const issue = onlyIssue(checkBootstrapConfiguration(p, device({ bootstrapCredentials: { securityMode: 'rpk', publicKey: SPKI, secretKey: KEY, serverPublicKey: SPKI } })));
    assert.deepEqual(issue.field, 'device.bootstrapCredentials.secretKey');
    assert.match(issue.message, /^is 16 bytes; a DER private key/);
  });

  it('gives a key over 8192 bytes one precise issue, in any mode and wherever it is written', () => {
    const huge = 'ab'.repeat(9000);
    const pskIssue = onlyIssue(checkBootstrapConfiguration(profile({ servers: [psk(101)] }), device({ serverCredentials: { '101': { identity: 'dev', secretKey: huge } } })));
    assert.deepEqual(pskIssue, { field: 'device.serverCredentials.101.secretKey', message: 'is 9000 bytes; no key or certificate here is over 8192' });
    const nosecIssue = onlyIssue(checkBootstrapConfiguration(profile({ servers: [nosec(101)] }), device({ serverCredentials: { '101': { publicKey: huge } } })));
    assert.equal(nosecIssue.field, 'device.serverCredentials.101.publicKey');
    const profileIssue = onlyIssue(
      checkBootstrapConfiguration(profile({ servers: [psk(101, { securityMode: 'x509', credentialSource: 'profile', credentials: { publicKey: derSequence(500), secretKey: PKCS8, serverPublicKey: huge } })] })),
    );
    assert.equal(profileIssue.field, 'servers[0].credentials.serverPublicKey');
    const oscoreIssue = onlyIssue(checkBootstrapConfiguration(profile({ servers: [nosec(101, { oscore: { masterSecret: KEY, senderId: '01', recipientId: '02', idContext: huge } })] })));
    assert.deepEqual(oscoreIssue, { field: 'servers[0].oscore.idContext', message: 'is 9000 bytes; no key or certificate here is over 8192' });
  });

  it('checks OSCORE context sizes (RFC 8613): master secret, sender and recipient ids, salt and id context', () => {
    const p = profile({ servers: [nosec(101, { oscore: 'device' })] });
    const check = (context: Record<string, unknown>) =>
      checkBootstrapConfiguration(p, device({ oscore: { '101': { masterSecret: KEY, senderId: '01', recipientId: '02', ...context } as never } }));
    assert.deepEqual(check({ masterSecret: 'ab'.repeat(64), senderId: 'cd'.repeat(7), recipientId: 'ab'.repeat(7), masterSalt: 'ab'.repeat(64), idContext: 'ab'.repeat(64) }), []);
    assert.deepEqual(onlyIssue(check({ masterSecret: 'ab'.repeat(15) })), { field: 'device.oscore.101.masterSecret', message: 'is 15 bytes; an OSCORE Master Secret is 16 to 64 bytes' });
    assert.equal(onlyIssue(check({ masterSecret: 'ab'.repeat(65) })).field, 'device.oscore.101.masterSecret');
    assert.deepEqual(onlyIssue(check({ senderId: 'ab'.repeat(8) })), {
      field: 'device.oscore.101.senderId',
      message: 'is 8 bytes; an OSCORE Sender ID is at most 7 with AEAD algorithm 10 (nonce 13 bytes, RFC 8613 5.2)',
    });
    assert.equal(onlyIssue(check({ recipientId: 'ab'.repeat(8) })).field, 'device.oscore.101.recipientId');
    assert.match(onlyIssue(check({ aeadAlgorithm: 1, recipientId: 'ab'.repeat(7) })).message, /^is 7 bytes; an OSCORE Recipient ID is at most 6 with AEAD algorithm 1 \(nonce 12 bytes/);
    assert.deepEqual(onlyIssue(check({ masterSalt: 'ab'.repeat(65) })), { field: 'device.oscore.101.masterSalt', message: 'is 65 bytes; an OSCORE Master Salt is at most 64' });
    assert.deepEqual(onlyIssue(check({ idContext: 'ab'.repeat(65) })), { field: 'device.oscore.101.idContext', message: 'is 65 bytes; an OSCORE ID Context is at most 64' });
    const inProfile = onlyIssue(checkBootstrapConfiguration(profile({ servers: [nosec(101, { oscore: { masterSecret: '0011', senderId: '01', recipientId: '02' } })] })));
    assert.equal(inProfile.field, 'servers[0].oscore.masterSecret');
  });

  it('needs device credentials when the account takes them from the device, and profile credentials otherwise', () => {
    const fromDevice = onlyIssue(checkBootstrapConfiguration(profile({ servers: [psk(101)] }), device()));
    assert.equal(fromDevice.field, 'device.serverCredentials.101');
    const fromProfile = onlyIssue(checkBootstrapConfiguration(profile({ servers: [psk(101, { credentialSource: 'profile' })] })));
    assert.equal(fromProfile.field, 'servers[0].credentials');
  });

  it('skips device credential rules when checking a profile alone', () => {
    assert.deepEqual(checkBootstrapConfiguration(profile({ servers: [psk(101), psk(102, { securityMode: 'rpk', oscore: 'device' })] })), []);
  });

  it('needs the OSCORE context the account takes from the device, with distinct sender and recipient ids', () => {
    const p = profile({ servers: [nosec(101, { oscore: 'device' })] });
    assert.equal(onlyIssue(checkBootstrapConfiguration(p, device())).field, 'device.oscore.101');
    const same = onlyIssue(checkBootstrapConfiguration(p, device({ oscore: { '101': { masterSecret: KEY, senderId: '01', recipientId: '01' } } })));
    assert.equal(same.field, 'device.oscore.101.recipientId');
  });

  it('refuses a default minimum period longer than the maximum', () => {
    const issue = onlyIssue(checkBootstrapConfiguration(profile({ servers: [nosec(1, { defaultMinPeriod: 60, defaultMaxPeriod: 30 })] })));
    assert.deepEqual(issue, { field: 'servers[0].defaultMinPeriod', message: '60 s is longer than defaultMaxPeriod 30 s' });
  });

  it('names the device override when the overridden value is wrong', () => {
    const overrides: Partial<ServerAccount> = { uri: 'coaps://s.example', defaultMinPeriod: 100, defaultMaxPeriod: 10 };
    const d: DeviceEntry = { ...device(), overrides: { servers: { '101': overrides } } };
    assert.deepEqual(
      checkBootstrapConfiguration(profile({ servers: [nosec(101)] }), d).map((issue) => issue.field),
      ['device.overrides.servers.101.uri', 'device.overrides.servers.101.defaultMinPeriod'],
    );
  });

  it('refuses an override for a Short Server ID the profile does not have', () => {
    const d: DeviceEntry = { ...device(), overrides: { servers: { '999': { lifetime: 60 } } } };
    assert.equal(onlyIssue(checkBootstrapConfiguration(profile({ servers: [nosec(101)] }), d)).field, 'device.overrides.servers.999');
  });

  it('refuses a device entry checked against a profile it does not name', () => {
    const d: DeviceEntry = { ...device(), profile: 'other' };
    assert.equal(onlyIssue(checkBootstrapConfiguration(profile({ servers: [nosec(101)] }), d)).field, 'device.profile');
  });

  it("matches the bootstrap server URI scheme to the device's bootstrap security mode", () => {
    const p = profile({ servers: [nosec(101)], bootstrapServer: { uri: 'coap://bs.example' } });
    assert.deepEqual(checkBootstrapConfiguration(p), []);
    assert.deepEqual(checkBootstrapConfiguration(p, device()), []);
    const issue = onlyIssue(checkBootstrapConfiguration(p, device({ bootstrapCredentials: { securityMode: 'psk', identity: 'bs', secretKey: KEY } })));
    assert.equal(issue.field, 'bootstrapServer.uri');
    assert.match(issue.message, /psk needs coaps/);
    assert.equal(onlyIssue(checkBootstrapConfiguration(profile({ servers: [nosec(101)], bootstrapServer: { uri: 'coap://' } }))).field, 'bootstrapServer.uri');
  });

  it("checks the device's bootstrap credentials for their mode", () => {
    const issue = onlyIssue(checkBootstrapConfiguration(profile({ servers: [nosec(101)] }), device({ bootstrapCredentials: { securityMode: 'psk', identity: 'bs', secretKey: 'abcd' } })));
    assert.deepEqual(issue, { field: 'device.bootstrapCredentials.secretKey', message: 'is 2 bytes; a PSK needs at least 16 (128 bits)' });
  });

  it('refuses a PSK identity used twice within one device', () => {
    const issues = checkBootstrapConfiguration(
      profile({ servers: [psk(101), psk(102)] }),
      device({
        bootstrapCredentials: { securityMode: 'psk', identity: 'same', secretKey: KEY },
        serverCredentials: { '101': { identity: 'dm', secretKey: KEY }, '102': { identity: 'same', secretKey: KEY } },
      }),
    );
    assert.deepEqual(issues, [{ field: 'device.serverCredentials.102.identity', message: 'same PSK identity as device.bootstrapCredentials' }]);
  });

  it('never puts key material in a message', () => {
    const secrets = ['0011223344556677', '8899aabbccddeeff00', 'c0ffee00c0ffee00c0ffee00c0ffee00', 'deadbeefdeadbeef'];
    const p = profile({
      servers: [psk(101, { uri: 'coap://s.example' }), psk(102), psk(103, { securityMode: 'rpk' }), nosec(104, { oscore: 'device' })],
      bootstrapServer: { uri: 'coap://bs.example' },
    });
    const d = device({
      bootstrapCredentials: { securityMode: 'psk', identity: 'bs', secretKey: secrets[0]! },
      serverCredentials: {
        '101': { identity: 'bs', secretKey: secrets[1]! },
        '102': { identity: 'x', secretKey: 'ab'.repeat(80) },
        '103': { publicKey: secrets[2]!, secretKey: secrets[3]! },
      },
      oscore: { '104': { masterSecret: secrets[2]!, senderId: secrets[3]!, recipientId: secrets[3]! } },
    });
    const issues = checkBootstrapConfiguration(p, d);
    assert.ok(issues.length >= 6, JSON.stringify(issues));
    let thrown: unknown;
    try {
      compileBootstrapPlan(p, d);
    } catch (error) {
      thrown = error;
    }
    assert.ok(thrown instanceof ConfigurationError);
    assert.deepEqual(thrown.issues, issues);
    for (const text of [...issues.map((issue) => `${issue.field} ${issue.message}`), thrown.message]) {
      for (const secret of [...secrets, 'ab'.repeat(80)]) assert.ok(!text.toLowerCase().includes(secret), `${text} shows a key`);
    }
  });
});
