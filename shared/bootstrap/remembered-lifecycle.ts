import type { LifecycleRecord } from '../lifecycle/lifecycle-record.ts';
import type { BootstrapBackendDeps } from './backend-deps.ts';
import type { BootstrapStore } from './store.ts';

/**
 * The store for one backend call, remembering one device's lifecycle record: what the device
 * read brought along, then what this call wrote. The lifecycle steps (mark, replacement, minted
 * credentials) each read the record before they write it; with the record already known those
 * reads cost nothing, which takes a bootstrap back towards the three requests it had before the
 * lifecycle. A conditional write that fails means another writer got there: the record is then
 * forgotten, and the next read goes to the table.
 */
export function rememberingLifecycle(store: BootstrapStore, endpoint: string, known: LifecycleRecord | null): BootstrapStore {
  let remembered: LifecycleRecord | null | undefined = known;
  const getLifecycle = async (asked: string): Promise<LifecycleRecord | undefined> => {
    if (asked !== endpoint || remembered === undefined) return store.getLifecycle(asked);
    return remembered ?? undefined;
  };
  const putLifecycle = async (written: string, record: LifecycleRecord, expected?: LifecycleRecord | null): Promise<boolean> => {
    const stored = await store.putLifecycle(written, record, expected);
    if (written === endpoint) remembered = stored ? record : undefined;
    return stored;
  };
  // A Proxy rather than a copy of every method: the store's methods keep their own `this`
  // (adapters hold private fields), and a method added to the interface is passed on unchanged.
  return new Proxy(store, {
    get(target, property) {
      if (property === 'getLifecycle') return getLifecycle;
      if (property === 'putLifecycle') return putLifecycle;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The deps for one backend call, with the lifecycle record the device read brought along remembered. */
export function withKnownLifecycle(deps: BootstrapBackendDeps, endpoint: string, lifecycle: LifecycleRecord | null | undefined): BootstrapBackendDeps {
  return lifecycle === undefined ? deps : { ...deps, store: rememberingLifecycle(deps.store, endpoint, lifecycle) };
}
