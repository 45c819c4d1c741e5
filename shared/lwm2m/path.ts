import { CodecError } from '../errors.ts';

/**
 * An LwM2M path: `/`, `/o`, `/o/i`, `/o/i/r` or `/o/i/r/ri`. Object ids and instance ids are
 * 0..65535 on the wire; 65535 is reserved (MAX_ID), so instance and resource ids stop at 65534.
 */
export interface LwM2MPath {
  readonly objectId?: number;
  readonly instanceId?: number;
  readonly resourceId?: number;
  readonly resourceInstanceId?: number;
}

export type PathLevel = 'root' | 'object' | 'instance' | 'resource' | 'resourceInstance';

export const MAX_ID = 65535;

export const ROOT_PATH: LwM2MPath = {};

export function pathLevel(path: LwM2MPath): PathLevel {
  if (path.objectId === undefined) return 'root';
  if (path.instanceId === undefined) return 'object';
  if (path.resourceId === undefined) return 'instance';
  if (path.resourceInstanceId === undefined) return 'resource';
  return 'resourceInstance';
}

/** The ids of a path in order, as many as its level has. */
export function pathSegments(path: LwM2MPath): number[] {
  const segments = [path.objectId, path.instanceId, path.resourceId, path.resourceInstanceId];
  const end = segments.indexOf(undefined);
  return (end === -1 ? segments : segments.slice(0, end)) as number[];
}

export function pathFromSegments(segments: readonly number[]): LwM2MPath {
  if (segments.length > 4) {
    throw new CodecError('INVALID_PATH', `an LwM2M path has at most 4 segments, got ${segments.length}`);
  }
  segments.forEach((id, index) => checkId(id, index, segments.join('/')));
  const [objectId, instanceId, resourceId, resourceInstanceId] = segments;
  return {
    ...(objectId === undefined ? {} : { objectId }),
    ...(instanceId === undefined ? {} : { instanceId }),
    ...(resourceId === undefined ? {} : { resourceId }),
    ...(resourceInstanceId === undefined ? {} : { resourceInstanceId }),
  };
}

function checkId(id: number, index: number, text: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= MAX_ID) {
    throw new CodecError('INVALID_PATH', `path segment ${index + 1} must be an integer 0..${MAX_ID - 1}`, {
      field: `/${text}`,
    });
  }
}

/** Parses `/3/0/1`, `3/0/1`, `/3/0/` or `/`. Segments are decimal without sign or leading zeros. */
export function parsePath(text: string): LwM2MPath {
  const body = text.startsWith('/') ? text.slice(1) : text;
  if (body === '') return ROOT_PATH;
  const trimmed = body.endsWith('/') ? body.slice(0, -1) : body;
  const parts = trimmed.split('/');
  const segments = parts.map((part, index) => {
    if (!/^(0|[1-9][0-9]{0,4})$/.test(part)) {
      throw new CodecError('INVALID_PATH', `path segment ${index + 1} is not a decimal id: "${part.slice(0, 16)}"`, {
        field: text.slice(0, 64),
      });
    }
    return Number(part);
  });
  return pathFromSegments(segments);
}

export function formatPath(path: LwM2MPath): string {
  return `/${pathSegments(path).join('/')}`;
}

/** True when `inner` is `outer` or lies below it. */
export function pathStartsWith(inner: LwM2MPath, outer: LwM2MPath): boolean {
  const outerSegments = pathSegments(outer);
  const innerSegments = pathSegments(inner);
  return outerSegments.length <= innerSegments.length && outerSegments.every((id, index) => innerSegments[index] === id);
}
