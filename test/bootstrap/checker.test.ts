import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkBootstrapConfiguration } from '../../shared/bootstrap/checker.ts';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import { ConfigurationError, type ConfigurationIssue } from '../../shared/bootstrap/configuration-error.ts';
import { deviceEntrySchema, type DeviceEntry, type DeviceEntryInput } from '../../shared/bootstrap/device.ts';
import { profileSchema, type Profile, type ProfileInput, type ServerAccount } from '../../shared/bootstrap/profile.ts';

const KEY = '00112233445566778899aabbccddeeff';

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
      checkBootstrapConfiguration(profile({ servers: [psk(7, { securityMode: 'rpk' })] }), device({ serverCredentials: { '7': { publicKey: '3059', secretKey: '3041' } } })),
    );
    assert.equal(issue.field, 'device.serverCredentials.7.serverPublicKey');
    assert.match(issue.message, /rpk needs the server public key/);
  });

  it('needs certificate, private key and server certificate for X.509', () => {
    const issue = onlyIssue(
      checkBootstrapConfiguration(
        profile({ servers: [psk(7, { securityMode: 'x509', credentialSource: 'profile', credentials: { secretKey: '3041', serverPublicKey: '3082' } })] }),
      ),
    );
    assert.equal(issue.field, 'servers[0].credentials.publicKey');
    assert.match(issue.message, /x509 needs the client certificate/);
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
