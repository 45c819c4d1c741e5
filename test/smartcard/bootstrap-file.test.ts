import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import { deviceEntrySchema, type DeviceEntry, type DeviceEntryInput } from '../../shared/bootstrap/device.ts';
import type { BootstrapPlan } from '../../shared/bootstrap/plan.ts';
import { profileSchema, type Profile, type ProfileInput } from '../../shared/bootstrap/profile.ts';
import { treeToJsonView } from '../../shared/content/json-view.ts';
import { factoryInstances } from '../../shared/factory/factory-instances.ts';
import { opaqueValue, stringValue } from '../../shared/lwm2m/value.ts';
import {
  decodeBootstrapData,
  decodeBootstrapFile,
  encodeBootstrapData,
  encodeBootstrapFile,
  MAX_BOOTSTRAP_FILE_BYTES,
  type SmartcardBootstrap,
} from '../../shared/smartcard/bootstrap-file.ts';
import { ascii, assertCodecError, assertOnlyCodecErrors, hex, mutatedBytes, toHex } from '../fixtures/codec-assertions.ts';

const PSK_KEY = '00112233445566778899aabbccddeeff';
const BOOTSTRAP_KEY = 'ffeeddccbbaa99887766554433221100';
// DER-framed placeholders, as the configuration checker requires of RPK and X.509 keys.
const RPK_PUBLIC = `3020${'aa'.repeat(32)}`;
const RPK_PRIVATE = `3020${'bb'.repeat(32)}`;
const RPK_SERVER = `3020${'cc'.repeat(32)}`;
const CERT_CLIENT = `3040${'01'.repeat(64)}`;
const CERT_SERVER = `3040${'03'.repeat(64)}`;
const CERT_PRIVATE = `3020${'02'.repeat(32)}`;

const profile = (input: Omit<ProfileInput, 'name'>): Profile => profileSchema.parse({ name: 'fleet', ...input });
const device = (input: Omit<DeviceEntryInput, 'endpoint' | 'profile'> = {}): DeviceEntry =>
  deviceEntrySchema.parse({ endpoint: 'urn:dev:1', profile: 'fleet', ...input });
const bytesHex = (bytes: Uint8Array): string => toHex(bytes);

const NOSEC_PLAN = compileBootstrapPlan(profile({ servers: [{ shortServerId: 101, uri: 'coap://a.example' }] }), device());

const PLANS: Record<string, BootstrapPlan> = {
  nosec: compileBootstrapPlan(
    profile({ servers: [{ shortServerId: 101, uri: 'coap://a.example' }], bootstrapServer: { uri: 'coap://bs.example', instanceId: 4 } }),
    device(),
  ),
  psk: compileBootstrapPlan(
    profile({
      servers: [{ shortServerId: 101, uri: 'coaps://lwm2m.example:5684', securityMode: 'psk', lifetime: 300, binding: 'US' }],
      bootstrapServer: { uri: 'coaps://bs.example:5684', clientHoldOffTime: 30, accountTimeout: 0 },
    }),
    device({
      serverCredentials: { '101': { identity: 'dev-1 ü', secretKey: PSK_KEY } },
      bootstrapCredentials: { securityMode: 'psk', identity: 'bs-id', secretKey: BOOTSTRAP_KEY },
    }),
  ),
  rpk: compileBootstrapPlan(
    profile({ servers: [{ shortServerId: 7, uri: 'coaps+tcp://lwm2m.example', securityMode: 'rpk' }] }),
    device({ serverCredentials: { '7': { publicKey: RPK_PUBLIC, secretKey: RPK_PRIVATE, serverPublicKey: RPK_SERVER } } }),
  ),
  x509: compileBootstrapPlan(
    profile({
      servers: [
        {
          shortServerId: 9,
          uri: 'coaps://lwm2m.example',
          securityMode: 'x509',
          credentialSource: 'profile',
          credentials: { publicKey: CERT_CLIENT, secretKey: CERT_PRIVATE, serverPublicKey: CERT_SERVER },
        },
        { shortServerId: 10, uri: 'coap://second.example', defaultMinPeriod: 10, defaultMaxPeriod: 60, disableTimeout: 86400, notificationStoring: true },
      ],
      acl: [{ objectId: 3, objectInstanceId: 0, rights: { '9': ['read', 'write'] }, owner: 9 }],
    }),
    device(),
  ),
};

/** What the plan puts on a device, as JSON views keyed by instance path. */
function plannedViews(plan: BootstrapPlan): Map<string, unknown> {
  return new Map(factoryInstances(plan).map((write) => [write.path, write.values]));
}

/** The decoded file, as the same JSON views. */
function decodedViews(decoded: SmartcardBootstrap): Map<string, unknown> {
  const views = new Map<string, unknown>();
  for (const { object } of decoded.objects) {
    for (const instance of object.instances) views.set(`/${object.id}/${instance.id}`, treeToJsonView([{ id: object.id, instances: [instance] }]));
  }
  return views;
}

/** A valid file with `mutate` applied to its bytes. */
function withBytes(bytes: Uint8Array, mutate: (copy: Uint8Array) => void): Uint8Array {
  const copy = Uint8Array.from(bytes);
  mutate(copy);
  return copy;
}

describe('EF LwM2M_Bootstrap (LwM2M Core 1.1 Appendix G.3.3)', () => {
  it('encodes a NoSec plan to the bytes worked out by hand', () => {
    const expected = hex(
      '0002', // <number of objects>: Security and Server
      '0041', // <size>: 65 bytes of objects follow
      // Security: object id 0, IMPLICIT_VERSION, 37 bytes of TLV
      '0000 00 0025',
      '08 01 22', // Object Instance 1, 34 bytes
      `c8 00 10 ${ascii('coap://a.example')}`, // /0/1/0 Server URI
      'c1 01 00', // /0/1/1 Bootstrap-Server false
      'c1 02 03', // /0/1/2 Security Mode 3 (NoSec)
      'c0 03', // /0/1/3 empty
      'c0 04', // /0/1/4 empty
      'c0 05', // /0/1/5 empty
      'c1 0a 65', // /0/1/10 Short Server ID 101
      // Server: object id 1, IMPLICIT_VERSION, 18 bytes of TLV
      '0001 00 0012',
      '08 00 0f', // Object Instance 0, 15 bytes
      'c1 00 65', // /1/0/0 Short Server ID 101
      'c4 01 00015180', // /1/0/1 Lifetime 86400
      'c1 06 00', // /1/0/6 Notification Storing false
      'c1 07 55', // /1/0/7 Binding "U"
    );
    assert.equal(bytesHex(encodeBootstrapFile(NOSEC_PLAN)), bytesHex(expected));
    const decoded = decodeBootstrapFile(expected);
    assert.deepEqual(decoded.security, [
      {
        instanceId: 1,
        serverUri: 'coap://a.example',
        bootstrapServer: false,
        securityMode: 3,
        publicKeyOrIdentity: new Uint8Array(0),
        serverPublicKey: new Uint8Array(0),
        secretKey: new Uint8Array(0),
        shortServerId: 101,
        clientHoldOffTime: undefined,
        bootstrapServerAccountTimeout: undefined,
        oscoreSecurityMode: undefined,
      },
    ]);
    assert.deepEqual(decoded.servers, [
      { instanceId: 0, shortServerId: 101, lifetime: 86400, defaultMinPeriod: undefined, defaultMaxPeriod: undefined, disableTimeout: undefined, notificationStoring: false, binding: 'U' },
    ]);
  });

  for (const [name, plan] of Object.entries(PLANS)) {
    it(`round-trips a ${name} plan: plan -> file -> the instances the plan puts on the device`, () => {
      const decoded = decodeBootstrapFile(encodeBootstrapFile(plan));
      assert.deepEqual(decodedViews(decoded), plannedViews(plan));
      assert.ok(decoded.objects.every(({ version }) => version === 'implicit'), 'enabler objects carry IMPLICIT_VERSION');
      assert.deepEqual(
        decoded.objects.map(({ object }) => object.id),
        [...decoded.objects.map(({ object }) => object.id)].sort((a, b) => a - b),
        'objects by ascending id',
      );
    });
  }

  it('carries PSK identities and keys as bytes, and the Bootstrap-Server account with its timers', () => {
    const decoded = decodeBootstrapFile(encodeBootstrapFile(PLANS.psk!));
    const server = decoded.security.find((instance) => !instance.bootstrapServer);
    const bootstrap = decoded.security.find((instance) => instance.bootstrapServer);
    assert.ok(server && bootstrap);
    assert.equal(new TextDecoder().decode(server.publicKeyOrIdentity), 'dev-1 ü');
    assert.equal(bytesHex(server.secretKey), PSK_KEY);
    assert.equal(server.securityMode, 0);
    assert.equal(server.shortServerId, 101);
    assert.deepEqual([bootstrap.instanceId, bootstrap.serverUri, bootstrap.clientHoldOffTime, bootstrap.bootstrapServerAccountTimeout], [0, 'coaps://bs.example:5684', 30, 0]);
    assert.equal(bytesHex(bootstrap.secretKey), BOOTSTRAP_KEY);
    assert.deepEqual(decoded.servers.map(({ shortServerId, lifetime, binding }) => [shortServerId, lifetime, binding]), [[101, 300, 'US']]);
  });

  it('carries RPK and X.509 keys, and keeps ACL instances among the objects', () => {
    const rpk = decodeBootstrapFile(encodeBootstrapFile(PLANS.rpk!)).security[0]!;
    assert.deepEqual([rpk.securityMode, bytesHex(rpk.publicKeyOrIdentity), bytesHex(rpk.serverPublicKey), bytesHex(rpk.secretKey)], [1, RPK_PUBLIC, RPK_SERVER, RPK_PRIVATE]);
    const x509 = decodeBootstrapFile(encodeBootstrapFile(PLANS.x509!));
    const cert = x509.security.find((instance) => instance.shortServerId === 9)!;
    assert.deepEqual([cert.securityMode, bytesHex(cert.publicKeyOrIdentity), bytesHex(cert.serverPublicKey), bytesHex(cert.secretKey)], [2, CERT_CLIENT, CERT_SERVER, CERT_PRIVATE]);
    const second = x509.servers.find((server) => server.shortServerId === 10)!;
    assert.deepEqual([second.defaultMinPeriod, second.defaultMaxPeriod, second.disableTimeout, second.notificationStoring], [10, 60, 86400, true]);
    assert.deepEqual(x509.objects.map(({ object }) => object.id), [0, 1, 2]);
  });

  it("reads Anjay's documented generator output (CF-SmartCardBootstrap, configs/basic)", () => {
    const file = hex(
      '0002 007a',
      '0000 00 005e 08 01 5b',
      `c8 00 22 ${ascii('coaps://eu.iot.avsystem.cloud:5684')} c1 01 00 c1 02 00`,
      `c8 03 14 ${ascii('example-psk-identity')} c8 05 13 ${ascii('3x@mpl3P5K53cr3tK3y')} c1 0a 01`,
      '0001 00 0012 08 01 0f c1 00 01 c4 01 00015180 c1 06 00 c1 07 55',
    );
    const decoded = decodeBootstrapFile(file);
    assert.deepEqual(decoded.security.map((s) => [s.instanceId, s.serverUri, s.securityMode, s.shortServerId]), [[1, 'coaps://eu.iot.avsystem.cloud:5684', 0, 1]]);
    assert.equal(new TextDecoder().decode(decoded.security[0]!.publicKeyOrIdentity), 'example-psk-identity');
    assert.deepEqual(decoded.servers.map((s) => [s.instanceId, s.shortServerId, s.lifetime, s.binding]), [[1, 1, 86400, 'U']]);
    assert.equal(bytesHex(encodeBootstrapData(decoded.objects)), bytesHex(file), 'encodes back to the same bytes');
  });

  it("reads the nRF UICC reader's test card: one NoSec Bootstrap-Server account and 0xFF filler after size", () => {
    const file = hex('0001 0036 0000 00 0031 08 00 2e', `c8 00 25 ${ascii('coap://leshan.eclipseprojects.io:5783')}`, 'c1 01 01 c1 02 03', 'ffff');
    const [account, ...rest] = decodeBootstrapFile(file).security;
    assert.equal(rest.length, 0);
    assert.deepEqual([account!.serverUri, account!.bootstrapServer, account!.securityMode, account!.shortServerId], ['coap://leshan.eclipseprojects.io:5783', true, 3, undefined]);
    assert.equal(account!.secretKey.length, 0, 'key resources a NoSec account leaves out read as empty');
  });

  it('keeps objects it has no typed view of, with explicit versions, and writes them back', () => {
    const data = encodeBootstrapData([
      { version: 'implicit', object: { id: 0, instances: [{ id: 0, resources: [{ kind: 'single', id: 0, value: stringValue('coap://bs') }, { kind: 'single', id: 1, value: { type: 'boolean', value: true } }, { kind: 'single', id: 2, value: { type: 'integer', value: 3n } }] }] } },
      { version: { major: 2, minor: 5 }, object: { id: 33000, instances: [{ id: 0, resources: [{ kind: 'single', id: 1, value: opaqueValue(Uint8Array.of(1, 2)) }] }] } },
    ]);
    // G.3.3: version 2.5 is coded %x0205; the object id is a 16-bit HWORD.
    assert.ok(bytesHex(data).endsWith('80e8' + '0205' + '0006' + '0400c2010102'), bytesHex(data));
    const decoded = decodeBootstrapFile(data);
    assert.deepEqual(decoded.objects[1]!.version, { major: 2, minor: 5 });
    assert.equal(decoded.objects[1]!.object.id, 33000);
    assert.deepEqual(decoded.servers, []);
    assert.equal(bytesHex(encodeBootstrapData(decoded.objects)), bytesHex(data));
  });
});

describe('EF LwM2M_Bootstrap: bad input', () => {
  const valid = encodeBootstrapFile(PLANS.psk!);

  it('reports every truncation as TRUNCATED', () => {
    for (let length = 0; length < valid.length; length += 1) assertCodecError(() => decodeBootstrapFile(valid.subarray(0, length)), 'TRUNCATED');
  });

  it('gives only CodecErrors for mutated files and random bytes', () => {
    const files = fc.constantFrom(...Object.values(PLANS).map(encodeBootstrapFile));
    assertOnlyCodecErrors(mutatedBytes(files), decodeBootstrapFile, 1500);
    assertOnlyCodecErrors(fc.uint8Array({ maxLength: 80 }), decodeBootstrapFile, 1000);
    assertOnlyCodecErrors(fc.uint8Array({ minLength: 4, maxLength: 80 }).map((tail) => withBytes(tail, (b) => b.set([0, 1, 0, tail.length - 4]))), decodeBootstrapFile, 1000);
  });

  it('names what is wrong', () => {
    assertCodecError(() => decodeBootstrapFile(withBytes(valid, (b) => (b[1] = 5))), 'MALFORMED', { offset: 0, field: 'number of objects' });
    assertCodecError(() => decodeBootstrapFile(Uint8Array.from([...valid, 0xff, 0x00])), 'TRAILING_BYTES', { offset: valid.length + 1 });
    assertCodecError(() => decodeBootstrapFile(withBytes(valid, (b) => (b[7] = 0xff))), 'TRUNCATED', { field: '/0' });
    const duplicate = hex('0002 000a', '0005 00 0000', '0005 00 0000');
    assertCodecError(() => decodeBootstrapFile(duplicate), 'DUPLICATE', { offset: 9, field: '/5' });
    // A TLV error inside the second object is reported at its offset in the file.
    const badTlv = hex('0001 0008', '0003 00 0003', '08 00 05');
    assertCodecError(() => decodeBootstrapFile(badTlv), 'TRUNCATED', { offset: 9 });
    assertCodecError(() => decodeBootstrapFile(new Uint8Array(MAX_BOOTSTRAP_FILE_BYTES + 1)), 'LIMIT_EXCEEDED');
  });

  it('checks the Bootstrap Information a client would apply', () => {
    const file = (objects: Parameters<typeof encodeBootstrapData>[0]): Uint8Array => encodeBootstrapData(objects);
    const security = (id: number, resources: Record<number, unknown>) => ({
      version: 'implicit' as const,
      object: { id: 0, instances: [{ id, resources: Object.entries(resources).map(([rid, value]) => ({ kind: 'single' as const, id: Number(rid), value: value as never })) }] },
    });
    const uri = stringValue('coaps://x');
    const no = { type: 'boolean', value: false };
    const yes = { type: 'boolean', value: true };
    const int = (value: number) => ({ type: 'integer', value: BigInt(value) });
    // PSK without its key: the error names the resource and never shows key material.
    const error = assertCodecError(() => decodeBootstrapFile(file([security(1, { 0: uri, 1: no, 2: int(0), 3: opaqueValue(Uint8Array.of(0x69)), 10: int(1) })])), 'MALFORMED', { field: '/0/1/5' });
    assert.ok(!error.message.includes('69'));
    assertCodecError(() => decodeBootstrapFile(file([security(1, { 0: uri, 1: no, 2: int(3) })])), 'MALFORMED', { field: '/0/1/10' });
    assertCodecError(() => decodeBootstrapFile(file([security(1, { 0: uri, 2: int(3) })])), 'MALFORMED', { field: '/0/1/1' });
    assertCodecError(() => decodeBootstrapFile(file([security(1, { 0: uri, 1: yes, 2: int(5) })])), 'OUT_OF_RANGE', { field: '/0/1/2' });
    assertCodecError(() => decodeBootstrapFile(file([security(1, { 0: uri, 1: no, 2: int(3), 10: int(65535) })])), 'OUT_OF_RANGE', { field: '/0/1/10' });
    const twoBootstrap = { version: 'implicit' as const, object: { id: 0, instances: [1, 2].map((id) => ({ id, resources: [{ kind: 'single' as const, id: 0, value: uri }, { kind: 'single' as const, id: 1, value: { type: 'boolean' as const, value: true } }, { kind: 'single' as const, id: 2, value: { type: 'integer' as const, value: 3n } }] })) } };
    assertCodecError(() => decodeBootstrapFile(file([twoBootstrap])), 'DUPLICATE', { field: '/0/2/1' });
    const server = { version: 'implicit' as const, object: { id: 1, instances: [{ id: 0, resources: [{ kind: 'single' as const, id: 0, value: { type: 'integer' as const, value: 2n } }, { kind: 'single' as const, id: 1, value: { type: 'integer' as const, value: 60n } }, { kind: 'single' as const, id: 6, value: { type: 'boolean' as const, value: false } }, { kind: 'single' as const, id: 7, value: stringValue('U') }] }] } };
    assertCodecError(() => decodeBootstrapFile(file([security(1, { 0: uri, 1: no, 2: int(3), 10: int(1) }), server])), 'MALFORMED', { field: '/1/0/0' });
  });

  it('refuses to write what the EF cannot hold', () => {
    const big = { version: 'implicit' as const, object: { id: 40000, instances: [{ id: 0, resources: [{ kind: 'single' as const, id: 0, value: opaqueValue(new Uint8Array(0x10000)) }] }] } };
    assertCodecError(() => encodeBootstrapData([big]), 'LIMIT_EXCEEDED', { field: '/40000' });
    const large = (id: number) => ({ version: 'implicit' as const, object: { id, instances: [{ id: 0, resources: [{ kind: 'single' as const, id: 0, value: opaqueValue(new Uint8Array(20000)) }] }] } });
    assertCodecError(() => encodeBootstrapData([large(40000), large(40001)]), 'LIMIT_EXCEEDED');
    assertCodecError(() => encodeBootstrapData([{ version: { major: 0, minor: 1 }, object: { id: 5, instances: [] } }]), 'OUT_OF_RANGE', { field: '/5' });
  });

  it('decodes the low-level framing without the Security/Server checks', () => {
    const objects = decodeBootstrapData(hex('0001 0005', '0003 00 0000'));
    assert.deepEqual(objects, [{ version: 'implicit', object: { id: 3, instances: [] } }]);
  });
});
