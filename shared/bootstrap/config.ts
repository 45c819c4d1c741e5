import type { InstanceNode } from '../content/tree.ts';
import { treeToJsonView } from '../content/json-view.ts';
import { ACCESS_CONTROL_OBJECT } from '../lwm2m/objects/access-control.ts';
import { OSCORE_OBJECT } from '../lwm2m/objects/oscore.ts';
import { SECURITY_OBJECT } from '../lwm2m/objects/security.ts';
import { SERVER_OBJECT } from '../lwm2m/objects/server.ts';
import { aclInstance, aclInstanceIds } from './acl-instance.ts';
import { checkBootstrapConfiguration } from './checker.ts';
import { ConfigurationError } from './configuration-error.ts';
import type { DeviceEntry } from './device.ts';
import { oscoreInstance } from './oscore-instance.ts';
import type { BootstrapPlan, PlanWrite } from './plan.ts';
import type { Profile } from './profile.ts';
import { bootstrapSecurityInstance, serverSecurityInstance } from './security-instance.ts';
import { resolveServerAccounts } from './server-accounts.ts';
import { serverInstance } from './server-instance.ts';

const SECURITY = SECURITY_OBJECT.id;
const SERVER = SERVER_OBJECT.id;
const ACCESS_CONTROL = ACCESS_CONTROL_OBJECT.id;
const OSCORE = OSCORE_OBJECT.id;

/**
 * Profile + device entry -> what the gateway tells this client: the device's overrides applied,
 * its credentials placed, instance ids allocated, every instance as a JSON view with absolute
 * keys. Throws a ConfigurationError (fields named, keys never shown) when the configuration does
 * not check out, so a client is never half-provisioned with something inconsistent.
 */
export function compileBootstrapPlan(profile: Profile, device: DeviceEntry): BootstrapPlan {
  const issues = checkBootstrapConfiguration(profile, device);
  if (issues.length > 0) throw new ConfigurationError(issues);

  const accounts = resolveServerAccounts(profile, device);
  const aclIds = aclInstanceIds(profile);
  const writes: PlanWrite[] = [
    ...accounts.map((resolved) => instanceWrite(SECURITY, serverSecurityInstance(resolved))),
    ...accounts.map((resolved) => instanceWrite(SERVER, serverInstance(resolved))),
    ...profile.acl.map((entry, index) => instanceWrite(ACCESS_CONTROL, aclInstance(entry, aclIds[index]!))),
    ...accounts.flatMap(({ oscore, oscoreInstanceId }) =>
      oscore === undefined || oscoreInstanceId === undefined ? [] : [instanceWrite(OSCORE, oscoreInstance(oscore, oscoreInstanceId))],
    ),
  ];
  const contentFormat = device.overrides.contentFormat ?? profile.contentFormat;
  return {
    v: 1,
    discover: profile.discover,
    deletes: [...profile.deletes],
    writes,
    ...(profile.bootstrapServer !== undefined && {
      bootstrapServerWrite: instanceWrite(SECURITY, bootstrapSecurityInstance(profile.bootstrapServer, device.bootstrapCredentials)),
    }),
    reads: [...profile.reads],
    ...(contentFormat !== undefined && { contentFormat }),
  };
}

/** One Bootstrap-Write of a whole instance; the JSON view takes its value types from the object model. */
function instanceWrite(objectId: number, instance: InstanceNode): PlanWrite {
  return { path: `/${objectId}/${instance.id}`, values: treeToJsonView([{ id: objectId, instances: [instance] }]) };
}
