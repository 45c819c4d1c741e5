import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { accountReplacementStep } from '../../shared/bootstrap/account-replacement-step.ts';
import { ContractError, handleUplink, type BootstrapBackendDeps } from '../../shared/bootstrap/backend.ts';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import type { BootstrapEnded, SecurityInstances } from '../../shared/bootstrap/contract.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';
import type { FreshPsk } from '../../shared/lifecycle/fresh-credentials.ts';
import type { AccountPurge, PurgeScheduler } from '../../shared/lifecycle/purge.ts';
import type { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { device, nosecProfile } from '../e2e/fixtures.ts';
import { startDynaliteStore } from '../fixtures/dynalite-store.ts';
import { profileFingerprint } from '../../shared/lifecycle/profile-fingerprint.ts';
import { bootstrapEnded, bootstrapRequested, plannedOf } from '../fixtures/uplinks.ts';

/** Keeps the schedules by name, as both real adapters do; a call told to fail fails once. */
class FlakyScheduler implements PurgeScheduler {
  readonly schedules = new Map<number, AccountPurge>();
  readonly calls: string[] = [];
  failNext: 'schedule' | 'cancel' | undefined;
  /** Every schedule fails while set (an outage longer than the retries). */
  down = false;
  async schedule(purge: AccountPurge): Promise<void> {
    this.calls.push(`schedule ${purge.securityInstanceId} ${purge.reason} ${purge.pskIdentity ?? '-'}`);
    if (this.down) throw new Error('Scheduler: ServiceUnavailable');
    if (this.failNext === 'schedule') {
      this.failNext = undefined;
      throw new Error('Scheduler: ThrottlingException');
    }
    this.schedules.set(purge.securityInstanceId, purge);
  }
  async cancel(_endpoint: string, securityInstanceId: number): Promise<boolean> {
    this.calls.push(`cancel ${securityInstanceId}`);
    if (this.failNext === 'cancel') {
      this.failNext = undefined;
      throw new Error('Scheduler: ThrottlingException');
    }
    return this.schedules.delete(securityInstanceId);
  }
}

const IMEI = '356938035643809';
/** Derived from the IMEI: low entropy, so the bootstrap replaces it. */
const WEAK_KEY = Buffer.from(`${IMEI}0`).toString('hex');
const FRESH_KEY = '5e1f0c2b9a8d7e6f5a4b3c2d1e0f9a8b';
const TABLE = 'replacement-redelivery';

// Replacing a low-entropy Bootstrap-Server account when the session moved the instances
// (Bootstrap-Discover) and when its `bootstrap-ended` arrives more than once, over the DynamoDB
// store on dynalite.
describe('account replacement: the ids the session wrote, and redelivered outcomes', () => {
  let close: () => Promise<void>;
  let store: DynamoDbBootstrapStore;
  let purges: FlakyScheduler;
  let deps: BootstrapBackendDeps;
  let endpoint: string;
  let endpoints = 0;
  /** When set, the next putDevice throws once, after the lifecycle write and before promotion lands. */
  let failPutDevice = false;

  before(async () => {
    ({ store, close } = await startDynaliteStore(TABLE));
    await store.putProfile(nosecProfile('replacing', 5685, { bootstrapServer: { uri: 'coaps://bs.example:5684', instanceId: 0, accountTimeout: 3600 } }));
  });
  after(() => close());

  beforeEach(async () => {
    endpoints += 1;
    endpoint = `weak-${endpoints}`;
    purges = new FlakyScheduler();
    failPutDevice = false;
    let sessions = 0;
    const freshPsk = (): FreshPsk => ({ identity: `${endpoint}#fresh`, key: new Uint8Array(Buffer.from(FRESH_KEY, 'hex')) });
    // A Proxy, not a subclass: the store's methods need their own instance (private fields).
    const flakyStore = new Proxy<BootstrapStore>(store, {
      get(target, property) {
        if (property === 'putDevice' && failPutDevice) {
          return async (): Promise<void> => {
            failPutDevice = false;
            throw new Error('DynamoDB: ProvisionedThroughputExceededException');
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    deps = { store: flakyStore, newSessionId: () => `s${++sessions}`, now: () => new Date('2026-11-23T12:00:05.000Z'), purges, freshPsk };
    await store.putDevice({
      ...device(endpoint, 'replacing'),
      identities: { imei: IMEI },
      bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey: WEAK_KEY },
    });
  });

  const requested = (pskIdentity: string, receivedAt: string) => bootstrapRequested({ endpoint, requestId: `r-${receivedAt}`, pskIdentity, receivedAt });
  const ended = (sessionId: string, startedAt: string, extra: Partial<BootstrapEnded> = {}) =>
    bootstrapEnded({ endpoint, sessionId, startedAt, endedAt: new Date(Date.parse(startedAt) + 2_500).toISOString(), ...extra });

  const T1 = '2026-11-23T12:00:00.000Z';
  const T2 = '2026-11-23T12:10:00.000Z';

  /** The replacement session: planned, then its success as the backend will take it once backend.ts passes `ended.securityInstances` on. */
  async function replacementSucceeded(written: SecurityInstances | undefined): Promise<string> {
    const { plan, sessionId } = plannedOf(await handleUplink(requested(`${endpoint}-bs`, T1), deps));
    assert.deepEqual(plan.writes.filter((write) => write.path.startsWith('/0/')).map((write) => write.path), ['/0/1', '/0/2']);
    assert.equal(plan.bootstrapServerWrite?.path, '/0/0');
    const end = ended(sessionId, T1, written === undefined ? {} : { securityInstances: written });
    assert.equal(await store.recordStatus(endpoint, { sessionId, outcome: 'success', startedAt: end.startedAt, endedAt: end.endedAt, kind: 'bs' }), true);
    const { device: entry, profile } = await store.getDeviceWithProfile(endpoint);
    const pending = (await store.getLifecycle(endpoint))?.pendingAccount;
    const delivered = { device: entry!, profile: profile!, plan: compileBootstrapPlan(profile!, entry!) };
    assert.equal(await accountReplacementStep(deps, sessionId, end.endedAt, delivered, pending, written), undefined);
    return sessionId;
  }

  it('Discover swapped the ids: the record takes the written ones, and the new account deletes the original, not itself', async () => {
    // The device held its account at /0/2: the new account went to /0/0, the original's rewrite to /0/2.
    const sessionId = await replacementSucceeded({ writes: { 1: 1, 2: 0 }, bootstrapServer: 2 });
    const pending = (await store.getLifecycle(endpoint))?.pendingAccount;
    assert.deepEqual({ instanceId: pending?.instanceId, originalInstanceId: pending?.originalInstanceId, promotedBy: pending?.promotedBy }, { instanceId: 0, originalInstanceId: 2, promotedBy: sessionId });
    assert.equal((await store.getDevice(endpoint))?.bootstrapCredentials?.identity, `${endpoint}#fresh`);
    assert.deepEqual(purges.calls, [`schedule 2 replaced ${endpoint}-bs`], 'the purge names the instance the original really is');

    const first = plannedOf(await handleUplink(requested(`${endpoint}#fresh`, T2), deps));
    assert.deepEqual(first.plan.deletes, ['/0', '/1', '/0/2']);
    assert.equal(first.plan.bootstrapServerWrite?.path, '/0/0', 'the new account is rewritten where it is');
    assert.equal(first.plan.bootstrapServerWrite?.values['/0/0/12'], 0);
  });

  it('Discover found the original elsewhere: the new account stays where planned, the original is deleted where it is', async () => {
    await replacementSucceeded({ writes: { 1: 1, 2: 2 }, bootstrapServer: 5 });
    const first = plannedOf(await handleUplink(requested(`${endpoint}#fresh`, T2), deps));
    assert.deepEqual(first.plan.deletes, ['/0', '/1', '/0/5']);
    assert.equal(first.plan.bootstrapServerWrite?.path, '/0/2');
  });

  it('an older gateway (no securityInstances) gets the planned ids, as before', async () => {
    const { sessionId } = plannedOf(await handleUplink(requested(`${endpoint}-bs`, T1), deps));
    await handleUplink(ended(sessionId, T1), deps);
    const pending = (await store.getLifecycle(endpoint))?.pendingAccount;
    assert.deepEqual({ instanceId: pending?.instanceId, originalInstanceId: pending?.originalInstanceId, promotedBy: pending?.promotedBy }, { instanceId: 2, originalInstanceId: 0, promotedBy: sessionId });
    assert.deepEqual(purges.calls, [`schedule 0 replaced ${endpoint}-bs`]);
    const first = plannedOf(await handleUplink(requested(`${endpoint}#fresh`, T2), deps));
    assert.deepEqual(first.plan.deletes, ['/0', '/1', '/0/0']);
    assert.equal(first.plan.bootstrapServerWrite?.path, '/0/2');
  });

  it('the contract takes securityInstances and refuses a malformed one', async () => {
    const { sessionId } = plannedOf(await handleUplink(requested(`${endpoint}-bs`, T1), deps));
    const answer = await handleUplink(ended(sessionId, T1, { securityInstances: { writes: { 1: 1, 2: 2 }, bootstrapServer: 0 } }), deps);
    assert.equal(answer.type === 'bootstrap-recorded' && answer.stored, true);
    await assert.rejects(handleUplink({ ...ended(sessionId, T1), securityInstances: { writes: { x: 1 } } }, deps), ContractError);
    await assert.rejects(handleUplink({ ...ended(sessionId, T1), securityInstances: { writes: {}, bootstrapServer: 65535 } }, deps), ContractError);
  });

  it(
    'end to end through handleUplink: a remapped replacement session settles the record',
    async () => {
      const { sessionId } = plannedOf(await handleUplink(requested(`${endpoint}-bs`, T1), deps));
      await handleUplink(ended(sessionId, T1, { securityInstances: { writes: { 1: 1, 2: 0 }, bootstrapServer: 2 } }), deps);
      const first = plannedOf(await handleUplink(requested(`${endpoint}#fresh`, T2), deps));
      assert.deepEqual(first.plan.deletes, ['/0', '/1', '/0/2']);
    },
  );

  it('a success redelivered after its purge failed to schedule: one promotion, the purge scheduled, the record kept', async () => {
    const { sessionId } = plannedOf(await handleUplink(requested(`${endpoint}-bs`, T1), deps));
    purges.failNext = 'schedule';
    await assert.rejects(handleUplink(ended(sessionId, T1), deps), /ThrottlingException/);
    // The outcome is stored and the device promoted; what failed is the purge of the original.
    assert.equal((await store.getDevice(endpoint))?.status?.outcome, 'success');

    // Lambda retries the invocation (the gateway, unanswered, resends too): the same session again.
    const again = await handleUplink(ended(sessionId, T1), deps);
    assert.equal(again.type === 'bootstrap-recorded' && again.stored, true);
    await handleUplink(ended(sessionId, T1), deps);

    const promoted = (await store.getDevice(endpoint))!;
    assert.equal(promoted.bootstrapCredentials?.identity, `${endpoint}#fresh`);
    assert.deepEqual(promoted.retiringBootstrapCredentials?.map((credentials) => credentials.identity), [`${endpoint}-bs`], 'promoted once');
    assert.deepEqual([...purges.schedules.values()].map(({ securityInstanceId, reason, pskIdentity, bootstrapSessionId }) => ({ securityInstanceId, reason, pskIdentity, bootstrapSessionId })), [
      { securityInstanceId: 0, reason: 'replaced', pskIdentity: `${endpoint}-bs`, bootstrapSessionId: sessionId },
    ]);
    assert.ok(!purges.calls.some((call) => call.startsWith('cancel')), 'never taken for the new account\'s first session');
    const pending = (await store.getLifecycle(endpoint))?.pendingAccount;
    assert.equal(pending?.identity, `${endpoint}#fresh`, 'kept until the new account\'s first session');
    assert.equal(pending?.promotedBy, sessionId);

    // That first session still deletes the original and clears the record.
    const first = plannedOf(await handleUplink(requested(`${endpoint}#fresh`, T2), deps));
    assert.deepEqual(first.plan.deletes, ['/0', '/1', '/0/0']);
    await handleUplink(ended(first.sessionId, T2), deps);
    assert.equal((await store.getLifecycle(endpoint))?.pendingAccount, undefined);
    assert.equal(purges.schedules.get(0)?.reason, 'replaced', "the original's purge is still due");
  });

  it("every delivery of the promotion failed to schedule the original's purge: the new account's first session schedules it", async () => {
    const { sessionId } = plannedOf(await handleUplink(requested(`${endpoint}-bs`, T1), deps));
    purges.down = true;
    for (let delivery = 0; delivery < 3; delivery += 1) await assert.rejects(handleUplink(ended(sessionId, T1), deps), /ServiceUnavailable/);
    purges.down = false;
    assert.equal(purges.schedules.size, 0);

    const first = plannedOf(await handleUplink(requested(`${endpoint}#fresh`, T2), deps));
    await handleUplink(ended(first.sessionId, T2), deps);
    const purge = purges.schedules.get(0);
    assert.deepEqual({ reason: purge?.reason, pskIdentity: purge?.pskIdentity, bootstrapSessionId: purge?.bootstrapSessionId, dueAt: purge?.dueAt }, {
      reason: 'replaced',
      pskIdentity: `${endpoint}-bs`,
      bootstrapSessionId: sessionId,
      dueAt: '2026-11-23T13:00:02.500Z',
    }, 'as the promotion would have scheduled it: its session, finish + account timeout');
    assert.equal((await store.getLifecycle(endpoint))?.pendingAccount, undefined);
  });

  it('a success redelivered after the promotion itself failed completes it', async () => {
    const { sessionId } = plannedOf(await handleUplink(requested(`${endpoint}-bs`, T1), deps));
    failPutDevice = true;
    await assert.rejects(handleUplink(ended(sessionId, T1), deps), /ProvisionedThroughputExceeded/);
    assert.equal((await store.getDevice(endpoint))?.bootstrapCredentials?.identity, `${endpoint}-bs`, 'not promoted yet');
    assert.equal((await store.getLifecycle(endpoint))?.pendingAccount?.promotedBy, sessionId);

    await handleUplink(ended(sessionId, T1), deps);
    const promoted = (await store.getDevice(endpoint))!;
    assert.equal(promoted.bootstrapCredentials?.identity, `${endpoint}#fresh`);
    assert.equal(promoted.retiringBootstrapCredentials?.length, 1);
    assert.equal(purges.schedules.get(0)?.reason, 'replaced');
  });

  it("the new account's first session redelivered, before or after the record was cleared, leaves the original's purge alone", async () => {
    const { sessionId } = plannedOf(await handleUplink(requested(`${endpoint}-bs`, T1), deps));
    await handleUplink(ended(sessionId, T1), deps);
    const first = plannedOf(await handleUplink(requested(`${endpoint}#fresh`, T2), deps));

    purges.failNext = 'cancel';
    await assert.rejects(handleUplink(ended(first.sessionId, T2), deps), /ThrottlingException/);
    assert.ok((await store.getLifecycle(endpoint))?.pendingAccount, 'kept: it holds the instance to cancel');
    await handleUplink(ended(first.sessionId, T2), deps);
    assert.equal((await store.getLifecycle(endpoint))?.pendingAccount, undefined);
    const calls = purges.calls.length;
    await handleUplink(ended(first.sessionId, T2), deps);
    assert.equal(purges.calls.length, calls, 'nothing scheduled or cancelled by a redelivery after the record went');
    assert.deepEqual([...purges.schedules.values()].map(({ securityInstanceId, reason, pskIdentity }) => ({ securityInstanceId, reason, pskIdentity })), [
      { securityInstanceId: 0, reason: 'replaced', pskIdentity: `${endpoint}-bs` },
    ]);
  });
  it('two sessions that both wrote the new account (a push racing a request): the second success leaves the record for the deletion', async () => {
    const first = plannedOf(await handleUplink(requested(`${endpoint}-bs`, T1), deps));
    const second = plannedOf(await handleUplink(requested(`${endpoint}-bs`, '2026-11-23T12:00:01.000Z'), deps));
    assert.match(first.sessionId, /\.r[0-9a-f]{12}$/);
    assert.match(second.sessionId, /\.r[0-9a-f]{12}$/);
    await handleUplink(ended(first.sessionId, T1), deps);
    await handleUplink(ended(second.sessionId, '2026-11-23T12:00:01.000Z'), deps);
    const pending = (await store.getLifecycle(endpoint))?.pendingAccount;
    assert.equal(pending?.promotedBy, first.sessionId, 'still there, promoted by the first');
    assert.equal(purges.calls.filter((call) => call.includes('replaced')).length, 1, "the original's purge scheduled once, by the promotion");

    const deletion = plannedOf(await handleUplink(requested(`${endpoint}#fresh`, T2), deps));
    assert.match(deletion.sessionId, /\.d[0-9a-f]{12}$/, 'the deleting session has its own tag');
    assert.deepEqual(deletion.plan.deletes, ['/0', '/1', '/0/0'], 'the new account still deletes the original');
    await handleUplink(ended(deletion.sessionId, T2), deps);
    assert.equal((await store.getLifecycle(endpoint))?.pendingAccount, undefined);
  });

  it('records the fingerprint of the promoted account, so the next attach finds nothing changed', async () => {
    const { sessionId } = plannedOf(await handleUplink(requested(`${endpoint}-bs`, T1), deps));
    await handleUplink(ended(sessionId, T1), deps);
    const promoted = await store.getDevice(endpoint);
    const profile = await store.getProfile('replacing');
    assert.ok(promoted !== undefined && profile !== undefined);
    assert.equal(promoted.bootstrapCredentials?.identity, `${endpoint}#fresh`);
    assert.equal((await store.getLifecycle(endpoint))?.bootstrappedWith?.profileFingerprint, profileFingerprint(profile, promoted));
  });

  it('a purge that revoked a retiring credential between the read of the outcome and the promotion is not written back over', async () => {
    // An earlier credential retiring until its purge, on the entry when the outcome is read.
    const retiring = { securityMode: 'psk' as const, identity: `${endpoint}-older`, secretKey: FRESH_KEY.replace(/^5e/, '7a'), retiredAt: '2026-11-20T00:00:00.000Z', reason: 'replaced' as const };
    const entry = await store.getDevice(endpoint);
    assert.ok(entry !== undefined);
    await store.putDevice({ ...entry, retiringBootstrapCredentials: [retiring] });
    const { sessionId } = plannedOf(await handleUplink(requested(`${endpoint}-bs`, T1), deps));
    // The purge runs while bootstrap-ended is on its way: it read-modify-writes the entry.
    const racing = new Proxy<BootstrapStore>(deps.store, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (property !== 'recordStatus' || typeof value !== 'function') return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        return async (...args: unknown[]) => {
          const answer: unknown = await (value as (...args: unknown[]) => unknown).apply(target, args);
          const now = await store.getDevice(endpoint);
          assert.ok(now !== undefined);
          await store.putDevice({ ...now, retiringBootstrapCredentials: [], revokedBootstrapIdentities: [{ identity: retiring.identity, revokedAt: T1, reason: 'replaced' }] });
          return answer;
        };
      },
    });
    await handleUplink(ended(sessionId, T1), { ...deps, store: racing });
    const after = await store.getDevice(endpoint);
    assert.deepEqual(after?.retiringBootstrapCredentials?.map(({ identity }) => identity), [`${endpoint}-bs`], 'only the credential this promotion retired');
    assert.deepEqual(after?.revokedBootstrapIdentities?.map(({ identity }) => identity), [retiring.identity], 'the revocation stays');
  });
});
