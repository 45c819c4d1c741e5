import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CoapCode, queryParameters, uriPathString } from '../../shared/coap/index.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { encodeContent } from '../../shared/content/registry.ts';
import { parsePath } from '../../shared/lwm2m/path.ts';
import { runFleet } from '../../simulator/fleet.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import { POST, PUT, ScriptedServer, securityInstance, serverInstance, type ReceivedRequest } from './scripted-server.ts';

// An automatic scripted bootstrap server for many clients at once: no pack, then a Server
// Account written in the client's pct (TLV when it sent none), then Finish.
describe('runFleet', () => {
  let lwm2m: TestLwm2mServer;
  let bs: ScriptedServer;
  let serving = true;

  const bootstrap = async (request: ReceivedRequest): Promise<void> => {
    const path = uriPathString(request.message.options);
    if (path === '/bspack') {
      bs.reply(request, CoapCode.NOT_FOUND);
      return;
    }
    bs.reply(request, CoapCode.CHANGED);
    const pct = queryParameters(request.message.options).get('pct');
    const format = pct === undefined ? ContentFormat.TLV : Number(pct);
    const writes = [
      ['/0/1', securityInstance(1, `coap://127.0.0.1:${lwm2m.port}`, 101)],
      ['/1/0', serverInstance(0, 101, 60)],
    ] as const;
    for (const [target, tree] of writes) {
      await bs.request(request.peer, PUT, { uriPath: target.split('/').slice(1), contentFormat: format }, encodeContent(format, tree, parsePath(target)));
    }
    await bs.request(request.peer, POST, { uriPath: ['bs'] });
  };

  before(async () => {
    lwm2m = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
    bs = await ScriptedServer.start();
    void (async () => {
      while (serving) {
        const request = await bs.nextRequest(60_000).catch(() => undefined);
        if (request !== undefined && serving) void bootstrap(request).catch(() => undefined);
      }
    })();
  });

  after(async () => {
    serving = false;
    await bs.close();
    await lwm2m.close();
  });

  it('bootstraps and registers N clients of mixed versions, in endpoint order', async () => {
    const progress: number[] = [];
    const run = await runFleet({
      count: 9,
      concurrency: 4,
      versions: ['1.0', '1.1', '1.2'],
      endpointPrefix: 'fleet',
      bootstrapServer: { host: '127.0.0.1', port: bs.port },
      timeouts: { ackTimeoutMs: 300, bootstrapIdleMs: 2000 },
      onProgress: (done, total) => {
        assert.equal(total, 9);
        progress.push(done);
      },
    });
    assert.deepEqual(progress, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(run.results.map((result) => result.endpoint), Array.from({ length: 9 }, (_, index) => `fleet-${index}`));
    assert.deepEqual(run.results.map((result) => result.version), ['1.0', '1.1', '1.2', '1.0', '1.1', '1.2', '1.0', '1.1', '1.2']);
    for (const result of run.results) {
      assert.equal(result.ok, true, `${result.endpoint}: ${result.error}`);
      assert.equal(result.method, 'bs');
      const expected = { '1.0': ContentFormat.TLV, '1.1': ContentFormat.SENML_JSON, '1.2': ContentFormat.SENML_CBOR }[result.version];
      assert.deepEqual([...new Set(result.formatsReceived)], [expected]);
      assert.ok(result.registeredAt);
    }
    assert.equal(lwm2m.registrations().filter((registration) => registration.endpoint.startsWith('fleet-')).length, 9);
    assert.ok(run.elapsedMs > 0);
  });

  it('runs nothing for count 0', async () => {
    const run = await runFleet({ count: 0, concurrency: 5, versions: ['1.1'], endpointPrefix: 'none', bootstrapServer: { host: '127.0.0.1', port: bs.port } });
    assert.deepEqual(run.results, []);
  });
});
