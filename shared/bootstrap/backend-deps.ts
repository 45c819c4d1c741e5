import type { FreshPsk, FreshPskOptions } from '../lifecycle/fresh-credentials.ts';
import type { PurgeScheduler } from '../lifecycle/purge.ts';
import type { LifecycleEventSink } from '../lifecycle/lifecycle-events.ts';
import type { FreshServerPskSource, KeySealer } from '../lifecycle/server-credentials.ts';
import type { BootstrapStore } from './store.ts';
import type { DeviceEntry } from './device.ts';
import type { BootstrapPlan } from './plan.ts';
import type { Profile } from './profile.ts';

/**
 * The backend half of the gateway contract: stateless, so the same code runs in the local
 * server and in Lambda. A bootstrap costs it two calls (requested, ended); its store
 * requests are counted in docs/cost.md.
 */
export interface BootstrapBackendDeps {
  readonly store: BootstrapStore;
  readonly newSessionId: () => string;
  readonly now: () => Date;
  /**
   * Where account-timeout purges are scheduled (issue 5): EventBridge Scheduler on AWS, the
   * table locally. Absent, a success schedules and cancels nothing.
   */
  readonly purges?: PurgeScheduler;
  /**
   * Mints the credentials of a Bootstrap-Server account that replaces a low-entropy one
   * (freshBootstrapPsk, node:crypto's CSPRNG, by default); tests pass a predictable one.
   */
  readonly freshPsk?: (options: FreshPskOptions) => FreshPsk;
  /** Mints LwM2M Server credentials for profiles with mintServerCredentials (freshServerPsk by default). */
  readonly freshServerPsk?: FreshServerPskSource;
  /**
   * Where a success tells the LwM2M server side of the credentials it delivered
   * (ServerCredentialsIssued): EventBridge on AWS, the log locally. Absent, the store is the
   * only channel.
   */
  readonly events?: LifecycleEventSink;
  /** Seals the keys those events carry (KMS on AWS); absent, the events carry no key. */
  readonly keySealer?: KeySealer;
}

/** What a successful session delivered: the entries it was planned from and the plan. */
export interface Delivered {
  readonly device: DeviceEntry;
  readonly profile: Profile;
  readonly plan: BootstrapPlan;
}
