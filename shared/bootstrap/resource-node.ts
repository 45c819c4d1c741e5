import type { ResourceNode } from '../content/tree.ts';
import type { ResourceValue } from '../lwm2m/value.ts';

/** A single-valued resource, or nothing when the configuration leaves it unset. */
export function single(id: number, value: ResourceValue): ResourceNode {
  return { kind: 'single', id, value };
}

export function optionalSingle<T>(id: number, setting: T | undefined, toValue: (setting: T) => ResourceValue): ResourceNode[] {
  return setting === undefined ? [] : [single(id, toValue(setting))];
}
