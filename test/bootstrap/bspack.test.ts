import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ContentFormat } from '../../shared/content/format.ts';
import { treeFromJsonView } from '../../shared/content/json-view.ts';
import { decodeContent, encodeContent, TREE_FORMATS } from '../../shared/content/registry.ts';
import { isCodecError } from '../../shared/errors.ts';
import { ROOT_PATH } from '../../shared/lwm2m/path.ts';
import { BOOTSTRAP_PACK_FORMATS, BootstrapPackFormatError, encodeBootstrapPack } from '../../shared/bootstrap/bspack.ts';
import type { BootstrapPlan } from '../../shared/bootstrap/plan.ts';

const PLAN: BootstrapPlan = {
  v: 1,
  discover: true,
  deletes: ['/0', '/1'],
  writes: [
    { path: '/0/1', values: { '/0/1/0': 'coaps://dm.example.com', '/0/1/1': false, '/0/1/2': 0, '/0/1/3': { opaque: '6964' }, '/0/1/5': { opaque: '00112233' }, '/0/1/10': 101 } },
    { path: '/1/0', values: { '0': 101, '1': 86400, '7': 'U' } },
    { path: '/2/0', values: { '/2/0/0': 1, '/2/0/1': 0, '/2/0/2/101': 15, '/2/0/3': 101 } },
  ],
  bootstrapServerWrite: { path: '/0/0', values: { '0': 'coaps://bs.example.com', '1': true, '2': 0, '11': 30 } },
  reads: ['/1'],
};

/** The same configuration written out by hand as one view at `/`. */
const EXPECTED = treeFromJsonView(
  {
    '/0/1/0': 'coaps://dm.example.com',
    '/0/1/1': false,
    '/0/1/2': 0,
    '/0/1/3': { opaque: '6964' },
    '/0/1/5': { opaque: '00112233' },
    '/0/1/10': 101,
    '/1/0/0': 101,
    '/1/0/1': 86400,
    '/1/0/7': 'U',
    '/2/0/0': 1,
    '/2/0/1': 0,
    '/2/0/2/101': 15,
    '/2/0/3': 101,
  },
  ROOT_PATH,
);

describe('Bootstrap-Pack', () => {
  it('defaults to SenML-CBOR and carries every write but not the Bootstrap-Server account rewrite, whose instance it cannot know', () => {
    const pack = encodeBootstrapPack(PLAN);
    assert.equal(pack.contentFormat, ContentFormat.SENML_CBOR);
    assert.deepStrictEqual(decodeContent(pack.contentFormat, pack.payload, ROOT_PATH), EXPECTED);
  });

  for (const format of [ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON, ContentFormat.LWM2M_CBOR]) {
    it(`encodes in ${format} and decodes back to the same tree`, () => {
      const pack = encodeBootstrapPack(PLAN, format);
      assert.equal(pack.contentFormat, format);
      assert.deepStrictEqual(decodeContent(format, pack.payload, ROOT_PATH), EXPECTED);
    });
  }

  it('a plan with or without a Bootstrap-Server account rewrite packs the same Security instances', () => {
    const { bootstrapServerWrite: _dropped, ...rest } = PLAN;
    assert.ok(_dropped !== undefined);
    for (const candidate of [PLAN, rest]) {
      const pack = encodeBootstrapPack(candidate);
      const tree = decodeContent(pack.contentFormat, pack.payload, ROOT_PATH);
      assert.deepStrictEqual(tree[0]!.instances.map((instance) => instance.id), [1]);
    }
  });

  for (const format of [ContentFormat.TLV, ContentFormat.TLV_LEGACY, ContentFormat.LINK_FORMAT, ContentFormat.TEXT, ContentFormat.CBOR, ContentFormat.LWM2M_JSON, 9999]) {
    it(`refuses Accept ${format} with BootstrapPackFormatError`, () => {
      assert.throws(
        () => encodeBootstrapPack(PLAN, format),
        (error: unknown) => error instanceof BootstrapPackFormatError && error.format === format && error.message.includes('Bootstrap-Pack'),
      );
    });
  }

  it('accepts every format whose codec carries several objects at /, but the LwM2M 1.0 JSON', () => {
    const carriesRoot = TREE_FORMATS.filter((format) => {
      try {
        return decodeContent(format, encodeContent(format, EXPECTED, ROOT_PATH), ROOT_PATH).length === EXPECTED.length;
      } catch {
        return false;
      }
    });
    const legacyJson: number[] = [ContentFormat.LWM2M_JSON, ContentFormat.LWM2M_JSON_LEGACY];
    assert.deepStrictEqual(
      carriesRoot.filter((format) => !legacyJson.includes(format)).sort(),
      [...BOOTSTRAP_PACK_FORMATS].sort(),
    );
  });

  it('two writes of the same resource are a plan error naming the path', () => {
    const clash: BootstrapPlan = { ...PLAN, writes: [...PLAN.writes, { path: '/1/0', values: { '/1/0/1': 300 } }] };
    assert.throws(
      () => encodeBootstrapPack(clash),
      (error: unknown) => isCodecError(error) && error.code === 'DUPLICATE' && error.field === '/1/0/1',
    );
  });
});
