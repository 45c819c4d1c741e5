import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContentTree } from '../../shared/content/tree.ts';
import { parsePath } from '../../shared/lwm2m/path.ts';
import { booleanValue, integerValue, objlnkValue, opaqueValue, stringValue } from '../../shared/lwm2m/value.ts';
import { ClientObjectStore } from '../../simulator/client-state.ts';
import { securityInstance, serverInstance } from './scripted-server.ts';

// The bootstrap server's account with an OSCORE context (/21/0), and a Server Account with its own (/21/1).
const initial = (): ContentTree => [
  {
    id: 0,
    instances: [
      {
        id: 0,
        resources: [
          { kind: 'single', id: 0, value: stringValue('coap://bs') },
          { kind: 'single', id: 1, value: booleanValue(true) },
          { kind: 'single', id: 17, value: objlnkValue(21, 0) },
        ],
      },
      {
        id: 1,
        resources: [
          { kind: 'single', id: 0, value: stringValue('coap://dm') },
          { kind: 'single', id: 1, value: booleanValue(false) },
          { kind: 'single', id: 10, value: integerValue(7) },
          { kind: 'single', id: 17, value: objlnkValue(21, 1) },
        ],
      },
    ],
  },
  { id: 3, instances: [{ id: 0, resources: [{ kind: 'single', id: 0, value: stringValue('maker') }] }] },
  {
    id: 21,
    instances: [
      { id: 0, resources: [{ kind: 'single', id: 0, value: opaqueValue(Uint8Array.of(1)) }] },
      { id: 1, resources: [{ kind: 'single', id: 0, value: opaqueValue(Uint8Array.of(2)) }] },
    ],
  },
];

const ids = (store: ClientObjectStore) => store.tree().map((object) => [object.id, object.instances.map((instance) => instance.id)]);

describe('ClientObjectStore', () => {
  it('Bootstrap-Delete / keeps the BS account, its OSCORE instance and the Device object', () => {
    const store = new ClientObjectStore(initial(), [0, 1, 2, 3, 21]);
    assert.equal(store.delete(parsePath('/')), 'deleted');
    assert.deepEqual(ids(store), [
      [0, [0]],
      [3, [0]],
      [21, [0]],
    ]);
    assert.equal(store.delete(parsePath('/21/0')), 'protected');
    assert.equal(store.delete(parsePath('/3/0')), 'protected');
    assert.equal(store.delete(parsePath('/21/1')), 'not-found');
  });

  it('reports OSCORE instances with the ssid of the Security instance linking to them', () => {
    const store = new ClientObjectStore(initial(), [0, 1, 2, 3, 21]);
    const oscore = store.discover('1.2').objects.find((object) => object.objectId === 21);
    assert.deepEqual(oscore?.instances, [{ instanceId: 0 }, { instanceId: 1, ssid: 7 }]);
  });

  it('Bootstrap-Write merges into an existing instance: resources written replace theirs, others stay', () => {
    const store = new ClientObjectStore(initial(), [0, 1, 2, 3, 21]);
    store.write(parsePath('/0/1/0'), [{ id: 0, instances: [{ id: 1, resources: [{ kind: 'single', id: 0, value: stringValue('coap://new') }] }] }]);
    assert.deepEqual(store.securitySummary()[1], { instanceId: 1, bootstrapServer: false, uri: 'coap://new', shortServerId: 7 });
  });

  it('a Bootstrap-Pack replaces the accounts but keeps the BS account it does not carry', () => {
    const store = new ClientObjectStore(initial(), [0, 1, 2, 3, 21]);
    store.applyBootstrapPack([...securityInstance(5, 'coap://dm2', 9), ...serverInstance(2, 9)]);
    assert.deepEqual(ids(store), [
      [0, [0, 5]],
      [1, [2]],
      [3, [0]],
      [21, [0]],
    ]);
    assert.equal(store.finishDiagnostic(), undefined);
    assert.deepEqual(store.serverAccounts().map((account) => [account.shortServerId, account.uri, account.lifetime]), [[9, 'coap://dm2', 300]]);
  });

  it('Finish is refused with a Security instance without its Server (two Bootstrap-Server accounts are allowed while one replaces the other, seed 000)', () => {
    const store = new ClientObjectStore(initial(), [0, 1, 2, 3, 21]);
    assert.match(store.finishDiagnostic() ?? '', /no Server instance matches.*\(7\)/);
  });
});
