import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startLocalServer, type LocalServer } from '../../server/local-server.ts';
import { CoapCode } from '../../shared/coap/index.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { encodeContent } from '../../shared/content/registry.ts';
import type { ContentTree, InstanceNode } from '../../shared/content/tree.ts';
import { ROOT_PATH } from '../../shared/lwm2m/path.ts';
import { booleanValue, integerValue, objlnkValue, opaqueValue, stringValue } from '../../shared/lwm2m/value.ts';
import { AccountTimeout } from '../../simulator/account-timeout.ts';
import { ClientObjectStore, OSCORE, SECURITY } from '../../simulator/client-state.ts';
import { SimulatedClient, type SimulatedClientOptions } from '../../simulator/client.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import { device, eventually, nosecProfile } from '../e2e/fixtures.ts';
import { ScriptedServer, securityInstance, serverInstance } from './scripted-server.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function bootstrapAccountAt(id: number, uri: string, accountTimeout: number): InstanceNode {
  return {
    id,
    resources: [
      { kind: 'single', id: 0, value: stringValue(uri) },
      { kind: 'single', id: 1, value: booleanValue(true) },
      { kind: 'single', id: 2, value: integerValue(3) },
      { kind: 'single', id: 12, value: integerValue(accountTimeout) },
    ],
  };
}

function bootstrapInstances(tree: ContentTree): number[] {
  const security = tree.find((object) => object.id === SECURITY)?.instances ?? [];
  return security
    .filter((instance) => instance.resources.some((resource) => resource.id === 1 && resource.kind === 'single' && resource.value.type === 'boolean' && resource.value.value))
    .map((instance) => instance.id);
}

// Real UDP on loopback: the local server rewrites the client's Bootstrap-Server account with the
// profile's /0/0/12, and the simulated client purges it when that timeout runs out.
describe('Bootstrap-Server Account Timeout (/0/x/12) end to end', () => {
  let lwm2m: TestLwm2mServer;
  let server: LocalServer;
  let port: number;
  const clients: SimulatedClient[] = [];

  before(async () => {
    lwm2m = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
    server = await startLocalServer({ port: 0, host4: '127.0.0.1', host6: false, requestTimeoutMs: 2000 });
    port = server.gateway.coap.address('IPv4')!.port;
    // The server writes an Account Timeout on a device's only account only when the profile lets
    // the device end without one (allowNoBootstrapAccount), which is what these clients show.
    const account = (accountTimeout: number) => ({ bootstrapServer: { uri: `coap://127.0.0.1:${port}`, accountTimeout, instanceId: 0 }, allowNoBootstrapAccount: true });
    // 60 s and 100 s, run at scale 0.01: 0.6 s and 1 s.
    await server.store.putProfile(nosecProfile('timeout-60', lwm2m.port, account(60)));
    await server.store.putProfile(nosecProfile('timeout-100', lwm2m.port, account(100)));
    await server.store.putProfile(nosecProfile('timeout-0', lwm2m.port, account(0)));
    await server.store.putDevice(device('purged', 'timeout-60'));
    await server.store.putDevice(device('kept', 'timeout-0'));
    await server.store.putDevice(device('rewritten', 'timeout-100'));
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server.close();
    await lwm2m.close();
  });

  const client = (endpoint: string, extra: Partial<SimulatedClientOptions> = {}): SimulatedClient => {
    const created = new SimulatedClient({ endpoint, version: '1.1', bootstrapServer: { host: '127.0.0.1', port }, useBootstrapPack: false, accountTimeoutScale: 0.01, ...extra });
    clients.push(created);
    return created;
  };

  it('purges the account after its timeout, and then cannot bootstrap any more', async () => {
    const purged = client('purged');
    const result = await purged.run();
    assert.equal(result.ok, true, result.error);
    assert.ok(result.registeredAt, 'registered');
    assert.deepEqual(bootstrapInstances(purged.state()), [0], 'kept until the timeout');
    await eventually(async () => (bootstrapInstances(purged.state()).length === 0 ? true : undefined), 3000);
    assert.ok(result.steps.includes('bootstrap-account-purged /0/0'), result.steps.join(', '));
    assert.ok(purged.state().find((object) => object.id === SECURITY)?.instances.some((instance) => instance.id === 1), 'the Server Account stays');

    const again = await purged.run();
    assert.equal(again.ok, false);
    assert.match(again.error ?? '', /no Bootstrap-Server account/);
    assert.ok(!again.steps.includes('bootstrap-request'), 'nothing was sent');
  });

  it('purges after a Bootstrap-Pack too', async () => {
    // The local server leaves the account out of a pack (shared/bootstrap/bspack.ts), so a scripted
    // Bootstrap-Server serves one that carries it with /0/0/12.
    const scripted = await ScriptedServer.start();
    try {
      const purged = client('purged-pack', { version: '1.2', useBootstrapPack: true, bootstrapServer: { host: '127.0.0.1', port: scripted.port } });
      const pack: ContentTree = [
        { id: SECURITY, instances: [
          bootstrapAccountAt(0, `coap://127.0.0.1:${scripted.port}`, 60),
          ...securityInstance(1, `coap://127.0.0.1:${lwm2m.port}`, 101)[0]!.instances,
        ] },
        ...serverInstance(0, 101),
      ];
      const running = purged.run();
      const request = await scripted.nextRequest();
      scripted.reply(request, CoapCode.CONTENT, { contentFormat: ContentFormat.SENML_CBOR }, encodeContent(ContentFormat.SENML_CBOR, pack, ROOT_PATH));
      const result = await running;
      assert.equal(result.ok, true, result.error);
      assert.equal(result.method, 'bspack');
      assert.ok(result.registeredAt, 'registered');
      await eventually(async () => (bootstrapInstances(purged.state()).length === 0 ? true : undefined), 3000);
      assert.ok(result.steps.includes('bootstrap-account-purged /0/0'));
    } finally {
      await scripted.close();
    }
  });

  it('keeps an account whose timeout is 0', async () => {
    const kept = client('kept');
    const result = await kept.run();
    assert.equal(result.ok, true, result.error);
    await sleep(800);
    assert.deepEqual(bootstrapInstances(kept.state()), [0]);
    assert.ok(!result.steps.some((step) => step.startsWith('bootstrap-account-purged')));
  });

  it('cancels the purge when a re-bootstrap writes 0', async () => {
    const rewritten = client('rewritten');
    const first = await rewritten.run();
    assert.equal(first.ok, true, first.error);
    await server.store.putDevice(device('rewritten', 'timeout-0'));
    const second = await rewritten.run();
    assert.equal(second.ok, true, second.error);
    await sleep(1300);
    assert.deepEqual(bootstrapInstances(rewritten.state()), [0], 'still held after the first timeout would have run out');
    assert.ok(![...first.steps, ...second.steps].some((step) => step.startsWith('bootstrap-account-purged')));
  });
});

describe('AccountTimeout on a client store', () => {
  const bootstrapAccount = (id: number, extra: InstanceNode['resources'] = []): InstanceNode => ({
    id,
    resources: [
      { kind: 'single', id: 0, value: stringValue('coaps://bs.example:5684') },
      { kind: 'single', id: 1, value: booleanValue(true) },
      { kind: 'single', id: 2, value: integerValue(0) },
      { kind: 'single', id: 3, value: opaqueValue(new TextEncoder().encode('factory')) },
      { kind: 'single', id: 5, value: opaqueValue(new Uint8Array([1, 2, 3])) },
      ...extra,
    ],
  });
  const storeWith = (account: InstanceNode, oscore: boolean): ClientObjectStore =>
    new ClientObjectStore(
      [
        { id: SECURITY, instances: [account] },
        ...(oscore ? [{ id: OSCORE, instances: [{ id: 4, resources: [{ kind: 'single' as const, id: 0, value: opaqueValue(new Uint8Array([9])) }] }] }] : []),
      ],
      [SECURITY, OSCORE],
    );

  it('purges the linked OSCORE instance with the account', async () => {
    const store = storeWith(bootstrapAccount(2, [{ kind: 'single', id: 12, value: integerValue(1) }, { kind: 'single', id: 17, value: objlnkValue(OSCORE, 4) }]), true);
    const timeout = new AccountTimeout(store, { scale: 0.05 });
    const steps: string[] = [];
    timeout.afterBootstrap(steps);
    assert.deepEqual(timeout.pending(), [2]);
    await eventually(async () => (steps.length === 2 ? true : undefined), 2000);
    assert.deepEqual(steps, ['bootstrap-account-purged /0/2', 'bootstrap-account-purged /21/4']);
    assert.equal(store.instance(SECURITY, 2), undefined);
    assert.equal(store.instance(OSCORE, 4), undefined);
    assert.equal(store.bootstrapServerInstanceId(), undefined);
    assert.deepEqual(timeout.pending(), []);
  });

  it('keeps an account without /0/x/12 unless its key is low-entropy and it was not replaced', () => {
    const high = storeWith(bootstrapAccount(0), false);
    new AccountTimeout(high).afterBootstrap([]);
    assert.equal(high.bootstrapServerInstanceId(), 0);

    const low = storeWith(bootstrapAccount(0), false);
    const steps: string[] = [];
    new AccountTimeout(low, { bootstrapKeyEntropy: 'low' }).afterBootstrap(steps);
    assert.equal(low.bootstrapServerInstanceId(), undefined, 'purged at once (§5.2.2.3 2b)');
    assert.deepEqual(steps, ['bootstrap-account-purged /0/0']);

    const replaced = storeWith(bootstrapAccount(0), false);
    const timeout = new AccountTimeout(replaced, { bootstrapKeyEntropy: 'low' });
    replaced.write({ objectId: SECURITY, instanceId: 0 }, [{ id: SECURITY, instances: [{ id: 0, resources: [{ kind: 'single', id: 5, value: opaqueValue(new Uint8Array(32).fill(7)) }] }] }]);
    timeout.afterBootstrap([]);
    assert.equal(replaced.bootstrapServerInstanceId(), 0, 'a new key replaced the low-entropy one: kept');

    const zero = storeWith(bootstrapAccount(0, [{ kind: 'single', id: 12, value: integerValue(0) }]), false);
    const zeroTimeout = new AccountTimeout(zero, { bootstrapKeyEntropy: 'low' });
    zeroTimeout.afterBootstrap([]);
    assert.equal(zero.bootstrapServerInstanceId(), 0, '0 means for ever');
    assert.deepEqual(zeroTimeout.pending(), []);
  });

  it('keeps the deadline when a re-bootstrap leaves the timeout as it was, and stop() cancels it', () => {
    const store = storeWith(bootstrapAccount(0, [{ kind: 'single', id: 12, value: integerValue(3600) }]), false);
    const timeout = new AccountTimeout(store);
    timeout.afterBootstrap([]);
    timeout.afterBootstrap([]);
    assert.deepEqual(timeout.pending(), [0]);
    timeout.stop();
    assert.deepEqual(timeout.pending(), []);
    assert.throws(() => new AccountTimeout(store, { scale: 0 }), RangeError);
  });
});
