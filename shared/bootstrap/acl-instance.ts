import type { InstanceNode, ResourceNode } from '../content/tree.ts';
import { AclRight as AclBit } from '../lwm2m/objects/access-control.ts';
import { integerValue } from '../lwm2m/value.ts';
import type { AclInstance, AclRight, Profile } from './profile.ts';
import { single } from './resource-node.ts';
import { allocate } from './instance-ids.ts';

const AclResource = { OBJECT_ID: 0, OBJECT_INSTANCE_ID: 1, ACL: 2, OWNER: 3 } as const;

const RIGHT_BITS: Readonly<Record<AclRight, number>> = {
  read: AclBit.READ,
  write: AclBit.WRITE,
  execute: AclBit.EXECUTE,
  delete: AclBit.DELETE,
  create: AclBit.CREATE,
};

export function aclBitmask(rights: readonly AclRight[]): number {
  return rights.reduce((mask, right) => mask | RIGHT_BITS[right], 0);
}

/** Instance ids of the profile's ACL entries: the pinned ones, the rest counted up from 0. */
export function aclInstanceIds(profile: Profile): number[] {
  return allocate(
    profile.acl.map((entry) => entry.instanceId),
    0,
  );
}

/** Access Control instance /2/x: /2/x/2 has one instance per Short Server ID, its value the rights bitmask. */
export function aclInstance(entry: AclInstance, instanceId: number): InstanceNode {
  const ssids = Object.keys(entry.rights)
    .map(Number)
    .sort((a, b) => a - b);
  const acl: ResourceNode[] =
    ssids.length === 0
      ? []
      : [
          {
            kind: 'multiple',
            id: AclResource.ACL,
            instances: ssids.map((ssid) => ({ id: ssid, value: integerValue(aclBitmask(entry.rights[String(ssid)] ?? [])) })),
          },
        ];
  return {
    id: instanceId,
    resources: [
      single(AclResource.OBJECT_ID, integerValue(entry.objectId)),
      single(AclResource.OBJECT_INSTANCE_ID, integerValue(entry.objectInstanceId)),
      ...acl,
      single(AclResource.OWNER, integerValue(entry.owner)),
    ],
  };
}
