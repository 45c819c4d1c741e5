import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LocalPurgeScheduler } from '../../server/scheduler/local-purge-scheduler.ts';
import { DynamoDbScheduleStore } from '../../server/scheduler/schedule-store.ts';
import { localDynamoDbClient, startDynalite, type RunningDynalite } from '../../server/store/dynalite.ts';
import { ensureTable } from '../../server/store/table.ts';
import { purgeScheduleNameOf, type AccountPurge, type PurgeHandler, type PurgeOutcome } from '../../shared/lifecycle/purge.ts';

function purgeOf(endpoint: string, dueInMs: number, overrides: Partial<AccountPurge> = {}): AccountPurge {
  const now = Date.now();
  return {
    endpoint,
    securityInstanceId: 0,
    pskIdentity: `id-${endpoint}`,
    reason: 'account-timeout',
    dueAt: new Date(now + dueInMs).toISOString(),
    scheduledAt: new Date(now).toISOString(),
    bootstrapSessionId: 'session-1',
    ...overrides,
  };
}

/**
 * What the real purge does, in miniature: revoke a credential once. A second run for the same
 * account finds it revoked and changes nothing, so the effects count each revocation once.
 */
class IdempotentRevoker {
  readonly revoked = new Set<string>();
  readonly calls: { purge: AccountPurge; atMs: number; outcome: PurgeOutcome }[] = [];

  readonly handler: PurgeHandler = (purge) => Promise.resolve(this.revoke(purge));

  revoke(purge: AccountPurge): PurgeOutcome {
    const key = purgeScheduleNameOf(purge);
    const outcome: PurgeOutcome = this.revoked.has(key) ? 'already-purged' : 'purged';
    this.revoked.add(key);
    this.calls.push({ purge, atMs: Date.now(), outcome });
    return outcome;
  }
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('LocalPurgeScheduler over dynalite', () => {
  let dynalite: RunningDynalite;
  let client: DynamoDBClient;
  let tables = 0;
  const open: LocalPurgeScheduler[] = [];

  /** A table of its own per test: a scheduler loads every pending purge of its table. */
  async function freshStore(): Promise<DynamoDbScheduleStore> {
    tables += 1;
    const tableName = `purge-test-${tables}`;
    await ensureTable(client, tableName, { pollMs: 10 });
    return new DynamoDbScheduleStore({ client, tableName });
  }

  async function start(options: Parameters<typeof LocalPurgeScheduler.start>[0]): Promise<LocalPurgeScheduler> {
    const scheduler = await LocalPurgeScheduler.start(options);
    open.push(scheduler);
    return scheduler;
  }

  before(async () => {
    dynalite = await startDynalite({ thread: false });
    client = localDynamoDbClient(dynalite.endpoint);
  });

  after(async () => {
    for (const scheduler of open) await scheduler.close();
    client.destroy();
    await dynalite.close();
  });

  it('fires a purge at its due time, then removes it from the table', async () => {
    const store = await freshStore();
    const revoker = new IdempotentRevoker();
    const scheduler = await start({ store, handler: revoker.handler });
    const purge = purgeOf('ep-due', 150);
    await scheduler.schedule(purge);
    assert.deepEqual((await store.list()).map((pending) => pending.purge), [purge]);

    await waitFor('the purge', async () => revoker.calls.length === 1 && scheduler.pending().length === 0);
    assert.deepEqual(revoker.calls[0]?.purge, purge);
    assert.ok((revoker.calls[0]?.atMs ?? 0) >= Date.parse(purge.dueAt), 'not before its due time');
    assert.deepEqual(await store.list(), []);
    await sleep(50);
    assert.equal(revoker.calls.length, 1);
  });

  it('re-arms a timer capped below the wait instead of firing early', async () => {
    const store = await freshStore();
    const revoker = new IdempotentRevoker();
    const scheduler = await start({ store, handler: revoker.handler, maxTimerDelayMs: 30 });
    const purge = purgeOf('ep-capped', 200);
    await scheduler.schedule(purge);
    await waitFor('the purge', () => revoker.calls.length === 1);
    assert.ok((revoker.calls[0]?.atMs ?? 0) >= Date.parse(purge.dueAt), 'not at the first, capped, wake-up');
  });

  it('runs a purge again after a crash before its item was deleted, with one effect', async () => {
    const store = await freshStore();
    const revoker = new IdempotentRevoker();
    // The first process revokes, then dies before the handler resolves: the item stays.
    const crashing = await start({ store, handler: (purge) => (revoker.revoke(purge), new Promise<PurgeOutcome>(() => undefined)) });
    const purge = purgeOf('ep-crash', 50);
    await crashing.schedule(purge);
    await waitFor('the first run', () => revoker.calls.length === 1);
    await crashing.close();
    assert.equal((await store.list()).length, 1, 'not deleted before the handler resolved');

    const restarted = await start({ store, handler: revoker.handler });
    await waitFor('the second run', () => revoker.calls.length === 2 && restarted.pending().length === 0);
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(
      revoker.calls.map((call) => call.outcome),
      ['purged', 'already-purged'],
    );
    assert.equal(revoker.revoked.size, 1);
  });

  it('runs purges that fell due while it was stopped right after a restart', async () => {
    const store = await freshStore();
    const revoker = new IdempotentRevoker();
    const first = await start({ store, handler: revoker.handler });
    const purges = [purgeOf('ep-late-1', 60), purgeOf('ep-late-2', 80, { securityInstanceId: 3, reason: 'replaced' })];
    for (const purge of purges) await first.schedule(purge);
    await first.close();
    await sleep(150);
    assert.equal(revoker.calls.length, 0);

    const second = await start({ store, handler: revoker.handler });
    assert.equal(second.pending().length, 2);
    await waitFor('both purges', async () => revoker.calls.length === 2 && (await store.list()).length === 0);
    assert.deepEqual(
      revoker.calls.map((call) => call.purge).sort((a, b) => a.endpoint.localeCompare(b.endpoint)),
      purges,
    );
  });

  it('moves a schedule replaced under the same name, and cancels one', async () => {
    const store = await freshStore();
    const revoker = new IdempotentRevoker();
    const scheduler = await start({ store, handler: revoker.handler });
    await scheduler.schedule(purgeOf('ep-moved', 80));
    const replacement = purgeOf('ep-moved', 250, { bootstrapSessionId: 'session-2' });
    await scheduler.schedule(replacement);
    assert.deepEqual((await store.list()).map((pending) => pending.purge), [replacement]);

    const cancelled = purgeOf('ep-cancelled', 80, { securityInstanceId: 1 });
    await scheduler.schedule(cancelled);
    assert.equal(await scheduler.cancel('ep-cancelled', 1), true);
    assert.equal(await scheduler.cancel('ep-cancelled', 1), false);

    await waitFor('the moved purge', () => revoker.calls.length === 1);
    assert.deepEqual(revoker.calls[0]?.purge, replacement);
    assert.ok((revoker.calls[0]?.atMs ?? 0) >= Date.parse(replacement.dueAt), 'at the new due time');
    await sleep(100);
    assert.equal(revoker.calls.length, 1, 'the cancelled purge never runs');
    assert.deepEqual(await store.list(), []);
  });

  it('keeps a schedule replaced while the old one was running', async () => {
    const store = await freshStore();
    let release: (outcome: PurgeOutcome) => void = () => undefined;
    const seen: AccountPurge[] = [];
    const scheduler = await start({
      store,
      handler: (purge) => {
        seen.push(purge);
        return new Promise<PurgeOutcome>((resolve) => (release = resolve));
      },
    });
    await scheduler.schedule(purgeOf('ep-race', 20));
    await waitFor('the first run', () => seen.length === 1);
    const replacement = purgeOf('ep-race', 60_000, { bootstrapSessionId: 'session-2' });
    await scheduler.schedule(replacement);
    release('purged');
    await sleep(50);
    assert.deepEqual((await store.list()).map((pending) => pending.purge), [replacement]);
    assert.deepEqual(scheduler.pending(), [replacement]);
  });

  it('retries a failing handler with backoff until it succeeds', async () => {
    const store = await freshStore();
    const revoker = new IdempotentRevoker();
    const logs: string[] = [];
    let failures = 0;
    const scheduler = await start({
      store,
      retryDelaysMs: [20, 40],
      log: (message) => logs.push(message),
      handler: (purge) => {
        if (failures < 3) {
          failures += 1;
          return Promise.reject(new Error('the store is unreachable'));
        }
        return revoker.handler(purge);
      },
    });
    await scheduler.schedule(purgeOf('ep-flaky', 10));
    await waitFor('the successful run', () => logs.some((line) => line.endsWith(': purged')));
    assert.deepEqual(await store.list(), []);
    assert.equal(revoker.calls.length, 1);
    assert.equal(failures, 3);
    const failed = logs.filter((line) => line.includes('failed'));
    assert.deepEqual(
      failed.map((line) => /retrying in (\d+) ms/.exec(line)?.[1]),
      ['20', '40', '40'],
    );
  });

  it('loads the valid pending purges of a table and reports the others by key', async () => {
    const warnings: string[] = [];
    tables += 1;
    const tableName = `purge-test-${tables}`;
    await ensureTable(client, tableName, { pollMs: 10 });
    const store = new DynamoDbScheduleStore({ client, tableName, onWarning: (message) => warnings.push(message) });
    const valid = purgeOf('ep-valid', 60_000);
    await store.put(valid);
    const other = purgeOf('ep-other', 60_000);
    await client.send(new PutItemCommand({ TableName: tableName, Item: { PK: { S: 'PURGE#purge-bad' }, SK: { S: 'PURGE' }, doc: { S: '{"endpoint":' } } }));
    await client.send(new PutItemCommand({ TableName: tableName, Item: { PK: { S: 'PURGE#purge-misfiled-0' }, SK: { S: 'PURGE' }, doc: { S: JSON.stringify(other) } } }));
    // Not a purge: a device item must not be read as one.
    await client.send(new PutItemCommand({ TableName: tableName, Item: { PK: { S: 'DEVICE#ep-valid' }, SK: { S: 'STATUS' } } }));

    const scheduler = await start({ store, handler: new IdempotentRevoker().handler });
    assert.deepEqual(scheduler.pending(), [valid]);
    assert.deepEqual(warnings.sort(), [
      'skipped the pending purge PURGE#purge-bad: its doc is not a valid AccountPurge',
      'skipped the pending purge PURGE#purge-misfiled-0: its doc belongs to another schedule name',
    ]);
  });

  it('refuses work once closed', async () => {
    const store = await freshStore();
    const scheduler = await start({ store, handler: new IdempotentRevoker().handler });
    await scheduler.close();
    await assert.rejects(scheduler.schedule(purgeOf('ep-closed', 10)), /closed/);
    assert.deepEqual(await store.list(), []);
  });
});
