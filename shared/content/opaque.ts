import { CodecError } from '../errors.ts';
import { formatPath } from '../lwm2m/path.ts';
import { builtInResourceTypes } from '../lwm2m/registry.ts';
import { DecodeLimits, type TreeCodec } from './codec.ts';
import { requireSingleValuePath, singleValueAt } from './single-value.ts';
import { treeFromPathValues } from './tree.ts';

/**
 * application/octet-stream (content format 42): the bytes of one opaque resource or resource
 * instance as they are, LwM2M Core 6.4.2 / 7.4.2 ("used for binary Resources such as firmware
 * images"). Only /o/i/r and /o/i/r/ri qualify. A resource the model declares with another type
 * is a TYPE_MISMATCH both ways; a resource the model does not know is taken to be opaque.
 */
export const opaqueCodec: TreeCodec = {
  encode(tree, path, types = builtInResourceTypes) {
    const value = singleValueAt(tree, path, 'opaque');
    const field = formatPath(path);
    const declared = types(path.objectId!, path.resourceId!);
    if (value.type !== 'opaque' || (declared !== undefined && declared !== 'opaque')) {
      throw new CodecError('TYPE_MISMATCH', `the opaque format carries opaque values only, not ${declared ?? value.type}`, { field });
    }
    return new Uint8Array(value.value);
  },
  decode(bytes, path, types = builtInResourceTypes) {
    requireSingleValuePath(path, 'opaque');
    const field = formatPath(path);
    if (bytes.length > DecodeLimits.maxPayloadBytes) {
      throw new CodecError('LIMIT_EXCEEDED', `payload of ${bytes.length} bytes exceeds ${DecodeLimits.maxPayloadBytes}`, { field });
    }
    const declared = types(path.objectId!, path.resourceId!);
    if (declared !== undefined && declared !== 'opaque') {
      throw new CodecError('TYPE_MISMATCH', `the opaque format carries opaque values only, but the resource is ${declared}`, { field });
    }
    // A plain copy: Buffer.slice would return a view that shares the caller's memory.
    return treeFromPathValues([{ path, value: { type: 'opaque', value: new Uint8Array(bytes) } }], path);
  },
};
