import type { BootstrapPlan } from './plan.ts';

// Resources whose values are secret: /0/x/5 Secret Key, /0/x/8 SMS Binding Secret Key(s),
// /21/x/0 OSCORE Master Secret and /21/x/5 Master Salt.
const SECRET_RESOURCES: ReadonlySet<string> = new Set(['0/5', '0/8', '21/0', '21/5']);

/**
 * Whether a plan would hand key material to the client. Over NoSec CoAP anyone who knows an
 * endpoint name could ask for it, so the backend refuses such plans unless the request came
 * over DTLS (or the profile opts in, for a lab).
 */
export function planCarriesSecrets(plan: BootstrapPlan): boolean {
  const writes = plan.bootstrapServerWrite === undefined ? plan.writes : [...plan.writes, plan.bootstrapServerWrite];
  return writes.some((write) =>
    Object.entries(write.values).some(([key, value]) => {
      const path = key.startsWith('/') ? key : `${write.path}/${key}`;
      const [objectId, , resourceId] = path.split('/').slice(1);
      if (!SECRET_RESOURCES.has(`${objectId}/${resourceId}`)) return false;
      const hex = typeof value === 'object' ? Object.values(value)[0] : value;
      return hex !== '' && hex !== undefined;
    }),
  );
}
