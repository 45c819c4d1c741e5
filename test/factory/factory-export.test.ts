import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BootstrapPlan } from '../../shared/bootstrap/plan.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { decodeContent } from '../../shared/content/registry.ts';
import { flattenTree, type PathValue } from '../../shared/content/tree.ts';
import { formatPath, ROOT_PATH } from '../../shared/lwm2m/path.ts';
import { factoryExport, type FactoryExport } from '../../shared/factory/factory-export.ts';
import { factoryInstances } from '../../shared/factory/factory-instances.ts';

const PLAN: BootstrapPlan = {
  v: 1,
  discover: true,
  deletes: ['/0', '/1'],
  writes: [
    // Planned at /0/0, where the profile also puts the Bootstrap-Server account: it must move.
    { path: '/0/0', values: { '/0/0/0': 'coaps://dm.example.com', '/0/0/1': false, '/0/0/2': 0, '/0/0/3': { opaque: '6964' }, '/0/0/5': { opaque: '00112233445566778899aabbccddeeff' }, '/0/0/10': 101 } },
    { path: '/1/0', values: { '0': 101, '1': 86400, '7': 'U' } },
    { path: '/2/0', values: { '/2/0/0': 1, '/2/0/1': 0, '/2/0/2/101': 15, '/2/0/3': 101 } },
  ],
  bootstrapServerWrite: { path: '/0/0', values: { '0': 'coaps://bs.example.com', '1': true, '2': 0, '3': { opaque: '6273' }, '5': { opaque: 'ffeeddccbbaa99887766554433221100' }, '11': 30 } },
  reads: [],
};

function request(includeKeys: boolean, plan: BootstrapPlan = PLAN) {
  return { endpoint: 'meter-0001', profile: 'meters', plan, includeKeys, generatedAt: '2026-11-23T00:00:00.000Z' };
}

function file(exported: FactoryExport, name: string): Uint8Array {
  const found = exported.files.find((candidate) => candidate.name === name);
  assert.ok(found, `${name} is exported`);
  return found.bytes;
}

const asMap = (values: readonly PathValue[]): Map<string, unknown> => new Map(values.map(({ path, value }) => [formatPath(path), value]));

describe('factory bootstrap information', () => {
  it('holds the Bootstrap-Server account at its own instance and moves a server account off it', () => {
    const writes = factoryInstances(PLAN);
    const account = writes.find((write) => write.values['1'] === true || write.values['/0/0/1'] === true);
    assert.equal(account?.path, '/0/0');
    const server = writes.find((write) => Object.values(write.values).includes('coaps://dm.example.com'));
    assert.equal(server?.path, '/0/1', 'the LwM2M server account moved to the lowest free id');
    assert.deepEqual(Object.keys(server!.values).filter((key) => key.startsWith('/')).sort(), ['/0/1/0', '/0/1/1', '/0/1/10', '/0/1/2', '/0/1/3', '/0/1/5']);
  });

  it('writes the same instances as SenML-CBOR, TLV per object and JSON, keys included when asked', () => {
    const exported = factoryExport(request(true));
    assert.deepEqual(exported.files.map((candidate) => candidate.name), [
      'bootstrap.senml.cbor',
      'object-0-security.tlv',
      'object-1-server.tlv',
      'object-2-access-control.tlv',
      'bootstrap.json',
    ]);
    const senml = asMap(flattenTree(decodeContent(ContentFormat.SENML_CBOR, file(exported, 'bootstrap.senml.cbor'), ROOT_PATH)));
    const tlv = asMap([0, 1, 2].flatMap((objectId) => {
      const name = exported.files.find((candidate) => candidate.name.startsWith(`object-${objectId}-`))!.name;
      return flattenTree(decodeContent(ContentFormat.TLV, file(exported, name), { objectId }));
    }));
    // TLV carries no types: compare the TLV decode against the SenML one path by path, as bytes where opaque.
    assert.deepEqual([...tlv.keys()].sort(), [...senml.keys()].sort());
    assert.deepEqual(senml.get('/0/0/0'), { type: 'string', value: 'coaps://bs.example.com' });
    assert.deepEqual(senml.get('/0/0/1'), { type: 'boolean', value: true });
    assert.deepEqual(senml.get('/0/1/0'), { type: 'string', value: 'coaps://dm.example.com' });
    assert.deepEqual(senml.get('/0/1/5'), { type: 'opaque', value: Uint8Array.from(Buffer.from('00112233445566778899aabbccddeeff', 'hex')) });
    assert.deepEqual(senml.get('/2/0/2/101'), { type: 'integer', value: 15n });
    const json = JSON.parse(new TextDecoder().decode(file(exported, 'bootstrap.json'))) as { keysIncluded: boolean; instances: Record<string, Record<string, unknown>> };
    assert.equal(json.keysIncluded, true);
    assert.deepEqual(Object.keys(json.instances), ['/0/1', '/0/0', '/1/0', '/2/0']);
    assert.deepEqual(exported.omittedSecrets, []);
  });

  it('leaves every secret resource out unless keys are asked for, and names what it left out', () => {
    const exported = factoryExport(request(false));
    assert.deepEqual([...exported.omittedSecrets].sort(), ['/0/0/5', '/0/1/5']);
    const senml = asMap(flattenTree(decodeContent(ContentFormat.SENML_CBOR, file(exported, 'bootstrap.senml.cbor'), ROOT_PATH)));
    assert.equal(senml.has('/0/0/5'), false);
    assert.equal(senml.has('/0/1/5'), false);
    assert.equal(senml.has('/0/1/3'), true, 'the identity is not a secret');
    for (const exportedFile of exported.files) {
      const text = Buffer.from(exportedFile.bytes).toString('hex') + new TextDecoder().decode(exportedFile.bytes);
      assert.doesNotMatch(text, /00112233445566778899aabbccddeeff|ffeeddccbbaa99887766554433221100/i, `${exportedFile.name} holds no key`);
    }
  });

  it('warns when the device would leave the factory without a Bootstrap-Server account', () => {
    const withoutAccount: BootstrapPlan = { ...PLAN };
    delete withoutAccount.bootstrapServerWrite;
    const exported = factoryExport(request(true, withoutAccount));
    assert.equal(exported.warnings.length, 1);
    assert.match(exported.warnings[0]!, /never be bootstrapped again/);
    assert.equal(factoryInstances(withoutAccount)[0]?.path, '/0/0', 'nothing moves when there is no account');
  });
});
