import type { ResourceType } from './value.ts';

/** What the object definitions (LwM2M Core Appendix E, the OMA registry) say of one resource. */
export interface ResourceDefinition {
  readonly id: number;
  readonly name: string;
  readonly type: ResourceType;
  readonly multiple: boolean;
  readonly mandatory: boolean;
  /** R, W, RW, E, or '' for resources only the bootstrap interface touches. */
  readonly operations: 'R' | 'W' | 'RW' | 'E' | '';
}

export interface ObjectDefinition {
  readonly id: number;
  readonly name: string;
  readonly version: string;
  readonly multipleInstances: boolean;
  readonly resources: readonly ResourceDefinition[];
}

/** How a decoder learns a resource's type; undefined means "not known", decoded generically. */
export type ResourceTypeLookup = (objectId: number, resourceId: number) => ResourceType | undefined;

/** Compact table rows keep the object files readable: [id, name, type, multiple, mandatory, ops]. */
export type ResourceRow = readonly [number, string, ResourceType, boolean, boolean, ResourceDefinition['operations']];

export function defineObject(
  id: number,
  name: string,
  version: string,
  multipleInstances: boolean,
  rows: readonly ResourceRow[],
): ObjectDefinition {
  return {
    id,
    name,
    version,
    multipleInstances,
    resources: rows.map(([resourceId, resourceName, type, multiple, mandatory, operations]) => ({
      id: resourceId,
      name: resourceName,
      type,
      multiple,
      mandatory,
      operations,
    })),
  };
}
