import type { BootstrapPlan, PlanWrite } from './plan.ts';

// Resources whose values are secret: /0/x/5 Secret Key, /0/x/8 SMS Binding Secret Key(s),
// /21/x/0 OSCORE Master Secret and /21/x/5 Master Salt.
const SECRET_RESOURCES: ReadonlySet<string> = new Set(['0/5', '0/8', '21/0', '21/5']);

/** The absolute resource path of a write's JSON view key (keys are absolute or relative to the instance). */
function absoluteKey(write: PlanWrite, key: string): string {
  return key.startsWith('/') ? key : `${write.path}/${key}`;
}

/** Keys of a write's values that hold key material, whether or not they are empty. */
export function secretKeysOf(write: PlanWrite): string[] {
  return Object.keys(write.values).filter((key) => {
    const [objectId, , resourceId] = absoluteKey(write, key).split('/').slice(1);
    return SECRET_RESOURCES.has(`${objectId}/${resourceId}`);
  });
}

/**
 * Whether a plan would hand key material to the client. Over NoSec CoAP anyone who knows an
 * endpoint name could ask for it, so the backend refuses such plans unless the request came
 * over DTLS (or the profile opts in, for a lab).
 */
export function planCarriesSecrets(plan: BootstrapPlan): boolean {
  const writes = plan.bootstrapServerWrite === undefined ? plan.writes : [...plan.writes, plan.bootstrapServerWrite];
  return writes.some((write) =>
    secretKeysOf(write).some((key) => {
      const value = write.values[key];
      const hex = typeof value === 'object' ? Object.values(value)[0] : value;
      return hex !== '' && hex !== undefined;
    }),
  );
}

/** The write without its secret resources, and their absolute paths. */
export function withoutSecrets(write: PlanWrite): { readonly write: PlanWrite; readonly omitted: string[] } {
  const secret = new Set(secretKeysOf(write));
  if (secret.size === 0) return { write, omitted: [] };
  const values = Object.fromEntries(Object.entries(write.values).filter(([key]) => !secret.has(key)));
  return { write: { path: write.path, values }, omitted: [...secret].map((key) => absoluteKey(write, key)) };
}
