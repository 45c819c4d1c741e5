import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ContentFormat, contentFormatName } from '../../shared/content/format.ts';
import { decodeContent, encodeContent } from '../../shared/content/registry.ts';
import { isCodecError } from '../../shared/errors.ts';
import type { LwM2MPath } from '../../shared/lwm2m/path.ts';
import { ACCESS_CONTROL_OBJECT } from '../../shared/lwm2m/objects/access-control.ts';
import { OSCORE_OBJECT } from '../../shared/lwm2m/objects/oscore.ts';
import { SECURITY_OBJECT } from '../../shared/lwm2m/objects/security.ts';
import { SERVER_OBJECT } from '../../shared/lwm2m/objects/server.ts';
import { objectTreeArbitrary } from '../fixtures/arbitraries.ts';

// decode(encode(x)) === x for random instances of objects 0, 1, 2 and 21, at the object level
// and at the instance level, in every format that carries whole instances.
const OBJECTS = [SECURITY_OBJECT, SERVER_OBJECT, ACCESS_CONTROL_OBJECT, OSCORE_OBJECT];
const INSTANCE_FORMATS = [
  ContentFormat.TLV,
  ContentFormat.SENML_JSON,
  ContentFormat.SENML_CBOR,
  ContentFormat.LWM2M_CBOR,
  ContentFormat.LWM2M_JSON,
];
const RUNS = 150;

for (const format of INSTANCE_FORMATS) {
  describe(`round trip in ${contentFormatName(format)} (${format})`, () => {
    for (const object of OBJECTS) {
      it(`object /${object.id}, every instance at /${object.id}/i`, () => {
        fc.assert(
          fc.property(objectTreeArbitrary(object), (tree) => {
            for (const instance of tree[0]!.instances) {
              const path: LwM2MPath = { objectId: object.id, instanceId: instance.id };
              const one = [{ id: object.id, instances: [instance] }];
              assert.deepStrictEqual(decodeContent(format, encodeContent(format, one, path), path), one);
            }
          }),
          { numRuns: RUNS },
        );
      });
      it(`object /${object.id} at /${object.id}`, () => {
        fc.assert(
          fc.property(objectTreeArbitrary(object), (tree) => {
            const path: LwM2MPath = { objectId: object.id };
            assert.deepStrictEqual(decodeContent(format, encodeContent(format, tree, path), path), tree);
          }),
          { numRuns: RUNS },
        );
      });
    }
  });
}

describe('single values in text/plain and opaque', () => {
  for (const object of OBJECTS) {
    it(`every single resource of /${object.id} round-trips in the format that fits it`, () => {
      fc.assert(
        fc.property(objectTreeArbitrary(object), (tree) => {
          const instance = tree[0]!.instances[0]!;
          for (const resource of instance.resources) {
            if (resource.kind !== 'single') continue;
            const format = resource.value.type === 'opaque' ? ContentFormat.OPAQUE : ContentFormat.TEXT;
            const path: LwM2MPath = { objectId: object.id, instanceId: instance.id, resourceId: resource.id };
            const one = [{ id: object.id, instances: [{ id: instance.id, resources: [resource] }] }];
            assert.deepStrictEqual(decodeContent(format, encodeContent(format, one, path), path), one);
          }
        }),
        { numRuns: RUNS },
      );
    });
  }
});

function expectTreeOrCodecError(format: number, bytes: Uint8Array, path: LwM2MPath): void {
  try {
    decodeContent(format, bytes, path);
  } catch (error) {
    assert.ok(isCodecError(error), `${contentFormatName(format)} threw ${String(error)}`);
  }
}

describe('decoding broken bytes', () => {
  const formats = [...INSTANCE_FORMATS, ContentFormat.TEXT, ContentFormat.OPAQUE, ContentFormat.TLV_LEGACY];
  const paths: LwM2MPath[] = [
    {},
    { objectId: 0 },
    { objectId: 0, instanceId: 1 },
    { objectId: 1, instanceId: 0, resourceId: 1 },
    { objectId: 0, instanceId: 0, resourceId: 16, resourceInstanceId: 0 },
  ];
  it('random bytes: a tree or a CodecError, in every format at every path level', () => {
    fc.assert(
      fc.property(fc.constantFrom(...formats), fc.constantFrom(...paths), fc.uint8Array({ maxLength: 96 }), (format, path, bytes) => {
        expectTreeOrCodecError(format, bytes, path);
      }),
      { numRuns: 3000 },
    );
  });
  it('valid payloads with bytes flipped, cut or inserted: a tree or a CodecError', () => {
    const mutation = fc.record({
      at: fc.nat(),
      kind: fc.constantFrom('flip', 'cut', 'insert'),
      byte: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(fc.constantFrom(...INSTANCE_FORMATS), objectTreeArbitrary(SECURITY_OBJECT), fc.array(mutation, { minLength: 1, maxLength: 4 }), (format, tree, mutations) => {
        const path: LwM2MPath = { objectId: 0 };
        const bytes = [...encodeContent(format, tree, path)];
        for (const { at, kind, byte } of mutations) {
          const index = at % Math.max(bytes.length, 1);
          if (kind === 'flip') bytes[index] = (bytes[index] ?? 0) ^ (byte || 1);
          else if (kind === 'cut') bytes.splice(index);
          else bytes.splice(index, 0, byte);
        }
        expectTreeOrCodecError(format, Uint8Array.from(bytes), path);
      }),
      { numRuns: 1500 },
    );
  });
});
