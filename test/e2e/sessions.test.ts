import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startLocalServer, type LocalServer } from '../../server/local-server.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { SimulatedClient } from '../../simulator/client.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import { device, eventually, nosecProfile } from './fixtures.ts';

const run = promisify(execFile);

// Session rules through the real gateway: one session per endpoint, format fallback, IPv6.
describe('bootstrap sessions through the gateway', () => {
  let lwm2m: TestLwm2mServer;
  let server: LocalServer;
  let port: number;
  let ipv6: boolean;

  before(async () => {
    lwm2m = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
    server = await startLocalServer({ port: 0, host4: '127.0.0.1', host6: '::1', requestTimeoutMs: 400 });
    port = server.gateway.coap.address('IPv4')!.port;
    ipv6 = server.gateway.coap.address('IPv6') !== undefined;
    await server.store.putProfile(nosecProfile('fleet', lwm2m.port));
    for (const endpoint of ['superseded', 'tlv-only', 'over-ipv6']) await server.store.putDevice(device(endpoint, 'fleet'));
  });

  after(async () => {
    await server.close();
    await lwm2m.close();
  });

  it('cancels a running session when the same endpoint asks again, and records the newer one', async () => {
    const cancelledBefore = server.gateway.counters().sessionsCancelled ?? 0;
    const url = `coap://127.0.0.1:${port}/bs?ep=superseded`;
    // coap-client leaves after 2.04, so the first session waits on an unanswered Discover
    // when the second request arrives.
    await run('coap-client-notls', ['-B', '3', '-m', 'post', url], { timeout: 10_000 });
    await run('coap-client-notls', ['-B', '3', '-m', 'post', url], { timeout: 10_000 });
    await eventually(async () => ((server.gateway.counters().sessionsCancelled ?? 0) > cancelledBefore ? true : undefined));
    // The newer session ends on its unanswered Discover: a timeout once coap-client has left, or
    // a client error when, on a loaded machine, the Discover reaches coap-client before it exits
    // and it answers Reset. Either way it is the newer session's outcome, never 'cancelled'.
    await eventually(async () => {
      const current = (await server.store.getDevice('superseded'))?.status;
      return current?.outcome === 'timeout' || current?.outcome === 'client-error' ? current : undefined;
    }, 8000);
  });

  it('rewrites in TLV when a client answers 4.06 to the format its pct named', async () => {
    const client = new SimulatedClient({
      endpoint: 'tlv-only',
      version: '1.1',
      bootstrapServer: { host: '127.0.0.1', port },
      preferredFormat: ContentFormat.SENML_CBOR,
      supportedFormats: [ContentFormat.TLV],
      rejectFormatWith: '4.06',
      useBootstrapPack: false,
    });
    try {
      const result = await client.run();
      assert.equal(result.ok, true, result.error);
      assert.ok(result.steps.includes('write /0/1 (112) refused 4.06'), 'first try in the pct format');
      assert.ok(result.steps.includes('write /0/1 (11542)'));
      assert.deepEqual([...new Set(result.formatsReceived)], [ContentFormat.TLV], 'the format that worked is kept');
      const status = await eventually(async () => (await server.store.getDevice('tlv-only'))?.status);
      assert.equal(status.outcome, 'success');
      assert.equal(status.contentFormat, ContentFormat.TLV);
    } finally {
      await client.close();
    }
  });

  it('bootstraps a client over IPv6', async (context) => {
    if (!ipv6) return context.skip('no IPv6 loopback on this machine');
    const client = new SimulatedClient({ endpoint: 'over-ipv6', version: '1.1', bootstrapServer: { host: '::1', port: server.gateway.coap.address('IPv6')!.port }, useBootstrapPack: false });
    try {
      const result = await client.run();
      assert.equal(result.ok, true, result.error);
      assert.ok(result.registeredAt);
    } finally {
      await client.close();
    }
  });
});
