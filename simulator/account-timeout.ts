import type { InstanceNode, ResourceNode } from '../shared/content/tree.ts';
import { SecurityResource } from '../shared/lwm2m/objects/security.ts';
import { booleanValue, type ResourceValue } from '../shared/lwm2m/value.ts';
import { isBootstrapAccount, OSCORE, SECURITY, type ClientObjectStore } from './client-state.ts';

/**
 * The client's side of the Bootstrap-Server Account Timeout (Security resource 12; Core 1.1
 * §5.2.2.2 and §5.2.2.3 "Clean-up after successful Bootstrapping", Appendix E.1).
 *
 * What the text asks of the client, and how it is honoured here:
 * - The object definition: the client MUST purge the Bootstrap-Server Account after the timeout
 *   /0/x/12 gives; 0, or the resource not instantiated, means the account lives for ever. So after
 *   every successful bootstrap (any mode) each Bootstrap-Server Security instance with /0/x/12 > 0
 *   gets a timer that purges it, and the OSCORE instance it links to through /0/x/17.
 * - §5.2.2.3 2b: with low-entropy keys, when the original account was not replaced by a new one,
 *   the client MUST purge it after the timeout "if defined, or immediately after successful
 *   bootstrapping if the timeout value is not defined". Only then does a missing /0/x/12 mean
 *   "purge now". The client cannot measure its own key's entropy, so it is told
 *   (`bootstrapKeyEntropy: 'low'`); "not replaced" means the Bootstrap-Server Account still
 *   holds the factory URI, security mode and keys. A defined 0 keeps its object-definition
 *   meaning (no purge) even then: the text only ever lets an absent value mean "at once".
 * A later successful bootstrap re-evaluates: an account rewritten with 0 (or removed) has its
 * timer cancelled, one with a new value is re-armed from then; an unchanged value keeps its
 * original deadline, so re-bootstrapping does not keep extending a temporary account's life.
 */
export interface AccountTimeoutOptions {
  /** Multiplies every timeout (tests run 60 s as 0.6 s with 0.01). Default 1. */
  readonly scale?: number;
  /** The entropy of the factory Bootstrap-Server key (default 'high'): see above. */
  readonly bootstrapKeyEntropy?: 'high' | 'low';
}

/** The step recorded when the client purges a Bootstrap-Server Account: 'bootstrap-account-purged /0/x'. */
export const PURGED_STEP = 'bootstrap-account-purged';

/** Resources that make an account what it is: whether they changed says whether it was replaced. */
const IDENTITY_RESOURCES: readonly number[] = [
  SecurityResource.SERVER_URI,
  SecurityResource.SECURITY_MODE,
  SecurityResource.PUBLIC_KEY_OR_IDENTITY,
  SecurityResource.SERVER_PUBLIC_KEY,
  SecurityResource.SECRET_KEY,
];

interface ArmedPurge {
  readonly timeoutSeconds: number;
  readonly timer: NodeJS.Timeout;
}

export class AccountTimeout {
  readonly #store: ClientObjectStore;
  readonly #scale: number;
  readonly #lowEntropy: boolean;
  /** The factory Bootstrap-Server Account, to tell a replaced account from the original. */
  readonly #original: InstanceNode | undefined;
  /** By Security instance id. */
  readonly #armed = new Map<number, ArmedPurge>();

  constructor(store: ClientObjectStore, options: AccountTimeoutOptions = {}) {
    const scale = options.scale ?? 1;
    if (!Number.isFinite(scale) || scale <= 0) throw new RangeError(`accountTimeoutScale must be a number above 0, not ${scale}`);
    this.#store = store;
    this.#scale = scale;
    this.#lowEntropy = options.bootstrapKeyEntropy === 'low';
    const id = store.bootstrapServerInstanceId();
    this.#original = id === undefined ? undefined : store.instance(SECURITY, id);
  }

  /**
   * After a successful bootstrap: arms, keeps or cancels the purge of each Bootstrap-Server
   * Account. `steps` is the run's step list; a purge appends to it (also after the run returned).
   */
  afterBootstrap(steps: string[]): void {
    const accounts = this.#bootstrapAccounts();
    for (const [instanceId, armed] of this.#armed) {
      const timeout = accounts.get(instanceId);
      if (timeout === undefined || timeout !== armed.timeoutSeconds) this.#cancel(instanceId);
    }
    for (const [instanceId, timeout] of accounts) {
      if (timeout === undefined) {
        if (this.#lowEntropy && !this.#replaced(instanceId)) this.#purge(instanceId, steps);
      } else if (timeout > 0 && !this.#armed.has(instanceId)) {
        const timer = setTimeout(() => {
          this.#armed.delete(instanceId);
          this.#purge(instanceId, steps);
        }, timeout * 1000 * this.#scale);
        // A purge pending for an hour must not keep a finished simulation's process alive.
        timer.unref();
        this.#armed.set(instanceId, { timeoutSeconds: timeout, timer });
      }
    }
  }

  /** Security instance ids whose purge is pending. */
  pending(): number[] {
    return [...this.#armed.keys()].sort((a, b) => a - b);
  }

  /** Cancels every pending purge (the client closes). */
  stop(): void {
    for (const instanceId of [...this.#armed.keys()]) this.#cancel(instanceId);
  }

  #cancel(instanceId: number): void {
    clearTimeout(this.#armed.get(instanceId)?.timer);
    this.#armed.delete(instanceId);
  }

  /** Bootstrap-Server Security instances and their /0/x/12 (undefined when not instantiated). */
  #bootstrapAccounts(): Map<number, number | undefined> {
    const accounts = new Map<number, number | undefined>();
    for (const instance of this.#store.tree().find((object) => object.id === SECURITY)?.instances ?? []) {
      if (isBootstrapAccount(instance)) accounts.set(instance.id, integer(instance, SecurityResource.BOOTSTRAP_SERVER_ACCOUNT_TIMEOUT));
    }
    return accounts;
  }

  #replaced(instanceId: number): boolean {
    const current = this.#store.instance(SECURITY, instanceId);
    const original = this.#original;
    if (current === undefined || original === undefined || original.id !== instanceId) return true;
    return IDENTITY_RESOURCES.some((id) => !sameValue(singleValue(current, id), singleValue(original, id)));
  }

  /**
   * Removes the account and its OSCORE instance. The store protects the Bootstrap-Server Account
   * from Bootstrap-Delete and has no purge of its own, so the account is first marked as no longer
   * a Bootstrap-Server one (/0/x/1 false) and then deleted.
   */
  #purge(instanceId: number, steps: string[]): void {
    const instance = this.#store.instance(SECURITY, instanceId);
    if (instance === undefined || !isBootstrapAccount(instance)) return;
    const link = singleValue(instance, SecurityResource.OSCORE_SECURITY_MODE);
    const flag: ResourceNode = { kind: 'single', id: SecurityResource.BOOTSTRAP_SERVER, value: booleanValue(false) };
    this.#store.write({ objectId: SECURITY, instanceId }, [{ id: SECURITY, instances: [{ id: instanceId, resources: [flag] }] }]);
    this.#store.delete({ objectId: SECURITY, instanceId });
    steps.push(`${PURGED_STEP} /${SECURITY}/${instanceId}`);
    if (link?.type === 'objlnk' && link.value.objectId === OSCORE) {
      const oscore = { objectId: OSCORE, instanceId: link.value.instanceId };
      if (this.#store.delete(oscore) === 'deleted') steps.push(`${PURGED_STEP} /${OSCORE}/${oscore.instanceId}`);
    }
  }
}

/**
 * Client-initiated bootstrap needs a Bootstrap-Server Account (Core §5.2.2.2); once the client
 * purged its only one, it cannot ask for Bootstrap Information again.
 */
export function requireBootstrapAccount(store: ClientObjectStore): void {
  if (store.bootstrapServerInstanceId() === undefined) {
    throw new Error('no Bootstrap-Server account: it was purged (or never provisioned), so client-initiated bootstrap is no longer possible');
  }
}

function singleValue(instance: InstanceNode, resourceId: number): ResourceValue | undefined {
  const resource = instance.resources.find((candidate) => candidate.id === resourceId);
  return resource?.kind === 'single' ? resource.value : undefined;
}

/** Servers write /0/x/12 as integer or unsigned; either is taken. */
function integer(instance: InstanceNode, resourceId: number): number | undefined {
  const value = singleValue(instance, resourceId);
  if (value === undefined) return undefined;
  if (value.type === 'integer' || value.type === 'unsigned' || value.type === 'time') return Number(value.value);
  if (value.type === 'float' && Number.isInteger(value.value)) return value.value;
  return undefined;
}

function sameValue(a: ResourceValue | undefined, b: ResourceValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.type === 'opaque' && b.type === 'opaque') return Buffer.from(a.value).equals(b.value);
  if (a.type === 'objlnk' && b.type === 'objlnk') return a.value.objectId === b.value.objectId && a.value.instanceId === b.value.instanceId;
  return a.type === b.type && a.value === b.value;
}
