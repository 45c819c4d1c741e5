import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { treeFromJsonView, treeToJsonView } from '../../shared/content/json-view.ts';
import { isCodecError } from '../../shared/errors.ts';
import { SECURITY_OBJECT } from '../../shared/lwm2m/objects/security.ts';
import { SERVER_OBJECT } from '../../shared/lwm2m/objects/server.ts';
import { PINNED_SECURITY, PINNED_SECURITY_PATH } from '../fixtures/pinned-instances.ts';
import { objectTreeArbitrary } from '../fixtures/arbitraries.ts';

// The JSON view is what operators read and type (lwm2m-bs decode/encode, later the admin API).
describe('JSON view of LwM2M content', () => {
  it('prints model-typed values bare and opaque as hex', () => {
    assert.deepEqual(treeToJsonView(PINNED_SECURITY), {
      '/0/1/0': 'coaps://dm.example.com:5684',
      '/0/1/1': false,
      '/0/1/2': 0,
      '/0/1/3': Buffer.from('urn:imei:490154203237518').toString('hex'),
      '/0/1/5': '000102030405060708090a0b0c0d0e0f',
      '/0/1/10': 101,
      '/0/1/11': 0,
      '/0/1/12': 0,
    });
  });

  it('reads relative keys under the base path back into the same tree', () => {
    const view = Object.fromEntries(Object.entries(treeToJsonView(PINNED_SECURITY)).map(([key, value]) => [key.replace('/0/1/', ''), value]));
    assert.deepStrictEqual(treeFromJsonView(view, PINNED_SECURITY_PATH), PINNED_SECURITY);
  });

  it('tags what neither the model nor JSON can tell, and reads the tags back', () => {
    const tree = [
      {
        id: 99,
        instances: [
          {
            id: 0,
            resources: [
              { kind: 'single' as const, id: 1, value: { type: 'float' as const, value: 2 } },
              { kind: 'single' as const, id: 2, value: { type: 'unsigned' as const, value: 2n ** 64n - 1n } },
              { kind: 'single' as const, id: 3, value: { type: 'objlnk' as const, value: { objectId: 3, instanceId: 0 } } },
            ],
          },
        ],
      },
    ];
    const view = treeToJsonView(tree);
    assert.deepEqual(view, { '/99/0/1': { float: 2 }, '/99/0/2': { unsigned: '18446744073709551615' }, '/99/0/3': { objlnk: '3:0' } });
    assert.deepStrictEqual(treeFromJsonView(view, {}), tree);
  });

  it('round-trips random Security and Server objects', () => {
    for (const object of [SECURITY_OBJECT, SERVER_OBJECT]) {
      fc.assert(
        fc.property(objectTreeArbitrary(object), (tree) => {
          assert.deepStrictEqual(treeFromJsonView(JSON.parse(JSON.stringify(treeToJsonView(tree))), {}), tree);
        }),
        { numRuns: 200 },
      );
    }
  });

  it('names the key of every bad input', () => {
    const cases: [unknown, string, string][] = [
      [{ '/1/0/1': 'soon' }, 'TYPE_MISMATCH', '/1/0/1'],
      [{ '/1/0/1': 2 ** 60 }, 'OUT_OF_RANGE', '/1/0/1'],
      [{ '/1/0': 3 }, 'INVALID_PATH', '/1/0'],
      [{ '/1/0/4': 1 }, 'TYPE_MISMATCH', '/1/0/4'],
      [{ '/99/0/1': { opaque: 'abc' } }, 'MALFORMED', '/99/0/1.opaque'],
      [{ '/99/0/1': { opaque: '00', string: 'x' } }, 'MALFORMED', '/99/0/1'],
      [[1, 2], 'MALFORMED', '(document)'],
    ];
    for (const [input, code, field] of cases) {
      assert.throws(
        () => treeFromJsonView(input, {}),
        (error) => isCodecError(error) && error.code === code && error.field === field,
        `${JSON.stringify(input)} should fail with ${code} in ${field}`,
      );
    }
  });
});
