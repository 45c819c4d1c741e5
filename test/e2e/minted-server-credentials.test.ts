import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ContentTree } from '../../shared/content/tree.ts';
import { startLocalServer, type LocalServer } from '../../server/local-server.ts';
import { SimulatedClient } from '../../simulator/client.ts';
import { device, eventually, nosecProfile } from './fixtures.ts';

const SHORT_SERVER_ID = 9;

/** The PSK identity and key the client holds for a LwM2M Server account, read from its /0. */
function heldCredentials(tree: ContentTree, shortServerId: number): { identity: string; key: string } | undefined {
  const security = tree.find((object) => object.id === 0);
  for (const instance of security?.instances ?? []) {
    const single = (id: number) => instance.resources.find((resource) => resource.kind === 'single' && resource.id === id);
    const ssid = single(10);
    if (ssid?.kind !== 'single' || ssid.value.type !== 'integer' || Number(ssid.value.value) !== shortServerId) continue;
    const identity = single(3);
    const key = single(5);
    if (identity?.kind !== 'single' || identity.value.type !== 'opaque' || key?.kind !== 'single' || key.value.type !== 'opaque') return undefined;
    return { identity: Buffer.from(identity.value.value).toString('utf8'), key: Buffer.from(key.value.value).toString('hex') };
  }
  return undefined;
}

// A profile with mintServerCredentials on the local server, over real DTLS with dynalite: every
// bootstrap gives the client new LwM2M Server credentials, the device entry takes them once the
// session succeeded, and the lifecycle log says so without the key.
describe('fresh LwM2M Server credentials at every bootstrap, end to end', () => {
  let work: string;
  let server: LocalServer;
  let coapsPort: number;
  const lifecycleLines: string[] = [];
  const gatewayLines: string[] = [];
  const bootstrapKey = randomBytes(16);

  before(async () => {
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
    work = await mkdtemp(join(tmpdir(), 'lwm2m-bs-mint-e2e-'));
    server = await startLocalServer({
      dataDir: join(work, 'data'),
      port: 0,
      coapsPort: 0,
      host4: '127.0.0.1',
      host6: false,
      requestTimeoutMs: 2000,
      lifecycleLog: (line) => lifecycleLines.push(line),
      log: (event) => gatewayLines.push(JSON.stringify(event)),
    });
    coapsPort = server.gateway.coaps!.address('IPv4')!.port;
    await server.store.putProfile(
      nosecProfile('minting', 5699, {
        servers: [{ shortServerId: SHORT_SERVER_ID, uri: 'coaps://lwm2m.example:5684', securityMode: 'psk', credentialSource: 'device', lifetime: 120, binding: 'U', notificationStoring: false }],
        mintServerCredentials: true,
      }),
    );
    await server.store.putDevice({
      ...device('minted-1', 'minting'),
      serverCredentials: { [String(SHORT_SERVER_ID)]: { identity: 'minted-1-factory', secretKey: randomBytes(16).toString('hex') } },
      bootstrapCredentials: { securityMode: 'psk', identity: 'minted-1-bs', secretKey: bootstrapKey.toString('hex') },
    });
  });

  after(async () => {
    await server.close();
    await rm(work, { recursive: true, force: true });
  });

  it('each bootstrap delivers new credentials, which the device entry then holds; no log line carries a key', async () => {
    const client = new SimulatedClient({
      endpoint: 'minted-1',
      version: '1.1',
      bootstrapServer: { host: '127.0.0.1', port: coapsPort },
      bootstrapPsk: { identity: 'minted-1-bs', key: bootstrapKey },
      register: false,
      timeouts: { dtlsHandshakeMs: 2000, bootstrapIdleMs: 3000 },
    });
    const held: { identity: string; key: string }[] = [];
    try {
      for (let run = 0; run < 2; run += 1) {
        const result = await client.run();
        assert.equal(result.ok, true, result.error);
        const credentials = heldCredentials(client.state(), SHORT_SERVER_ID);
        assert.ok(credentials !== undefined, 'the client holds a PSK account for the server');
        held.push(credentials);
        const entry = await eventually(async () => {
          const stored = (await server.store.getDevice('minted-1'))?.serverCredentials[String(SHORT_SERVER_ID)];
          return stored?.identity === credentials.identity ? stored : undefined;
        });
        assert.equal(entry.secretKey, credentials.key, 'the store holds the key the client was given');
      }
    } finally {
      await client.close();
    }
    const [first, second] = held;
    assert.ok(first !== undefined && second !== undefined);
    assert.notEqual(first.identity, 'minted-1-factory');
    assert.notEqual(first.identity, second.identity);
    assert.notEqual(first.key, second.key);

    const issued = lifecycleLines.filter((line) => line.includes('ServerCredentialsIssued'));
    assert.equal(issued.length, 2, lifecycleLines.join('\n'));
    assert.ok(issued.every((line) => line.includes('"keyEncrypted":false')));
    assert.ok(issued[0]?.includes(first.identity));
    for (const line of [...lifecycleLines, ...gatewayLines]) {
      for (const { key } of held) assert.ok(!line.toLowerCase().includes(key), 'a minted key in a log line');
    }
  });
});
