import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { handleUplink, type BootstrapBackendDeps } from '../../shared/bootstrap/backend.ts';
import { DEFAULT_REPLACED_ACCOUNT_GRACE_SECONDS } from '../../shared/bootstrap/account-replacement-step.ts';
import type { BootstrapEnded, BootstrapRequested } from '../../shared/bootstrap/contract.ts';
import type { DeviceEntry } from '../../shared/bootstrap/device.ts';
import type { BootstrapPlan } from '../../shared/bootstrap/plan.ts';
import type { FreshPsk } from '../../shared/lifecycle/fresh-credentials.ts';
import { device, nosecProfile } from '../e2e/fixtures.ts';
import { MemoryStore } from '../fixtures/memory-store.ts';
import { RecordingScheduler } from '../fixtures/recording-scheduler.ts';
import { bootstrapEnded, bootstrapRequested, plannedOf } from '../fixtures/uplinks.ts';

const IMEI = '356938035643809';
/** The IMEI's digits (and a 0, to the 16 bytes a PSK needs) as the key: derived from an identifier, and only digits. */
const WEAK_KEY = Buffer.from(`${IMEI}0`).toString('hex');
const STRONG_KEY = '9f3c1ad27be04e8851c6f0a9d3e7b214';
const BS = { uri: 'coaps://bs.example:5684', instanceId: 0, accountTimeout: 3600 };
const NOW = new Date('2026-11-23T12:00:05.000Z');

// The backend's side of replacing a low-entropy Bootstrap-Server account (seeds 000, 002): the
// plan, the pending record, the promotion and the purge of the original, and the new account's
// first session that deletes the original instance.
describe('bootstrap backend: replacing a low-entropy Bootstrap-Server account', () => {
  let store: MemoryStore;
  let purges: RecordingScheduler;
  let deps: BootstrapBackendDeps;
  let minted: number;

  const pskDevice = (endpoint: string, profile: string, secretKey: string, extra: Partial<DeviceEntry> = {}): DeviceEntry => ({
    ...device(endpoint, profile),
    identities: { imei: IMEI },
    bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey },
    ...extra,
  });

  beforeEach(async () => {
    store = new MemoryStore();
    purges = new RecordingScheduler();
    minted = 0;
    let sessions = 0;
    const freshPsk = ({ endpoint }: { endpoint: string }): FreshPsk => {
      minted += 1;
      return { identity: `${endpoint}#bs-fresh${minted}`, key: new Uint8Array(Buffer.from(`c0ffee${minted}`.padEnd(32, '7').replace(/[^0-9a-f]/g, 'a'), 'hex')) };
    };
    deps = { store, newSessionId: () => `session-${++sessions}`, now: () => NOW, purges, freshPsk };
    await store.putProfile(nosecProfile('replacing', 5685, { bootstrapServer: BS }));
    await store.putProfile(nosecProfile('forever', 5685, { bootstrapServer: { ...BS, accountTimeout: 0 } }));
    await store.putProfile(nosecProfile('no-bs', 5685));
    await store.putProfile(nosecProfile('no-bs-allowed', 5685, { allowNoBootstrapAccount: true }));
    await store.putProfile(nosecProfile('plain', 5685, { bootstrapServer: { uri: 'coap://bs.example:5683', instanceId: 0 }, allowSecretsOverNoSec: true }));
  });

  const requested = (endpoint: string, extra: Partial<BootstrapRequested> = {}) => bootstrapRequested({ endpoint, pskIdentity: `${endpoint}-bs`, ...extra });
  const ended = (endpoint: string, sessionId: string, extra: Partial<BootstrapEnded> = {}) => bootstrapEnded({ endpoint, sessionId, endedAt: '2026-11-23T12:00:02.500Z', ...extra });

  /** The Security writes that make a Bootstrap-Server account, by path. */
  const bootstrapAccounts = (plan: BootstrapPlan): string[] =>
    [...plan.writes, ...(plan.bootstrapServerWrite === undefined ? [] : [plan.bootstrapServerWrite])]
      .filter((write) => write.values[`${write.path}/1`] === true)
      .map((write) => write.path);

  it('a low key over DTLS: the plan writes a second Bootstrap-Server account with fresh credentials, recorded as pending', async () => {
    await store.putDevice(pskDevice('weak', 'replacing', WEAK_KEY));
    const { plan, sessionId } = plannedOf(await handleUplink(requested('weak'), deps));
    assert.deepEqual(bootstrapAccounts(plan).sort(), ['/0/0', '/0/2']);
    const fresh = plan.writes.find((write) => write.path === '/0/2')!;
    assert.equal(fresh.values['/0/2/12'], 0, 'the new account never times out');
    assert.equal(plan.bootstrapServerWrite?.values['/0/0/12'], 3600, 'the original keeps the profile timeout');
    const pending = store.lifecycles.get('weak')?.pendingAccount;
    assert.equal(pending?.identity, 'weak#bs-fresh1');
    assert.equal(pending?.originalIdentity, 'weak-bs');
    assert.equal(pending?.instanceId, 2);
    assert.equal(pending?.originalInstanceId, 0);
    assert.notEqual(sessionId, 'session-1', 'the session id carries the replacement tag');
    assert.ok(sessionId.length <= 64);
  });

  it('a high key is served as before: one Bootstrap-Server account, nothing pending', async () => {
    await store.putDevice(pskDevice('strong', 'replacing', STRONG_KEY));
    const { plan, sessionId } = plannedOf(await handleUplink(requested('strong'), deps));
    assert.deepEqual(bootstrapAccounts(plan), ['/0/0']);
    assert.equal(store.lifecycles.get('strong')?.pendingAccount, undefined);
    assert.equal(sessionId, 'session-1');
    assert.equal(minted, 0);
  });

  it('a key declared low at import is replaced even when it looks random', async () => {
    await store.putDevice(pskDevice('declared', 'replacing', STRONG_KEY, { bootstrapCredentials: { securityMode: 'psk', identity: 'declared-bs', secretKey: STRONG_KEY, keyOrigin: 'pin' } }));
    const { plan } = plannedOf(await handleUplink(requested('declared'), deps));
    assert.equal(bootstrapAccounts(plan).length, 2);
  });

  it('over NoSec nothing is replaced: a PSK device is refused as before, a NoSec one gets no fresh key in clear', async () => {
    await store.putDevice(pskDevice('weak', 'replacing', WEAK_KEY));
    const refused = await handleUplink(requested('weak', { transport: 'udp' }), deps);
    assert.equal(refused.type, 'bootstrap-rejected');
    assert.equal(refused.type === 'bootstrap-rejected' && refused.reason, 'insecure-transport');
    await store.putDevice({ ...device('open', 'plain') });
    const { plan } = plannedOf(await handleUplink(requested('open', { transport: 'udp', pskIdentity: undefined }), deps));
    assert.deepEqual(bootstrapAccounts(plan), ['/0/0']);
    assert.equal(minted, 0);
    assert.equal(store.lifecycles.get('weak')?.pendingAccount, undefined);
  });

  it('no bootstrapServer in the profile: refused with the reasons, unless allowNoBootstrapAccount, which the status then mentions', async () => {
    await store.putDevice(pskDevice('stuck', 'no-bs', WEAK_KEY));
    const answer = await handleUplink(requested('stuck'), deps);
    assert.equal(answer.type, 'bootstrap-rejected');
    if (answer.type !== 'bootstrap-rejected') return;
    assert.equal(answer.reason, 'invalid-configuration');
    assert.match(answer.detail, /low entropy .*IMEI.*bootstrapServer.*allowNoBootstrapAccount/);
    assert.ok(!answer.detail.includes(WEAK_KEY));
    assert.match((await store.getDevice('stuck'))?.status?.detail ?? '', /^invalid-configuration: the Bootstrap-Server account key is low entropy/);

    await store.putDevice(pskDevice('kept', 'no-bs-allowed', WEAK_KEY));
    const { plan, sessionId } = plannedOf(await handleUplink(requested('kept'), deps));
    assert.equal(plan.bootstrapServerWrite, undefined);
    assert.equal(minted, 0);
    await handleUplink(ended('kept', sessionId), deps);
    const status = (await store.getDevice('kept'))?.status;
    assert.equal(status?.outcome, 'success');
    assert.match(status?.detail ?? '', /low entropy .* not replaced: profile no-bs-allowed sets no bootstrapServer and allows a device without a Bootstrap-Server account/);
  });

  it('a Bootstrap-Pack cannot carry the replacement: 4.06, so the client falls back to a Bootstrap-Request', async () => {
    await store.putDevice(pskDevice('packer', 'replacing', WEAK_KEY));
    const answer = await handleUplink(requested('packer', { kind: 'bspack' }), deps);
    assert.equal(answer.type === 'bootstrap-rejected' && answer.reason, 'not-acceptable');
    assert.equal(store.lifecycles.get('packer')?.pendingAccount, undefined);
  });

  it('a failed session keeps the pending account, and the next attempt writes the same fresh credentials', async () => {
    await store.putDevice(pskDevice('weak', 'replacing', WEAK_KEY));
    const first = plannedOf(await handleUplink(requested('weak'), deps));
    const pending = store.lifecycles.get('weak')?.pendingAccount;
    await handleUplink(ended('weak', first.sessionId, { outcome: 'timeout' }), deps);
    assert.deepEqual(store.lifecycles.get('weak')?.pendingAccount, pending);
    assert.equal((await store.getDevice('weak'))?.bootstrapCredentials?.identity, 'weak-bs', 'not promoted');
    assert.deepEqual(purges.scheduled, []);

    const writes = store.lifecycleWrites;
    const second = plannedOf(await handleUplink(requested('weak', { requestId: 'r-2' }), deps));
    assert.deepEqual(second.plan.writes.find((write) => write.path === '/0/2'), first.plan.writes.find((write) => write.path === '/0/2'));
    assert.equal(minted, 1, 'no second key minted');
    assert.equal(store.lifecycleWrites, writes, 'the same pending record is not written again');
    assert.equal(second.sessionId.slice(-14), first.sessionId.slice(-14));
  });

  it('success promotes the fresh account, retires the original, and schedules its purge at finish + account timeout', async () => {
    await store.putDevice(pskDevice('weak', 'replacing', WEAK_KEY));
    const { sessionId } = plannedOf(await handleUplink(requested('weak'), deps));
    const pending = store.lifecycles.get('weak')!.pendingAccount!;
    await handleUplink(ended('weak', sessionId), deps);

    const promoted = (await store.getDevice('weak'))!;
    assert.deepEqual(promoted.bootstrapCredentials, { securityMode: 'psk', identity: pending.identity, secretKey: pending.secretKey, keyOrigin: 'random' });
    assert.deepEqual(
      promoted.retiringBootstrapCredentials?.map(({ identity, reason, retiredAt }) => ({ identity, reason, retiredAt })),
      [{ identity: 'weak-bs', reason: 'replaced', retiredAt: '2026-11-23T12:00:02.500Z' }],
    );
    assert.deepEqual(purges.scheduled, [
      {
        endpoint: 'weak',
        securityInstanceId: 0,
        pskIdentity: 'weak-bs',
        reason: 'replaced',
        dueAt: '2026-11-23T13:00:02.500Z',
        scheduledAt: NOW.toISOString(),
        bootstrapSessionId: sessionId,
      },
    ]);
    assert.deepEqual(purges.cancelled, []);
    // Kept until the new account's first session, which must know where the original is. No
    // securityInstances in this bootstrap-ended (a gateway from before it): the planned ids stand.
    assert.deepEqual(store.lifecycles.get('weak')?.pendingAccount, { ...pending, promotedBy: sessionId });
    assert.ok(store.lifecycles.get('weak')?.bootstrappedWith);

    // A redelivery changes nothing more.
    await handleUplink(ended('weak', sessionId), deps);
    assert.equal((await store.getDevice('weak'))?.retiringBootstrapCredentials?.length, 1);
  });

  it('without an account timeout the original keeps authenticating for a day', async () => {
    await store.putDevice(pskDevice('weak', 'forever', WEAK_KEY));
    const { sessionId } = plannedOf(await handleUplink(requested('weak'), deps));
    await handleUplink(ended('weak', sessionId), deps);
    assert.equal(purges.scheduled[0]?.reason, 'replaced');
    assert.equal(Date.parse(purges.scheduled[0]!.dueAt) - Date.parse('2026-11-23T12:00:02.500Z'), DEFAULT_REPLACED_ACCOUNT_GRACE_SECONDS * 1000);
  });

  it('a success of a session planned without the replacement (before it, or elsewhere) promotes nothing', async () => {
    await store.putDevice(pskDevice('weak', 'replacing', WEAK_KEY));
    plannedOf(await handleUplink(requested('weak'), deps));
    await handleUplink(ended('weak', 'server-initiated-1'), deps);
    assert.equal((await store.getDevice('weak'))?.bootstrapCredentials?.identity, 'weak-bs');
    assert.ok(store.lifecycles.get('weak')?.pendingAccount);
    assert.ok(purges.scheduled.every((purge) => purge.reason === 'account-timeout'));
  });

  it("the new account's first session deletes the original instance and rewrites the new account without a timeout; its success clears the record", async () => {
    await store.putDevice(pskDevice('weak', 'replacing', WEAK_KEY));
    const first = plannedOf(await handleUplink(requested('weak'), deps));
    await handleUplink(ended('weak', first.sessionId), deps);
    const pending = store.lifecycles.get('weak')!.pendingAccount!;

    // The original identity still authenticates, but gets nothing: it is the guessable one.
    const old = await handleUplink(requested('weak', { requestId: 'r-old' }), deps);
    assert.equal(old.type === 'bootstrap-rejected' && old.reason, 'identity-mismatch');
    assert.match(old.type === 'bootstrap-rejected' ? old.detail : '', /retiring/);

    const second = plannedOf(await handleUplink(requested('weak', { requestId: 'r-new', pskIdentity: pending.identity, receivedAt: '2026-11-23T12:10:00.000Z' }), deps));
    assert.deepEqual(second.plan.deletes, ['/0', '/1', '/0/0']);
    assert.equal(second.plan.bootstrapServerWrite?.path, '/0/2');
    assert.equal(second.plan.bootstrapServerWrite?.values['/0/2/12'], 0);
    assert.deepEqual(bootstrapAccounts(second.plan), ['/0/2'], 'only the new account is written');
    assert.equal(minted, 1);

    const atPromotion = purges.scheduled.splice(0);
    await handleUplink(ended('weak', second.sessionId, { startedAt: '2026-11-23T12:10:00.000Z', endedAt: '2026-11-23T12:10:01.000Z' }), deps);
    assert.equal(store.lifecycles.get('weak')?.pendingAccount, undefined);
    // The original's purge is scheduled again exactly as at promotion (same name, due time and
    // session), in case that never got through; the new account has none.
    assert.deepEqual(purges.scheduled, atPromotion);
    assert.deepEqual(purges.cancelled, [{ endpoint: 'weak', securityInstanceId: 2 }]);

    // From now on the device is an ordinary one with a high-entropy key.
    const third = plannedOf(await handleUplink(requested('weak', { requestId: 'r-3', pskIdentity: pending.identity, receivedAt: '2026-11-23T12:20:00.000Z' }), deps));
    assert.deepEqual(third.plan.deletes, ['/0', '/1']);
    assert.equal(minted, 1);
  });
});
