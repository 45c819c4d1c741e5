import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { handleUplink, type BootstrapBackendDeps } from '../../shared/bootstrap/backend.ts';
import type { FreshPsk } from '../../shared/lifecycle/fresh-credentials.ts';
import { purgeScheduleName, type AccountPurge } from '../../shared/lifecycle/purge.ts';
import { LocalPurgeScheduler } from '../../server/scheduler/local-purge-scheduler.ts';
import { DynamoDbScheduleStore } from '../../server/scheduler/schedule-store.ts';
import { device, nosecProfile } from '../e2e/fixtures.ts';
import { startDynaliteStore } from '../fixtures/dynalite-store.ts';
import { bootstrapEnded, bootstrapRequested, plannedOf } from '../fixtures/uplinks.ts';

const IMEI = '356938035643809';
const WEAK_KEY = Buffer.from(`${IMEI}0`).toString('hex');
const FRESH_KEY = '5e1f0c2b9a8d7e6f5a4b3c2d1e0f9a8b';
const TABLE = 'replaced-purge';

// The purge that revokes a replaced low-entropy key has a schedule of its own: the sessions after
// the replacement write the new account at the original's instance, and the account-timeout
// purge they schedule or cancel there must leave it alone. Real local scheduler, persisted in
// dynalite; the handler only records what ran.
describe('the purge of a replaced account', () => {
  let close: () => Promise<void>;
  let deps: BootstrapBackendDeps;
  let scheduler: LocalPurgeScheduler;
  let sessions = 0;

  before(async () => {
    const table = await startDynaliteStore(TABLE);
    const { store, client } = table;
    // Account Timeout 0: every later session cancels the account-timeout purge at /0/0.
    await store.putProfile(nosecProfile('replacing', 5685, { bootstrapServer: { uri: 'coaps://bs.example:5684', instanceId: 0, accountTimeout: 0 } }));
    await store.putDevice({ ...device('weak', 'replacing'), identities: { imei: IMEI }, bootstrapCredentials: { securityMode: 'psk', identity: 'weak-bs', secretKey: WEAK_KEY } });
    scheduler = await LocalPurgeScheduler.start({ store: new DynamoDbScheduleStore({ client, tableName: TABLE }), handler: () => Promise.resolve('purged') });
    const freshPsk = (): FreshPsk => ({ identity: 'weak#fresh', key: new Uint8Array(Buffer.from(FRESH_KEY, 'hex')) });
    deps = { store, newSessionId: () => `00000000-0000-4000-8000-${String(++sessions).padStart(12, '0')}`, now: () => new Date('2026-11-23T12:00:05.000Z'), purges: scheduler, freshPsk };
    close = async () => {
      scheduler.close();
      await table.close();
    };
  });
  after(() => close());

  const requested = (pskIdentity: string, receivedAt: string) => bootstrapRequested({ endpoint: 'weak', requestId: `r-${receivedAt}`, pskIdentity, receivedAt });
  const ended = (sessionId: string, startedAt: string) => bootstrapEnded({ endpoint: 'weak', sessionId, startedAt });
  const summary = (purges: AccountPurge[]) => purges.map(({ securityInstanceId, reason, pskIdentity }) => ({ securityInstanceId, reason, pskIdentity }));

  it('outlives the sessions after the replacement, which schedule and cancel at the same instance', async () => {
    const times = ['2026-11-23T12:00:00.000Z', '2026-11-23T12:10:00.000Z', '2026-11-23T12:20:00.000Z'];
    const { sessionId: replacing } = plannedOf(await handleUplink(requested('weak-bs', times[0]!), deps));
    await handleUplink(ended(replacing, times[0]!), deps);
    assert.deepEqual(summary(scheduler.pending()), [{ securityInstanceId: 0, reason: 'replaced', pskIdentity: 'weak-bs' }]);

    // The new account's first session, then an ordinary one: both write /0/0-or-the-new-instance
    // with Account Timeout 0, which cancels the account-timeout purge there.
    for (const at of times.slice(1)) {
      const { sessionId: session } = plannedOf(await handleUplink(requested('weak#fresh', at), deps));
      await handleUplink(ended(session, at), deps);
    }
    assert.deepEqual(summary(scheduler.pending()), [{ securityInstanceId: 0, reason: 'replaced', pskIdentity: 'weak-bs' }], 'the original key is still revoked at its time');
    assert.notEqual(purgeScheduleName('weak', 0, 'replaced'), purgeScheduleName('weak', 0));
  });
});
