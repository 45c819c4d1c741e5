import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startLocalServer, type LocalServer } from '../../server/local-server.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { SimulatedClient, type ClientVersion } from '../../simulator/client.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import { device, eventually, nosecProfile } from './fixtures.ts';

// Real UDP on loopback: simulated clients (node-dtls-client underneath, independent of our DTLS
// server) bootstrap over coaps through the gateway with keys looked up in the store.
describe('client-initiated bootstrap over coaps end to end', () => {
  let lwm2m: TestLwm2mServer;
  let server: LocalServer;
  let coapsPort: number;
  let coapPort: number;
  const keys = new Map<string, Uint8Array>();

  const pskDevice = async (endpoint: string, profile: string): Promise<void> => {
    const key = new Uint8Array(randomBytes(16));
    keys.set(endpoint, key);
    await server.store.putDevice({ ...device(endpoint, profile), bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-identity`, secretKey: Buffer.from(key).toString('hex') } });
  };

  before(async () => {
    lwm2m = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
    server = await startLocalServer({ port: 0, coapsPort: 0, host4: '127.0.0.1', host6: false, requestTimeoutMs: 2000 });
    coapsPort = server.gateway.coaps!.address('IPv4')!.port;
    coapPort = server.gateway.coap.address('IPv4')!.port;
    await server.store.putProfile(nosecProfile('fleet', lwm2m.port));
    // An LwM2M server account whose PSK the device gets at bootstrap: keys in the plan.
    await server.store.putProfile(nosecProfile('keyed', lwm2m.port, {
      servers: [{ shortServerId: 101, uri: 'coaps://127.0.0.1:5784', securityMode: 'psk', credentialSource: 'device', lifetime: 60, binding: 'U', notificationStoring: false }],
    }));
    for (const endpoint of ['s10', 's11', 's12', 's12-noep', 'wrong-key', 'over-nosec']) await pskDevice(endpoint, 'fleet');
    await pskDevice('keyed-1', 'keyed');
    const keyed = (await server.store.getDevice('keyed-1'))!;
    await server.store.putDevice({ ...keyed, serverCredentials: { '101': { identity: 'keyed-1-dm', secretKey: '000102030405060708090a0b0c0d0e0f' } } });
  });

  after(async () => {
    await server.close();
    await lwm2m.close();
  });

  const run = async (endpoint: string, version: ClientVersion, extra: Partial<ConstructorParameters<typeof SimulatedClient>[0]> = {}) => {
    const client = new SimulatedClient({
      endpoint,
      version,
      bootstrapServer: { host: '127.0.0.1', port: coapsPort },
      bootstrapPsk: { identity: `${endpoint}-identity`, key: keys.get(endpoint)! },
      ...extra,
    });
    try {
      return await client.run();
    } finally {
      await client.close();
    }
  };
  const statusOf = (endpoint: string) => eventually(async () => (await server.store.getDevice(endpoint))?.status);

  for (const [endpoint, version, format] of [['s10', '1.0', ContentFormat.TLV], ['s11', '1.1', ContentFormat.SENML_CBOR], ['s12', '1.2', ContentFormat.SENML_CBOR]] as const) {
    it(`bootstraps a LwM2M ${version} client over DTLS, keeps its coaps Bootstrap-Server account, and it registers`, async () => {
      const result = await run(endpoint, version, version === '1.1' ? { preferredFormat: ContentFormat.SENML_CBOR } : {});
      assert.equal(result.ok, true, result.error);
      assert.equal(result.steps[0], 'dtls-handshake');
      assert.ok(result.formatsReceived.includes(format));
      const account = result.security.find((summary) => summary.bootstrapServer);
      assert.equal(account?.uri, `coaps://127.0.0.1:${coapsPort}`, 'the account the device bootstrapped with survives');
      assert.equal(account?.securityMode, 0);
      assert.equal(result.registeredAt?.uri, `coap://127.0.0.1:${lwm2m.port}`);
      assert.equal((await statusOf(endpoint)).outcome, 'success');
    });
  }

  it('takes the endpoint from the PSK identity when ep is left out', async () => {
    const result = await run('s12-noep', '1.2', { omitEndpointName: true, useBootstrapPack: false });
    assert.equal(result.ok, true, result.error);
    assert.equal((await statusOf('s12-noep')).outcome, 'success');
  });

  it('hands a server account key only over DTLS: the same device is refused over NoSec', async () => {
    const secured = await run('keyed-1', '1.1', { register: false });
    assert.equal(secured.ok, true, secured.error);
    assert.ok(secured.security.some((summary) => summary.shortServerId === 101 && summary.securityMode === 0));
    const plain = new SimulatedClient({ endpoint: 'over-nosec', version: '1.1', bootstrapServer: { host: '127.0.0.1', port: coapPort }, register: false, timeouts: { maxRetransmit: 0, ackTimeoutMs: 500 } });
    try {
      const refused = await plain.run();
      assert.equal(refused.ok, false);
    } finally {
      await plain.close();
    }
    assert.equal((await statusOf('over-nosec')).detail?.includes('NoSec'), true, 'refused as insecure-transport');
  });

  it('a wrong key fails the handshake with decrypt_error and provisions nothing', async () => {
    const before = server.gateway.counters()['bootstrapsStarted'];
    const result = await run('wrong-key', '1.2', { bootstrapPsk: { identity: 'wrong-key-identity', key: new Uint8Array(16).fill(7) }, timeouts: { dtlsHandshakeMs: 2000 } });
    assert.equal(result.ok, false);
    assert.deepEqual(result.steps, ['dtls-handshake']);
    assert.match(result.error ?? '', /decrypt_error/);
    assert.equal(server.gateway.counters()['bootstrapsStarted'], before);
    assert.equal((await server.store.getDevice('wrong-key'))?.status, undefined);
  });
});
