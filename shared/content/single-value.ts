import { CodecError } from '../errors.ts';
import { formatPath, pathLevel, type LwM2MPath } from '../lwm2m/path.ts';
import type { ResourceType, ResourceValue } from '../lwm2m/value.ts';
import { selectTreeAtPath, type ContentTree } from './tree.ts';

/**
 * What the single-value formats (text/plain, opaque, plain CBOR) share: they carry one value,
 * so they exist only at /o/i/r and /o/i/r/ri, and a multiple resource has no form in them at
 * /o/i/r. The type check is shared more widely: every encoder refuses a value that the client
 * would read back as another type.
 */

export function requireSingleValuePath(path: LwM2MPath, format: string): void {
  const level = pathLevel(path);
  if (level !== 'resource' && level !== 'resourceInstance') {
    throw new CodecError('UNSUPPORTED', `${format} carries one resource value; the request path is at ${level} level`, {
      field: formatPath(path),
    });
  }
}

/** The one value a single-value format writes for `path`. */
export function singleValueAt(tree: ContentTree, path: LwM2MPath, format: string): ResourceValue {
  requireSingleValuePath(path, format);
  const content = selectTreeAtPath(tree, path);
  if (content.level === 'resourceInstance') return content.entry.value;
  if (content.level === 'resource' && content.resource.kind === 'single') return content.resource.value;
  throw new CodecError('UNSUPPORTED', `${format} cannot carry a multiple resource; address one of its instances`, {
    field: formatPath(path),
  });
}

/** String and corelnk are both text on every wire, so either may stand for the other. */
export function checkDeclaredType(value: ResourceValue, declared: ResourceType | undefined, field: string): void {
  if (declared === 'none') throw new CodecError('TYPE_MISMATCH', 'resource is executable and holds no value', { field });
  const textual = (type: ResourceType): boolean => type === 'string' || type === 'corelnk';
  if (declared !== undefined && declared !== value.type && !(textual(declared) && textual(value.type))) {
    throw new CodecError('TYPE_MISMATCH', `a ${value.type} value cannot be written to a ${declared} resource`, { field });
  }
}
