import { CodecError } from '../errors.ts';
import { formatPath } from '../lwm2m/path.ts';
import { builtInResourceTypes } from '../lwm2m/registry.ts';
import { cborTokenizer } from './cbor-decode.ts';
import { CborWriter } from './cbor-encode.ts';
import { cborLeafValue, readCborLeaf, writeCborValue } from './cbor-value.ts';
import { DecodeLimits, type TreeCodec } from './codec.ts';
import { requireSingleValuePath, singleValueAt } from './single-value.ts';
import { treeFromPathValues } from './tree.ts';

/**
 * Plain CBOR, content format 60 (application/cbor, RFC 8949), which LwM2M 1.1 allows for one
 * resource or resource instance value: the payload is exactly one CBOR item, written as
 * cbor-value.ts describes (the same items LwM2M CBOR has at its leaves), e.g. 18 65 for the
 * integer 101, F4 for false, 50 + 16 bytes for a 16-byte opaque key, C1 1A .. for a time.
 *
 * Only /o/i/r and /o/i/r/ri carry a value; other request paths are UNSUPPORTED, and so is a
 * multiple resource at /o/i/r: address one of its instances. The item's CBOR type must fit the
 * resource's declared type (TYPE_MISMATCH otherwise); unknown resources decode by CBOR type.
 * Bytes after the item are TRAILING_BYTES.
 */
export const cborCodec: TreeCodec = {
  encode(tree, path, types = builtInResourceTypes) {
    const value = singleValueAt(tree, path, 'CBOR');
    const out = new CborWriter();
    writeCborValue(out, value, types(path.objectId!, path.resourceId!), formatPath(path));
    return out.finish();
  },
  decode(bytes, path, types = builtInResourceTypes) {
    requireSingleValuePath(path, 'CBOR');
    const field = formatPath(path);
    if (bytes.length > DecodeLimits.maxPayloadBytes) {
      throw new CodecError('LIMIT_EXCEEDED', `payload of ${bytes.length} bytes exceeds ${DecodeLimits.maxPayloadBytes}`, { field });
    }
    const tokens = cborTokenizer(bytes);
    const item = tokens.read();
    const leaf = readCborLeaf(tokens, item, field);
    if (!tokens.done()) throw new CodecError('TRAILING_BYTES', 'bytes after the CBOR value', { offset: tokens.pos(), field });
    const value = cborLeafValue(leaf, types(path.objectId!, path.resourceId!), item.offset, field);
    return treeFromPathValues([{ path, value }], path);
  },
};
