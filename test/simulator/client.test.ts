import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CoapCode, formatCode, queryParameters, uriPathString } from '../../shared/coap/index.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { decodeContent, encodeContent } from '../../shared/content/registry.ts';
import type { ContentTree } from '../../shared/content/tree.ts';
import { parseBootstrapDiscover } from '../../shared/lwm2m/bootstrap-discover.ts';
import { parsePath, ROOT_PATH } from '../../shared/lwm2m/path.ts';
import { SimulatedClient, type SimulatedClientOptions } from '../../simulator/client.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import { DELETE, GET, POST, PUT, ScriptedServer, securityInstance, serverInstance, type Peer } from './scripted-server.ts';

// Each test plays the bootstrap server by hand against one simulated client, then checks the
// client registered at a real TestLwm2mServer.
describe('SimulatedClient against a scripted bootstrap server', () => {
  let lwm2m: TestLwm2mServer;
  let bs: ScriptedServer;

  before(async () => {
    lwm2m = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
    bs = await ScriptedServer.start();
  });

  after(async () => {
    await bs.close();
    await lwm2m.close();
  });

  const startClient = (options: Omit<SimulatedClientOptions, 'bootstrapServer'>) => {
    const client = new SimulatedClient({
      bootstrapServer: { host: '127.0.0.1', port: bs.port },
      timeouts: { ackTimeoutMs: 300, maxRetransmit: 2, bootstrapIdleMs: 1500 },
      ...options,
    });
    return { client, running: client.run().finally(() => client.close()) };
  };

  /** Waits for the Bootstrap-Request, answers 2.04, and returns where the client is. */
  const acceptBootstrapRequest = async (): Promise<{ peer: Peer; query: Map<string, string> }> => {
    const request = await bs.nextRequest();
    assert.equal(request.message.code, POST);
    assert.equal(uriPathString(request.message.options), '/bs');
    bs.reply(request, CoapCode.CHANGED);
    return { peer: request.peer, query: queryParameters(request.message.options) };
  };

  const write = (peer: Peer, path: string, format: number, tree: ContentTree) =>
    bs.request(peer, PUT, { uriPath: path.split('/').slice(1), contentFormat: format }, encodeContent(format, tree, parsePath(path)));

  const serverAccount = (format: number) => async (peer: Peer) => {
    assert.equal(formatCode((await write(peer, '/0/1', format, securityInstance(1, `coap://127.0.0.1:${lwm2m.port}`, 101))).code), '2.04');
    assert.equal(formatCode((await write(peer, '/1/0', format, serverInstance(0, 101, 120))).code), '2.04');
  };

  const finish = (peer: Peer) => bs.request(peer, POST, { uriPath: ['bs'] });

  it('LwM2M 1.1: pct, Discover, Deletes, SenML-JSON writes, Read, Finish, then Register', async () => {
    const { running, client } = startClient({ endpoint: 'c11', version: '1.1' });
    const { peer, query } = await acceptBootstrapRequest();
    assert.equal(query.get('ep'), 'c11');
    assert.equal(query.get('pct'), String(ContentFormat.SENML_JSON));

    const discover = await bs.request(peer, GET, { accept: ContentFormat.LINK_FORMAT });
    assert.equal(formatCode(discover.code), '2.05');
    assert.equal(discover.options.contentFormat, ContentFormat.LINK_FORMAT);
    const discovered = parseBootstrapDiscover(discover.payload);
    assert.equal(discovered.lwm2mVersion, '1.1');
    const security = discovered.objects.find((object) => object.objectId === 0);
    assert.deepEqual(security?.instances, [{ instanceId: 0, uri: `coap://127.0.0.1:${bs.port}` }], 'the BS account has no ssid');
    assert.deepEqual(discovered.objects.map((object) => object.objectId), [0, 1, 2, 3, 21]);

    assert.equal(formatCode((await bs.request(peer, DELETE, { uriPath: ['0'] })).code), '2.02');
    assert.equal(formatCode((await bs.request(peer, DELETE, { uriPath: ['1'] })).code), '2.02');
    await serverAccount(ContentFormat.SENML_JSON)(peer);

    const rediscovered = parseBootstrapDiscover((await bs.request(peer, GET, { accept: ContentFormat.LINK_FORMAT })).payload);
    assert.deepEqual(rediscovered.objects.find((object) => object.objectId === 0)?.instances[1], {
      instanceId: 1,
      ssid: 101,
      uri: `coap://127.0.0.1:${lwm2m.port}`,
    });
    assert.deepEqual(rediscovered.objects.find((object) => object.objectId === 1)?.instances, [{ instanceId: 0, ssid: 101 }]);

    const read = await bs.request(peer, GET, { uriPath: ['1'], accept: ContentFormat.SENML_JSON });
    assert.equal(formatCode(read.code), '2.05');
    assert.equal(read.options.contentFormat, ContentFormat.SENML_JSON);
    assert.deepEqual(decodeContent(ContentFormat.SENML_JSON, read.payload, { objectId: 1 }), serverInstance(0, 101, 120));
    const readWithoutAccept = await bs.request(peer, GET, { uriPath: ['1', '0'] });
    assert.equal(readWithoutAccept.options.contentFormat, ContentFormat.SENML_JSON, 'no Accept: the pct format');

    assert.equal(formatCode((await bs.request(peer, GET, { uriPath: ['0'] })).code), '4.00', 'keys are never read back');
    assert.equal(formatCode((await bs.request(peer, GET, { uriPath: ['0', '1'], accept: ContentFormat.SENML_JSON })).code), '4.00');

    assert.equal(formatCode((await finish(peer)).code), '2.04');
    const result = await running;
    assert.equal(result.ok, true, result.error);
    assert.equal(result.method, 'bs');
    assert.deepEqual(result.formatsReceived, [ContentFormat.SENML_JSON, ContentFormat.SENML_JSON]);
    assert.deepEqual(result.steps.slice(0, 5), ['bootstrap-request', 'discover', 'delete /0', 'delete /1', 'write /0/1 (110)']);
    assert.equal(result.steps.at(-1), 'register');
    assert.equal(result.registeredAt?.uri, `coap://127.0.0.1:${lwm2m.port}`);
    const registration = await lwm2m.waitFor('c11', 1000);
    assert.equal(registration.location, result.registeredAt?.location);
    assert.equal(registration.lifetime, 120);
    assert.equal(registration.version, '1.1');
    assert.equal(registration.binding, 'U');
    assert.deepEqual(registration.objectLinks, ['/1/0', '/2', '/3/0']);
    assert.deepEqual(
      client.state().find((object) => object.id === 0)?.instances.map((instance) => instance.id),
      [0, 1],
    );
    assert.deepEqual(result.security.map((account) => [account.instanceId, account.bootstrapServer, account.shortServerId]), [
      [0, true, undefined],
      [1, false, 101],
    ]);
  });

  it('LwM2M 1.0: no pct, Discover and Read refused 4.05, TLV only (SenML 4.15)', async () => {
    const { running } = startClient({ endpoint: 'c10', version: '1.0' });
    const { peer, query } = await acceptBootstrapRequest();
    assert.equal(query.get('ep'), 'c10');
    assert.equal(query.has('pct'), false);

    assert.equal(formatCode((await bs.request(peer, GET, { accept: ContentFormat.LINK_FORMAT })).code), '4.05');
    assert.equal(formatCode((await bs.request(peer, GET, { uriPath: ['1'], accept: ContentFormat.TLV })).code), '4.05');
    assert.equal(formatCode((await write(peer, '/0/1', ContentFormat.SENML_JSON, securityInstance(1, 'coap://x', 101))).code), '4.15');
    assert.equal(formatCode((await write(peer, '/0/1', ContentFormat.SENML_CBOR, securityInstance(1, 'coap://x', 101))).code), '4.15');
    assert.equal(formatCode((await bs.request(peer, DELETE, { uriPath: ['0'] })).code), '2.02');
    assert.equal(formatCode((await write(peer, '/0/1', ContentFormat.TLV, securityInstance(1, `coap://127.0.0.1:${lwm2m.port}`, 101))).code), '2.04');
    // The pre-registration TLV number that 1.0 servers still send.
    assert.equal(formatCode((await write(peer, '/1/0', ContentFormat.TLV_LEGACY, serverInstance(0, 101))).code), '2.04');
    assert.equal(formatCode((await finish(peer)).code), '2.04');

    const result = await running;
    assert.equal(result.ok, true, result.error);
    assert.deepEqual(result.formatsReceived, [ContentFormat.TLV, ContentFormat.TLV_LEGACY]);
    assert.ok(result.steps.includes('write /0/1 (110) refused 4.15'));
    assert.equal((await lwm2m.waitFor('c10', 1000)).version, '1.0');
  });

  it('refuses unsupported formats with 4.06 when told to, as some clients do', async () => {
    const { running } = startClient({ endpoint: 'c11-406', version: '1.1', rejectFormatWith: '4.06', register: false });
    const { peer } = await acceptBootstrapRequest();
    assert.equal(formatCode((await write(peer, '/0/1', ContentFormat.LWM2M_CBOR, securityInstance(1, 'coap://x', 101))).code), '4.06');
    await serverAccount(ContentFormat.SENML_CBOR)(peer);
    assert.equal(formatCode((await finish(peer)).code), '2.04');
    const result = await running;
    assert.equal(result.ok, true, result.error);
    assert.equal(result.registeredAt, undefined);
  });

  it('protects its Bootstrap-Server account and refuses a Finish without a Server Account', async () => {
    const { running, client } = startClient({ endpoint: 'guarded', version: '1.1', timeouts: { ackTimeoutMs: 300, bootstrapIdleMs: 400 } });
    const { peer } = await acceptBootstrapRequest();
    await serverAccount(ContentFormat.SENML_JSON)(peer);
    assert.equal(formatCode((await bs.request(peer, DELETE, {})).code), '2.02', 'Delete / succeeds');
    assert.deepEqual(client.state().map((object) => [object.id, object.instances.map((instance) => instance.id)]), [
      [0, [0]],
      [3, [0]],
    ]);
    assert.equal(formatCode((await bs.request(peer, DELETE, { uriPath: ['0', '0'] })).code), '4.00', 'the BS account itself');
    assert.equal(formatCode((await bs.request(peer, DELETE, { uriPath: ['0', '7'] })).code), '4.04', 'a missing instance');
    assert.equal(formatCode((await bs.request(peer, DELETE, { uriPath: ['2'] })).code), '2.02', 'an empty object');
    assert.equal(formatCode((await bs.request(peer, DELETE, { uriPath: ['0', '0', '1'] })).code), '4.00', 'a resource');

    // Only the Security half of a Server Account: Finish must be refused with a reason.
    assert.equal(formatCode((await write(peer, '/0/1', ContentFormat.SENML_JSON, securityInstance(1, 'coap://127.0.0.1:1', 101))).code), '2.04');
    const refused = await finish(peer);
    assert.equal(formatCode(refused.code), '4.06');
    assert.equal(refused.options.contentFormat, ContentFormat.TEXT);
    assert.match(new TextDecoder().decode(refused.payload), /no Server Account/);

    const result = await running;
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /Bootstrap-Finish was refused: no Server Account/);
    assert.equal(result.steps.at(-1), 'finish refused 4.06');
  });

  it('answers malformed requests 4.00 and keeps going', async () => {
    const { running } = startClient({ endpoint: 'robust', version: '1.2', useBootstrapPack: false, register: false });
    const { peer, query } = await acceptBootstrapRequest();
    assert.equal(query.get('pct'), String(ContentFormat.SENML_CBOR));
    assert.equal(formatCode((await bs.request(peer, PUT, { uriPath: ['0', '1'], contentFormat: ContentFormat.SENML_CBOR }, Uint8Array.of(0xff, 0x00))).code), '4.00');
    assert.equal(formatCode((await bs.request(peer, PUT, { uriPath: ['zero'], contentFormat: ContentFormat.TLV }, Uint8Array.of(1))).code), '4.00');
    assert.equal(formatCode((await bs.request(peer, PUT, { uriPath: ['0', '1'] }, Uint8Array.of(1))).code), '4.00', 'no Content-Format');
    assert.equal(formatCode((await bs.request(peer, POST, { uriPath: ['3', '0', '4'] })).code), '4.05', 'no Execute while bootstrapping');
    await serverAccount(ContentFormat.LWM2M_CBOR)(peer);
    assert.equal(formatCode((await finish(peer)).code), '2.04');
    const result = await running;
    assert.equal(result.ok, true, result.error);
  });

  it('fails clearly when the Bootstrap-Request is refused', async () => {
    const { running } = startClient({ endpoint: 'unknown', version: '1.1' });
    const request = await bs.nextRequest();
    bs.reply(request, CoapCode.BAD_REQUEST);
    const result = await running;
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /Bootstrap-Request answered 4\.00/);
  });

  it('cannot register at a coaps:// server and says so', async () => {
    const { running } = startClient({ endpoint: 'secure', version: '1.1' });
    const { peer } = await acceptBootstrapRequest();
    await write(peer, '/0/1', ContentFormat.SENML_JSON, securityInstance(1, 'coaps://127.0.0.1:5684', 101));
    await write(peer, '/1/0', ContentFormat.SENML_JSON, serverInstance(0, 101));
    assert.equal(formatCode((await finish(peer)).code), '2.04');
    const result = await running;
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /coaps/);
  });

  describe('LwM2M 1.2 Bootstrap-Pack', () => {
    const pack = (): ContentTree => {
      const security = securityInstance(1, `coap://127.0.0.1:${lwm2m.port}`, 101)[0]!;
      const server = serverInstance(0, 101, 90)[0]!;
      return [security, server];
    };

    it('applies a SenML-CBOR pack served in Block2 blocks, keeps its BS account, and registers', async () => {
      const { running, client } = startClient({ endpoint: 'c12', version: '1.2' });
      const body = encodeContent(ContentFormat.SENML_CBOR, pack(), ROOT_PATH);
      assert.ok(body.length > 64, 'the pack spans several blocks');
      // The client asks for block 0, then each following block until M is clear.
      for (let num = 0; ; num++) {
        const request = await bs.nextRequest();
        assert.equal(request.message.code, GET);
        assert.equal(uriPathString(request.message.options), '/bspack');
        assert.equal(queryParameters(request.message.options).get('ep'), 'c12');
        assert.equal(request.message.options.accept, ContentFormat.SENML_CBOR);
        assert.equal(request.message.options.block2?.num ?? 0, num);
        const more = (num + 1) * 64 < body.length;
        bs.reply(request, CoapCode.CONTENT, { contentFormat: ContentFormat.SENML_CBOR, block2: { num, more, size: 64 } }, body.subarray(num * 64, num * 64 + 64));
        if (!more) break;
      }
      const result = await running;
      assert.equal(result.ok, true, result.error);
      assert.equal(result.method, 'bspack');
      assert.deepEqual(result.formatsReceived, [ContentFormat.SENML_CBOR]);
      assert.deepEqual(client.state().find((object) => object.id === 0)?.instances.map((instance) => instance.id), [0, 1]);
      assert.equal((await lwm2m.waitFor('c12', 1000)).lifetime, 90);
    });

    it('falls back to /bs when the server answers 4.04', async () => {
      const { running } = startClient({ endpoint: 'c12-fallback', version: '1.2' });
      const packRequest = await bs.nextRequest();
      assert.equal(uriPathString(packRequest.message.options), '/bspack');
      bs.reply(packRequest, CoapCode.NOT_FOUND);
      const { peer, query } = await acceptBootstrapRequest();
      assert.equal(query.get('pct'), String(ContentFormat.SENML_CBOR));
      await serverAccount(ContentFormat.SENML_CBOR)(peer);
      assert.equal(formatCode((await finish(peer)).code), '2.04');
      const result = await running;
      assert.equal(result.ok, true, result.error);
      assert.equal(result.method, 'bs');
      assert.equal(result.steps[0], 'bspack 4.04 Not Found: falling back to /bs');
      await lwm2m.waitFor('c12-fallback', 1000);
    });
  });
});
