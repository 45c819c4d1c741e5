/**
 * Instance ids: an explicit one is kept; the others count up from `first`, skipping explicit
 * ids and `reserved`, so allocation never collides with what an operator pinned.
 */
export function allocate(explicit: readonly (number | undefined)[], first: number, reserved: ReadonlySet<number> = new Set()): number[] {
  const taken = new Set<number>([...reserved, ...explicit.filter((id): id is number => id !== undefined)]);
  let next = first;
  return explicit.map((id) => {
    if (id !== undefined) return id;
    while (taken.has(next)) next++;
    return next++;
  });
}
