import { CodecError } from '../errors.ts';
import type { ResourceTypeLookup } from '../lwm2m/model.ts';
import type { LwM2MPath } from '../lwm2m/path.ts';
import { builtInResourceTypes } from '../lwm2m/registry.ts';
import { cborCodec } from './cbor-single.ts';
import type { TreeCodec } from './codec.ts';
import { DecodeLimits } from './codec.ts';
import { ContentFormat, contentFormatName } from './format.ts';
import { lwm2mCborCodec } from './lwm2m-cbor.ts';
import { lwm2mJsonCodec } from './lwm2m-json.ts';
import { opaqueCodec } from './opaque.ts';
import { senmlCborCodec } from './senml-cbor.ts';
import { senmlJsonCodec } from './senml-json.ts';
import { textPlainCodec } from './text-plain.ts';
import { tlvCodec } from './tlv.ts';
import type { ContentTree } from './tree.ts';

const TREE_CODECS: ReadonlyMap<number, TreeCodec> = new Map<number, TreeCodec>([
  [ContentFormat.TEXT, textPlainCodec],
  [ContentFormat.OPAQUE, opaqueCodec],
  [ContentFormat.CBOR, cborCodec],
  [ContentFormat.SENML_JSON, senmlJsonCodec],
  [ContentFormat.SENML_CBOR, senmlCborCodec],
  [ContentFormat.TLV, tlvCodec],
  [ContentFormat.TLV_LEGACY, tlvCodec],
  [ContentFormat.LWM2M_JSON, lwm2mJsonCodec],
  [ContentFormat.LWM2M_JSON_LEGACY, lwm2mJsonCodec],
  [ContentFormat.LWM2M_CBOR, lwm2mCborCodec],
]);

/** The content formats that carry LwM2M resource values (link-format carries links instead). */
export const TREE_FORMATS: readonly number[] = [...TREE_CODECS.keys()];

export function treeCodecFor(format: number): TreeCodec {
  const codec = TREE_CODECS.get(format);
  if (codec === undefined) {
    throw new CodecError('UNKNOWN_FORMAT', `${contentFormatName(format)} does not carry resource values`, { field: 'format' });
  }
  return codec;
}

export function encodeContent(
  format: number,
  tree: ContentTree,
  path: LwM2MPath,
  types: ResourceTypeLookup = builtInResourceTypes,
): Uint8Array {
  return treeCodecFor(format).encode(tree, path, types);
}

/** Decodes a payload; the size bound applies to every format before any parsing starts. */
export function decodeContent(
  format: number,
  bytes: Uint8Array,
  path: LwM2MPath,
  types: ResourceTypeLookup = builtInResourceTypes,
): ContentTree {
  const codec = treeCodecFor(format);
  if (bytes.length > DecodeLimits.maxPayloadBytes) {
    throw new CodecError('LIMIT_EXCEEDED', `payload of ${bytes.length} bytes exceeds ${DecodeLimits.maxPayloadBytes}`);
  }
  return codec.decode(bytes, path, types);
}
