import { instancePathText, type BootstrapPlan, type PlanWrite } from '../bootstrap/plan.ts';
import { arrangeWrites } from '../bootstrap/instance-remap.ts';

const SECURITY = 0;

/**
 * What a device holds when it leaves the factory (LwM2M Core, Factory Bootstrap): every
 * instance a bootstrap would write, and its own Bootstrap-Server account, which on the network
 * the device already has and the plan only rewrites. The account keeps the instance id the
 * profile gives it; a planned Security instance that would take that id moves, exactly as it
 * would after a Bootstrap-Discover that found the account there.
 */
export function factoryInstances(plan: BootstrapPlan): PlanWrite[] {
  const account = plan.bootstrapServerWrite;
  if (account === undefined) return [...plan.writes];
  const accountId = Number(instancePathText.parse(account.path).split('/')[2]);
  // The account as a Bootstrap-Discover would report it: a Security instance without ssid.
  const discovered = { objects: [{ objectId: SECURITY, instances: [{ instanceId: accountId }] }] };
  return arrangeWrites(plan, discovered);
}
