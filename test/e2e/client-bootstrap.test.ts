import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startLocalServer, type LocalServer } from '../../server/local-server.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { SimulatedClient, type ClientVersion } from '../../simulator/client.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import { device, eventually, nosecProfile } from './fixtures.ts';

// Real UDP on loopback: simulated clients of each LwM2M version against the local server
// (dynalite in memory), then registration at a test LwM2M server.
describe('client-initiated bootstrap end to end', () => {
  let lwm2m: TestLwm2mServer;
  let server: LocalServer;
  let port: number;

  before(async () => {
    lwm2m = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
    server = await startLocalServer({ port: 0, host4: '127.0.0.1', host6: false, requestTimeoutMs: 2000 });
    port = server.gateway.coap.address('IPv4')!.port;
    await server.store.putProfile(nosecProfile('fleet', lwm2m.port));
    await server.store.putProfile(nosecProfile('forced-json', lwm2m.port, { contentFormat: ContentFormat.SENML_JSON }));
    await server.store.putProfile(nosecProfile('broken', lwm2m.port, { servers: [{ shortServerId: 101, uri: 'coaps://127.0.0.1:5684', securityMode: 'psk', credentialSource: 'device', lifetime: 60, binding: 'U', notificationStoring: false }] }));
    for (const endpoint of ['c10', 'c11-json', 'c11-cbor', 'c12', 'c12-nopack', 'forced', 'twice']) {
      await server.store.putDevice(device(endpoint, 'fleet'));
    }
    await server.store.putDevice(device('forced', 'forced-json'));
    await server.store.putDevice(device('no-key', 'broken'));
    await server.store.putProfile(nosecProfile('timers', lwm2m.port, { bootstrapServer: { uri: 'coap://127.0.0.1:5683', clientHoldOffTime: 7, accountTimeout: 0, instanceId: 0 } }));
    await server.store.putDevice(device('account-at-3', 'timers'));
  });

  after(async () => {
    await server.close();
    await lwm2m.close();
  });

  const run = async (endpoint: string, version: ClientVersion, extra: Partial<ConstructorParameters<typeof SimulatedClient>[0]> = {}) => {
    const client = new SimulatedClient({ endpoint, version, bootstrapServer: { host: '127.0.0.1', port }, ...extra });
    try {
      return await client.run();
    } finally {
      await client.close();
    }
  };

  const statusOf = (endpoint: string) => eventually(async () => (await server.store.getDevice(endpoint))?.status);

  it('bootstraps a LwM2M 1.0 client in TLV and it registers', async () => {
    const result = await run('c10', '1.0');
    assert.equal(result.ok, true, result.error);
    assert.equal(result.method, 'bs');
    assert.deepEqual([...new Set(result.formatsReceived)], [ContentFormat.TLV]);
    assert.equal(result.registeredAt?.uri, `coap://127.0.0.1:${lwm2m.port}`);
    assert.ok(lwm2m.registrations().some((registration) => registration.endpoint === 'c10'));
    const status = await statusOf('c10');
    assert.equal(status.outcome, 'success');
    assert.equal(status.contentFormat, ContentFormat.TLV);
  });

  it('writes a 1.1 client in the format its pct names', async () => {
    for (const [endpoint, pct] of [['c11-json', ContentFormat.SENML_JSON], ['c11-cbor', ContentFormat.SENML_CBOR]] as const) {
      const result = await run(endpoint, '1.1', { preferredFormat: pct, useBootstrapPack: false });
      assert.equal(result.ok, true, result.error);
      assert.deepEqual([...new Set(result.formatsReceived)], [pct]);
      const status = await statusOf(endpoint);
      assert.equal(status.outcome, 'success');
      assert.equal(status.clientVersion, '1.1');
      assert.equal(status.contentFormat, pct);
    }
  });

  it('serves a 1.2 client the whole configuration as one Bootstrap-Pack', async () => {
    const result = await run('c12', '1.2');
    assert.equal(result.ok, true, result.error);
    assert.equal(result.method, 'bspack');
    assert.ok(result.registeredAt);
    const status = await statusOf('c12');
    assert.equal(status.kind, 'bspack');
    assert.equal(status.contentFormat, ContentFormat.SENML_CBOR);
  });

  it('bootstraps a 1.2 client that uses /bs instead of the pack', async () => {
    const result = await run('c12-nopack', '1.2', { useBootstrapPack: false });
    assert.equal(result.ok, true, result.error);
    assert.equal(result.method, 'bs');
    assert.equal((await statusOf('c12-nopack')).clientVersion, '1.2');
  });

  it('honours a format the profile forces', async () => {
    const result = await run('forced', '1.1', { preferredFormat: ContentFormat.SENML_CBOR, useBootstrapPack: false });
    assert.equal(result.ok, true, result.error);
    assert.deepEqual([...new Set(result.formatsReceived)], [ContentFormat.SENML_JSON]);
  });

  it('never deletes the client\'s own Bootstrap-Server account', async () => {
    const client = new SimulatedClient({ endpoint: 'twice', version: '1.1', bootstrapServer: { host: '127.0.0.1', port }, useBootstrapPack: false });
    try {
      const result = await client.run();
      assert.equal(result.ok, true, result.error);
      const security = client.state().find((object) => object.id === 0);
      const bootstrapAccount = security?.instances.find((instance) =>
        instance.resources.some((resource) => resource.id === 1 && resource.kind === 'single' && resource.value.type === 'boolean' && resource.value.value),
      );
      assert.ok(bootstrapAccount, 'the Bootstrap-Server account survived');
      assert.equal(security?.instances.length, 2);
    } finally {
      await client.close();
    }
  });

  it('finds the Bootstrap-Server account where the client keeps it (/0/3) and rewrites it there', async () => {
    const client = new SimulatedClient({
      endpoint: 'account-at-3',
      version: '1.1',
      bootstrapServer: { host: '127.0.0.1', port },
      useBootstrapPack: false,
      initialBootstrapAccount: { instanceId: 3, uri: `coap://127.0.0.1:${port}` },
    });
    try {
      const result = await client.run();
      assert.equal(result.ok, true, result.error);
      assert.ok(!result.steps.some((step) => step.startsWith('delete /0/3')), 'its account was never deleted');
      assert.ok(result.steps.includes('write /0/3 (110)'), 'the account rewrite went to /0/3');
      const security = client.state().find((object) => object.id === 0)!;
      assert.deepEqual(security.instances.map((instance) => instance.id), [1, 3], 'one server account, one Bootstrap-Server account, no stray /0/0');
      const account = security.instances.find((instance) => instance.id === 3)!;
      const holdOff = account.resources.find((resource) => resource.id === 11);
      assert.deepEqual(holdOff?.kind === 'single' && holdOff.value, { type: 'integer', value: 7n });
    } finally {
      await client.close();
    }
  });

  it('refuses an unknown endpoint with 4.00 and counts it', async () => {
    const result = await run('nobody-knows-me', '1.1', { useBootstrapPack: false, register: false });
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /4\.00/);
    assert.ok((server.gateway.counters().bootstrapsRejected ?? 0) >= 1);
  });

  it('refuses a device whose configuration does not check out and records why', async () => {
    const result = await run('no-key', '1.1', { useBootstrapPack: false, register: false });
    assert.equal(result.ok, false);
    const status = await statusOf('no-key');
    assert.equal(status.outcome, 'rejected');
    assert.match(status.detail ?? '', /invalid-configuration/);
  });
});
