import type { ObjectDefinition, ResourceDefinition, ResourceTypeLookup } from './model.ts';
import { ACCESS_CONTROL_OBJECT } from './objects/access-control.ts';
import { DEVICE_OBJECT } from './objects/device.ts';
import { OSCORE_OBJECT } from './objects/oscore.ts';
import { SECURITY_OBJECT } from './objects/security.ts';
import { SERVER_OBJECT } from './objects/server.ts';

/** The objects a bootstrap server writes or reads; any other object decodes generically. */
export const KNOWN_OBJECTS: readonly ObjectDefinition[] = [
  SECURITY_OBJECT,
  SERVER_OBJECT,
  ACCESS_CONTROL_OBJECT,
  DEVICE_OBJECT,
  OSCORE_OBJECT,
];

const byObject = new Map(KNOWN_OBJECTS.map((object) => [object.id, object]));
const byResource = new Map(
  KNOWN_OBJECTS.map((object) => [object.id, new Map(object.resources.map((resource) => [resource.id, resource]))]),
);

export function objectDefinition(objectId: number): ObjectDefinition | undefined {
  return byObject.get(objectId);
}

export function resourceDefinition(objectId: number, resourceId: number): ResourceDefinition | undefined {
  return byResource.get(objectId)?.get(resourceId);
}

/** The default lookup every codec uses: the built-in object definitions. */
export const builtInResourceTypes: ResourceTypeLookup = (objectId, resourceId) =>
  resourceDefinition(objectId, resourceId)?.type;
