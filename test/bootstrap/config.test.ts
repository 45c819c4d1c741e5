import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import { ConfigurationError } from '../../shared/bootstrap/configuration-error.ts';
import { deviceEntrySchema, type DeviceEntry, type DeviceEntryInput } from '../../shared/bootstrap/device.ts';
import { bootstrapPlanSchema, type BootstrapPlan } from '../../shared/bootstrap/plan.ts';
import { profileSchema, type Profile, type ProfileInput } from '../../shared/bootstrap/profile.ts';
import { treeFromJsonView } from '../../shared/content/json-view.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { decodeContent, encodeContent } from '../../shared/content/registry.ts';
import { parsePath } from '../../shared/lwm2m/path.ts';
import { booleanValue, integerValue, objlnkValue, opaqueValue, stringValue, unsignedValue } from '../../shared/lwm2m/value.ts';

// DER-framed placeholders: a SEQUENCE whose header length matches, as the checker requires.
const RPK_PUBLIC = `3020${'aa'.repeat(32)}`;
const RPK_PRIVATE = `3020${'bb'.repeat(32)}`;
const RPK_SERVER = `3020${'cc'.repeat(32)}`;
const CERT_CLIENT = `3040${'01'.repeat(64)}`;
const CERT_SERVER = `3040${'03'.repeat(64)}`;
const CERT_PRIVATE = `3020${'02'.repeat(32)}`;
const DEVICE_OSCORE_SECRET = 'aabbccdd'.repeat(4);
import { instanceTree, multiple, single } from '../fixtures/trees.ts';

const PSK_KEY = '00112233445566778899aabbccddeeff';
const BOOTSTRAP_KEY = 'ffeeddccbbaa99887766554433221100';
const MASTER_SECRET = '0102030405060708090a0b0c0d0e0f10';

const profile = (input: Omit<ProfileInput, 'name'>): Profile => profileSchema.parse({ name: 'fleet', ...input });
const device = (input: Omit<DeviceEntryInput, 'endpoint' | 'profile'> = {}): DeviceEntry =>
  deviceEntrySchema.parse({ endpoint: 'urn:dev:1', profile: 'fleet', ...input });
const hex = (text: string): string => Buffer.from(text, 'utf8').toString('hex');

/** Compiles and checks the plan against the contract schema the gateway parses it with. */
function compile(p: Profile, d: DeviceEntry): BootstrapPlan {
  const plan = compileBootstrapPlan(p, d);
  assert.deepEqual(bootstrapPlanSchema.parse(plan), plan);
  return plan;
}

const writeAt = (plan: BootstrapPlan, path: string) => {
  const write = plan.writes.find((candidate) => candidate.path === path);
  assert.ok(write, `no write of ${path}`);
  return write.values;
};

describe('compileBootstrapPlan', () => {
  it('compiles a NoSec account with empty key resources and the profile defaults', () => {
    const plan = compile(profile({ servers: [{ shortServerId: 101, uri: 'coap://lwm2m.example:5683' }] }), device());
    assert.deepEqual(plan, {
      v: 1,
      discover: true,
      deletes: ['/0', '/1'],
      writes: [
        {
          path: '/0/1',
          values: { '/0/1/0': 'coap://lwm2m.example:5683', '/0/1/1': false, '/0/1/2': 3, '/0/1/3': '', '/0/1/4': '', '/0/1/5': '', '/0/1/10': 101 },
        },
        { path: '/1/0', values: { '/1/0/0': 101, '/1/0/1': 86400, '/1/0/6': false, '/1/0/7': 'U' } },
      ],
      reads: [],
    });
  });

  it('writes a PSK account with the identity as UTF-8 bytes and the key from the device entry', () => {
    const plan = compile(
      profile({ servers: [{ shortServerId: 101, uri: 'coaps://lwm2m.example:5684', securityMode: 'psk', lifetime: 300, binding: 'US' }] }),
      device({ serverCredentials: { '101': { identity: 'dev-1 ü', secretKey: PSK_KEY.toUpperCase() } } }),
    );
    assert.deepEqual(writeAt(plan, '/0/1'), {
      '/0/1/0': 'coaps://lwm2m.example:5684',
      '/0/1/1': false,
      '/0/1/2': 0,
      '/0/1/3': hex('dev-1 ü'),
      '/0/1/4': '',
      '/0/1/5': PSK_KEY,
      '/0/1/10': 101,
    });
    assert.deepEqual(writeAt(plan, '/1/0'), { '/1/0/0': 101, '/1/0/1': 300, '/1/0/6': false, '/1/0/7': 'US' });
  });

  it('writes an RPK account with public key, server public key and private key', () => {
    const plan = compile(
      profile({ servers: [{ shortServerId: 7, uri: 'coaps+tcp://lwm2m.example', securityMode: 'rpk' }] }),
      device({ serverCredentials: { '7': { publicKey: RPK_PUBLIC, secretKey: RPK_PRIVATE, serverPublicKey: RPK_SERVER } } }),
    );
    assert.deepEqual(writeAt(plan, '/0/1'), {
      '/0/1/0': 'coaps+tcp://lwm2m.example',
      '/0/1/1': false,
      '/0/1/2': 1,
      '/0/1/3': RPK_PUBLIC,
      '/0/1/4': RPK_SERVER,
      '/0/1/5': RPK_PRIVATE,
      '/0/1/10': 7,
    });
  });

  it('takes X.509 credentials from the profile when credentialSource is profile', () => {
    const plan = compile(
      profile({
        servers: [
          {
            shortServerId: 9,
            uri: 'coaps://lwm2m.example',
            securityMode: 'x509',
            credentialSource: 'profile',
            credentials: { publicKey: CERT_CLIENT, secretKey: CERT_PRIVATE, serverPublicKey: CERT_SERVER },
          },
        ],
      }),
      device(),
    );
    const security = writeAt(plan, '/0/1');
    assert.equal(security['/0/1/2'], 2);
    assert.equal(security['/0/1/3'], CERT_CLIENT);
    assert.equal(security['/0/1/4'], CERT_SERVER);
    assert.equal(security['/0/1/5'], CERT_PRIVATE);
  });

  it('writes periods, disable timeout and registration options with the Server object types', () => {
    const plan = compile(
      profile({
        servers: [
          {
            shortServerId: 101,
            uri: 'coap://lwm2m.example',
            defaultMinPeriod: 10,
            defaultMaxPeriod: 60,
            disableTimeout: 86400,
            notificationStoring: true,
            registration: {
              priorityOrder: 2,
              initialDelay: 5,
              failureBlock: true,
              bootstrapOnFailure: false,
              communicationRetryCount: 3,
              communicationRetryTimer: 60,
              sequenceDelayTimer: 86400,
              sequenceRetryCount: 1,
              trigger: true,
              preferredTransport: 'U',
              muteSend: false,
            },
          },
        ],
      }),
      device(),
    );
    const tree = treeFromJsonView(writeAt(plan, '/1/0'), parsePath('/1/0'));
    assert.deepEqual(
      tree,
      instanceTree(1, 0, [
        single(0, integerValue(101)),
        single(1, integerValue(86400)),
        single(2, integerValue(10)),
        single(3, integerValue(60)),
        single(5, integerValue(86400)),
        single(6, booleanValue(true)),
        single(7, stringValue('U')),
        single(13, unsignedValue(2)),
        single(14, unsignedValue(5)),
        single(15, booleanValue(true)),
        single(16, booleanValue(false)),
        single(17, unsignedValue(3)),
        single(18, unsignedValue(60)),
        single(19, unsignedValue(86400)),
        single(20, unsignedValue(1)),
        single(21, booleanValue(true)),
        single(22, stringValue('U')),
        single(23, booleanValue(false)),
      ]),
    );
  });

  it("applies the device's overrides to the account with that Short Server ID only, and its content format", () => {
    const base = profile({
      servers: [
        { shortServerId: 101, uri: 'coap://a.example', lifetime: 60 },
        { shortServerId: 102, uri: 'coap://b.example', lifetime: 60 },
      ],
      contentFormat: 'senml-json',
    });
    assert.equal(compile(base, device()).contentFormat, ContentFormat.SENML_JSON);
    // A literal override, as an operator writes it: only the fields it names.
    const overridden: DeviceEntry = {
      ...device(),
      overrides: { servers: { '102': { uri: 'coap://c.example', lifetime: 3600, binding: 'T' } }, contentFormat: ContentFormat.SENML_CBOR },
    };
    const plan = compile(base, overridden);
    assert.equal(writeAt(plan, '/0/1')['/0/1/0'], 'coap://a.example');
    assert.equal(writeAt(plan, '/0/2')['/0/2/0'], 'coap://c.example');
    assert.equal(writeAt(plan, '/1/0')['/1/0/1'], 60);
    assert.deepEqual(writeAt(plan, '/1/1'), { '/1/1/0': 102, '/1/1/1': 3600, '/1/1/6': false, '/1/1/7': 'T' });
    assert.equal(plan.contentFormat, ContentFormat.SENML_CBOR);
  });

  it(
    'keeps profile fields an override parsed through deviceEntrySchema does not name',
    () => {
      const base = profile({ servers: [{ shortServerId: 101, uri: 'coaps://a.example', securityMode: 'psk', binding: 'US' }] });
      const parsed = device({
        serverCredentials: { '101': { identity: 'dev', secretKey: PSK_KEY } },
        overrides: { servers: { '101': { lifetime: 5 } } },
      });
      const plan = compile(base, parsed);
      assert.equal(writeAt(plan, '/0/1')['/0/1/2'], 0);
      assert.equal(writeAt(plan, '/1/0')['/1/0/7'], 'US');
    },
  );

  it('writes ACL instances with rights bitmasks per Short Server ID and pinned or allocated ids', () => {
    const plan = compile(
      profile({
        servers: [
          { shortServerId: 101, uri: 'coap://a.example' },
          { shortServerId: 102, uri: 'coap://b.example' },
        ],
        acl: [
          { objectId: 3, objectInstanceId: 0, rights: { '102': ['read', 'write', 'execute'], '101': ['read', 'write', 'execute', 'delete', 'create'] }, owner: 101 },
          { instanceId: 0, objectId: 5, objectInstanceId: 0, rights: { '0': ['read'] }, owner: 102 },
          { objectId: 1, objectInstanceId: 1, rights: {}, owner: 102 },
        ],
      }),
      device(),
    );
    assert.deepEqual(
      plan.writes.map((write) => write.path),
      ['/0/1', '/0/2', '/1/0', '/1/1', '/2/1', '/2/0', '/2/2'],
    );
    assert.deepEqual(writeAt(plan, '/2/1'), { '/2/1/0': 3, '/2/1/1': 0, '/2/1/2/101': 31, '/2/1/2/102': 7, '/2/1/3': 101 });
    assert.deepEqual(writeAt(plan, '/2/0'), { '/2/0/0': 5, '/2/0/1': 0, '/2/0/2/0': 1, '/2/0/3': 102 });
    assert.deepEqual(writeAt(plan, '/2/2'), { '/2/2/0': 1, '/2/2/1': 1, '/2/2/3': 102 });
  });

  it('writes OSCORE contexts from the profile and from the device, linked from /0/x/17', () => {
    const plan = compile(
      profile({
        servers: [
          { shortServerId: 101, uri: 'coap://a.example', oscore: { masterSecret: MASTER_SECRET, senderId: '01', recipientId: '02', masterSalt: '9e7ca925', idContext: '37cbf3210017a2d3' } },
          { shortServerId: 102, uri: 'coap://b.example' },
          { shortServerId: 103, uri: 'coap+tcp://c.example', oscore: 'device' },
        ],
      }),
      device({ oscore: { '103': { masterSecret: DEVICE_OSCORE_SECRET, senderId: '0a', recipientId: '0b', aeadAlgorithm: 1, hkdfAlgorithm: -11 } } }),
    );
    assert.deepEqual(
      plan.writes.map((write) => write.path),
      ['/0/1', '/0/2', '/0/3', '/1/0', '/1/1', '/1/2', '/21/0', '/21/1'],
    );
    assert.equal(writeAt(plan, '/0/1')['/0/1/17'], '21:0');
    assert.equal(writeAt(plan, '/0/2')['/0/2/17'], undefined);
    assert.equal(writeAt(plan, '/0/3')['/0/3/17'], '21:1');
    assert.deepEqual(writeAt(plan, '/21/0'), {
      '/21/0/0': MASTER_SECRET,
      '/21/0/1': '01',
      '/21/0/2': '02',
      '/21/0/3': 10,
      '/21/0/4': -10,
      '/21/0/5': '9e7ca925',
      '/21/0/6': '37cbf3210017a2d3',
    });
    assert.deepEqual(writeAt(plan, '/21/1'), { '/21/1/0': DEVICE_OSCORE_SECRET, '/21/1/1': '0a', '/21/1/2': '0b', '/21/1/3': 1, '/21/1/4': -11 });
  });

  it("rewrites the Bootstrap-Server account with the device's bootstrap credentials and the profile's timers", () => {
    const plan = compile(
      profile({
        servers: [{ shortServerId: 101, uri: 'coap://a.example' }],
        bootstrapServer: { uri: 'coaps://bs.example:5684', clientHoldOffTime: 30, accountTimeout: 0 },
      }),
      device({ bootstrapCredentials: { securityMode: 'psk', identity: 'bs-id', secretKey: BOOTSTRAP_KEY } }),
    );
    assert.deepEqual(plan.bootstrapServerWrite, {
      path: '/0/0',
      values: {
        '/0/0/0': 'coaps://bs.example:5684',
        '/0/0/1': true,
        '/0/0/2': 0,
        '/0/0/3': hex('bs-id'),
        '/0/0/4': '',
        '/0/0/5': BOOTSTRAP_KEY,
        '/0/0/11': 30,
        '/0/0/12': 0,
      },
    });
    const nosec = compile(profile({ servers: [{ shortServerId: 101, uri: 'coap://a.example' }], bootstrapServer: { uri: 'coap://bs.example', instanceId: 4 } }), device());
    assert.deepEqual(nosec.bootstrapServerWrite, {
      path: '/0/4',
      values: { '/0/4/0': 'coap://bs.example', '/0/4/1': true, '/0/4/2': 3, '/0/4/3': '', '/0/4/4': '', '/0/4/5': '' },
    });
    assert.equal(compile(profile({ servers: [{ shortServerId: 101, uri: 'coap://a.example' }] }), device()).bootstrapServerWrite, undefined);
  });

  it('allocates instance ids around pinned ones and the Bootstrap-Server instance', () => {
    const plan = compile(
      profile({
        servers: [
          { shortServerId: 1, uri: 'coap://a.example' },
          { shortServerId: 2, uri: 'coap://b.example', securityInstanceId: 3, serverInstanceId: 0 },
          { shortServerId: 3, uri: 'coap://c.example' },
          { shortServerId: 4, uri: 'coap://d.example' },
        ],
        bootstrapServer: { uri: 'coap://bs.example', instanceId: 2 },
      }),
      device(),
    );
    assert.deepEqual(
      plan.writes.map((write) => [write.path, write.values[`${write.path}/${write.path.startsWith('/0/') ? 10 : 0}`]]),
      [
        ['/0/1', 1],
        ['/0/3', 2],
        ['/0/4', 3],
        ['/0/5', 4],
        ['/1/1', 1],
        ['/1/0', 2],
        ['/1/2', 3],
        ['/1/3', 4],
      ],
    );
  });

  it('carries deletes, reads and discover from the profile', () => {
    const plan = compile(profile({ servers: [{ shortServerId: 1, uri: 'coap://a.example' }], deletes: ['/', '/2'], reads: ['/1', '/2'], discover: false }), device());
    assert.deepEqual([plan.deletes, plan.reads, plan.discover], [['/', '/2'], ['/1', '/2'], false]);
    assert.equal('contentFormat' in plan, false);
  });

  it('round-trips every write through treeFromJsonView to the expected tree, and encodes in TLV and SenML-CBOR', () => {
    const plan = compile(
      profile({
        servers: [{ shortServerId: 101, uri: 'coaps://a.example', securityMode: 'psk', oscore: { masterSecret: MASTER_SECRET, senderId: '01', recipientId: '02' } }],
        acl: [{ objectId: 3, objectInstanceId: 0, rights: { '101': ['read', 'write'] }, owner: 101 }],
        bootstrapServer: { uri: 'coap://bs.example' },
      }),
      device({ serverCredentials: { '101': { identity: 'dev', secretKey: PSK_KEY } } }),
    );
    const expected = new Map([
      [
        '/0/1',
        instanceTree(0, 1, [
          single(0, stringValue('coaps://a.example')),
          single(1, booleanValue(false)),
          single(2, integerValue(0)),
          single(3, opaqueValue(new TextEncoder().encode('dev'))),
          single(4, opaqueValue(new Uint8Array(0))),
          single(5, opaqueValue(Uint8Array.from(Buffer.from(PSK_KEY, 'hex')))),
          single(10, integerValue(101)),
          single(17, objlnkValue(21, 0)),
        ]),
      ],
      ['/1/0', instanceTree(1, 0, [single(0, integerValue(101)), single(1, integerValue(86400)), single(6, booleanValue(false)), single(7, stringValue('U'))])],
      ['/2/0', instanceTree(2, 0, [single(0, integerValue(3)), single(1, integerValue(0)), multiple(2, [[101, integerValue(3)]]), single(3, integerValue(101))])],
      [
        '/21/0',
        instanceTree(21, 0, [
          single(0, opaqueValue(Uint8Array.from(Buffer.from(MASTER_SECRET, 'hex')))),
          single(1, opaqueValue(Uint8Array.of(1))),
          single(2, opaqueValue(Uint8Array.of(2))),
          single(3, integerValue(10)),
          single(4, integerValue(-10)),
        ]),
      ],
      [
        '/0/0',
        instanceTree(0, 0, [
          single(0, stringValue('coap://bs.example')),
          single(1, booleanValue(true)),
          single(2, integerValue(3)),
          single(3, opaqueValue(new Uint8Array(0))),
          single(4, opaqueValue(new Uint8Array(0))),
          single(5, opaqueValue(new Uint8Array(0))),
        ]),
      ],
    ]);
    const writes = [...plan.writes, plan.bootstrapServerWrite!];
    assert.deepEqual(writes.map((write) => write.path), [...expected.keys()]);
    for (const write of writes) {
      const path = parsePath(write.path);
      const tree = treeFromJsonView(write.values, path);
      assert.deepEqual(tree, expected.get(write.path), write.path);
      for (const format of [ContentFormat.TLV, ContentFormat.SENML_CBOR]) {
        const bytes = encodeContent(format, tree, path);
        assert.ok(bytes.length > 0);
        assert.deepEqual(decodeContent(format, bytes, path), tree, `${write.path} in format ${format}`);
      }
    }
  });

  it('throws a ConfigurationError naming fields, never the keys', () => {
    const shortKey = 'a1b2c3d4e5f60718';
    const p = profile({ servers: [{ shortServerId: 101, uri: 'coap://a.example', securityMode: 'psk' }] });
    assert.throws(
      () => compileBootstrapPlan(p, device({ serverCredentials: { '101': { identity: 'dev', secretKey: shortKey } } })),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        assert.deepEqual(
          error.issues.map((issue) => issue.field),
          ['servers[0].uri', 'device.serverCredentials.101.secretKey'],
        );
        assert.match(error.message, /servers\[0\]\.uri/);
        assert.match(error.message, /device\.serverCredentials\.101\.secretKey: is 8 bytes/);
        assert.doesNotMatch(error.message, new RegExp(shortKey, 'i'));
        return true;
      },
    );
  });
});
