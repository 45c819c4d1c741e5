import { SecurityResource } from '../lwm2m/objects/security.ts';
import type { BootstrapPlan } from './plan.ts';
import type { Profile } from './profile.ts';

/**
 * A device is never left without a Bootstrap-Server account unless its profile allows it
 * (issue 5; seed 000 warns it could then never be bootstrapped again). An Account Timeout
 * (/0/x/12) above 0 on the only account makes the client delete it when the timeout runs out
 * (Core E.1), so without `allowNoBootstrapAccount` the profile's timeout is written only beside
 * a replacement account, on the original it retires; everywhere else the account is written with
 * 0, "never". Applied to the plan served and to the plan a success is taken from alike, so the
 * server schedules no purge of an account the client was told to keep.
 */
export function keepBootstrapAccount(plan: BootstrapPlan, profile: Profile): BootstrapPlan {
  const account = plan.bootstrapServerWrite;
  if (profile.allowNoBootstrapAccount === true || account === undefined) return plan;
  const path = `${account.path}/${SecurityResource.BOOTSTRAP_SERVER_ACCOUNT_TIMEOUT}`;
  const timeout = account.values[path];
  if (timeout === undefined || timeout === 0) return plan;
  return { ...plan, bootstrapServerWrite: { ...account, values: { ...account.values, [path]: 0 } } };
}
