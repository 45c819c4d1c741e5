import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { attachCommand, splitEvents, type IntakeFinder } from '../../cli/commands/attach.ts';
import type { StoreOpener } from '../../cli/data-dir.ts';
import { startAttachIntake } from '../../server/lifecycle/attach-intake.ts';
import { MemoryStore } from '../fixtures/memory-store.ts';
import { device as deviceEntry, nosecProfile } from '../e2e/fixtures.ts';
import { main } from '../../cli/main.ts';
import { InputError } from '../../cli/usage.ts';
import { openLocalStore } from '../../server/store/local-store.ts';

const DM_KEY = 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0';
const CARD_1 = '89340701234567890123';
const CARD_2 = '89340709876543210987';
const PROFILE = { name: 'fleet', servers: [{ shortServerId: 101, uri: 'coaps://dm.example.com:5684', securityMode: 'psk' }] };
const device = (endpoint: string, identities: Record<string, string>) => ({
  endpoint,
  profile: 'fleet',
  identities,
  serverCredentials: { '101': { identity: endpoint, secretKey: DM_KEY } },
});
const event = (eventId: string, identities: Record<string, string>, change: Record<string, unknown> = {}) => ({
  eventId,
  eventTime: '2026-11-23T10:00:00Z',
  carrier: 'example-mno',
  address: '192.0.2.10',
  port: 5683,
  ...identities,
  ...change,
});

describe('lwm2m-bs attach and device mark-bootstrap (in process, temporary data directory)', () => {
  let work = '';
  let dataDir = '';

  before(() => {
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
    work = mkdtempSync(join(tmpdir(), 'lwm2m-bs-attach-'));
    dataDir = join(work, 'data');
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  async function cli(args: string[], stdin = ''): Promise<{ status: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const status = await main(
      [...args, '--data-dir', dataDir],
      { stdout: (text) => (stdout += text), readStdin: async () => stdin },
      (text) => (stderr += text),
    );
    assert.ok(!`${stdout}${stderr}`.includes(DM_KEY), 'a key reached the output');
    return { status, stdout, stderr };
  }

  it('sets up a profile and two devices', async () => {
    assert.equal((await cli(['profile', 'put', '-'], JSON.stringify(PROFILE))).status, 0);
    assert.equal((await cli(['device', 'put', '-'], JSON.stringify(device('ep-1', { iccid: CARD_1 })))).status, 0);
    assert.equal((await cli(['device', 'put', '-'], JSON.stringify(device('ep-2', { imei: '356938035643809' })))).status, 0);
  });

  it('takes an array of events: marks, ignores a duplicate, reports the invalid and the unknown by index, exits 1', async () => {
    const file = join(work, 'events.json');
    writeFileSync(
      file,
      JSON.stringify([
        event('a-1', { iccid: CARD_1 }),
        event('a-2', { imei: '356938035643809' }, { address: '2001:db8::2', port: 56830 }),
        event('a-1', { iccid: CARD_1 }),
        event('a-3', {}, { port: 70000, eventTime: 'yesterday' }),
        event('a-4', { imsi: '001019999999999' }),
      ]),
    );
    const result = await cli(['attach', file]);
    assert.equal(result.status, 1);
    assert.equal(
      result.stdout,
      [
        '[0] a-1: ep-1 marked (never-bootstrapped); served at the next Bootstrap-Request',
        '[1] a-2: ep-2 marked (never-bootstrapped); served at the next Bootstrap-Request',
        '[2] a-1: ep-1 ignored-duplicate',
        '[4] a-4: no device has its iccid, imsi or imei',
        '',
      ].join('\n'),
    );
    const lines = result.stderr.split('\n');
    assert.match(lines[0]!, /^lwm2m-bs: \[3\] invalid \(3 problems\): /);
    for (const field of ['eventTime: ', 'port: ', '(event): at least one of imsi, iccid or imei']) assert.ok(lines[0]!.includes(field), lines[0]);
    assert.equal(lines[1], 'lwm2m-bs: attach: of 5 events, 1 invalid, 1 for no known device');

    const local = await openLocalStore({ dataDir });
    try {
      const record = await local.store.getLifecycle('ep-2');
      assert.deepEqual(record?.lastAttach, { eventId: 'a-2', eventTime: '2026-11-23T10:00:00Z', address: '2001:db8::2', port: 56830, carrier: 'example-mno' });
      assert.equal(record?.bootstrapNeeded?.reason, 'never-bootstrapped');
    } finally {
      await local.close();
    }
  });

  it('takes JSON Lines on stdin, naming a bad line, and prints --json reports', async () => {
    const stdin = [JSON.stringify(event('b-1', { iccid: CARD_1 }, { eventTime: '2026-11-23T09:00:00Z' })), '', '{"eventId": ', JSON.stringify(event('b-2', { iccid: CARD_2, imei: '356938035643809' }, { eventTime: '2026-11-23T11:00:00Z' }))].join('\n');
    const result = await cli(['attach', '-', '--json'], stdin);
    assert.equal(result.status, 1);
    const reports = JSON.parse(result.stdout) as { event: string; outcome: string; endpoint?: string; issues?: { field: string; message: string }[] }[];
    assert.deepEqual(
      reports.map((report) => [report.event, report.outcome, report.endpoint]),
      [
        ['line 1', 'ignored-stale', 'ep-1'],
        ['line 3', 'invalid', undefined],
        ['line 4', 'marked', 'ep-2'],
      ],
    );
    assert.match(reports[1]?.issues?.[0]?.message ?? '', /^not valid JSON/);
    assert.equal(result.stderr, 'lwm2m-bs: attach: of 3 events, 1 invalid\n');
  });

  it('a batch of valid events for known devices exits 0', async () => {
    const result = await cli(['attach', '-'], JSON.stringify(event('c-1', { iccid: CARD_1 }, { eventTime: '2026-11-23T12:00:00Z' })));
    assert.deepEqual(result, { status: 0, stdout: 'c-1: ep-1 marked (never-bootstrapped); served at the next Bootstrap-Request\n', stderr: '' });
  });

  it('device mark-bootstrap marks a device once, keeping the first reason; an unknown one is bad input', async () => {
    const local = await openLocalStore({ dataDir });
    try {
      // Bootstrapped since: the mark is cleared.
      await local.store.putLifecycle('ep-1', { recentEventIds: [], simChanges: [], bootstrappedWith: { profileFingerprint: '0'.repeat(32), at: '2026-11-23T12:30:00.000Z' } });
    } finally {
      await local.close();
    }
    assert.deepEqual(await cli(['device', 'mark-bootstrap', 'ep-1']), {
      status: 0,
      stdout: 'device ep-1 marked for bootstrap; served at its next Bootstrap-Request\n',
      stderr: '',
    });
    const again = await cli(['device', 'mark-bootstrap', 'ep-1', '--json']);
    assert.equal(again.status, 0);
    assert.deepEqual((JSON.parse(again.stdout) as { outcome: string; bootstrapNeeded: { reason: string } }).bootstrapNeeded.reason, 'operator');
    assert.equal((JSON.parse(again.stdout) as { outcome: string }).outcome, 'already-marked');
    assert.deepEqual(await cli(['device', 'mark-bootstrap', 'nobody']), { status: 1, stdout: '', stderr: 'lwm2m-bs: no device "nobody"\n' });
    assert.equal((await cli(['device', 'list'])).status, 0, 'the other device actions still work');
    assert.equal((await cli(['device', 'mark-bootstrap'])).status, 2);
  });

  it('refuses a broken document as a whole, and an empty one', () => {
    assert.throws(() => splitEvents('{\n  "eventId": "x",\n', 'events.json'), (error) => error instanceof InputError && /^events\.json is not valid JSON/.test(error.message));
    assert.throws(() => splitEvents('[{"eventId": 1},\n{', '-'), (error) => error instanceof InputError && /^stdin is not valid JSON/.test(error.message));
    assert.deepEqual(splitEvents('[]', 'x'), []);
  });

  it('an empty file holds no events', async () => {
    const result = await cli(['attach', '-'], '[]');
    assert.deepEqual(result, { status: 1, stdout: '', stderr: 'lwm2m-bs: stdin holds no events\n' });
  });
});

describe('lwm2m-bs attach with a running server announced (intake stubbed)', () => {
  const opened = (): { open: StoreOpener; store: MemoryStore } => {
    const store = new MemoryStore();
    return { store, open: async () => ({ store, close: async () => undefined }) };
  };
  const run = async (open: StoreOpener, findIntake: IntakeFinder, stdin: string) => {
    let stdout = '';
    let stderr = '';
    const io = { stdout: (text: string) => (stdout += text), stderr: (text: string) => (stderr += text), readStdin: async () => stdin };
    let error: unknown;
    try {
      await attachCommand(['-'], io, open, () => new Date('2026-11-23T12:00:00Z'), findIntake);
    } catch (caught) {
      error = caught;
    }
    return { stdout, stderr, error };
  };

  it('posts the valid events in order and prints the intake\'s results under their own labels', async () => {
    const { open, store } = opened();
    const seen: string[] = [];
    const intake = await startAttachIntake({
      port: 0,
      process: async (taken) => {
        seen.push(taken.eventId);
        return { outcome: 'initiated', endpoint: 'ep-x', reasons: ['never-bootstrapped'] };
      },
    });
    try {
      const stdin = JSON.stringify([event('p-1', { iccid: CARD_1 }), { eventId: 'broken' }, event('p-2', { iccid: CARD_2 })]);
      const result = await run(open, async () => intake.url, stdin);
      assert.deepEqual(seen, ['p-1', 'p-2'], 'the invalid event is reported here and never sent');
      assert.equal(result.stdout, '[0] p-1: ep-x initiated (never-bootstrapped); bootstrap pushed through the gateway\n[2] p-2: ep-x initiated (never-bootstrapped); bootstrap pushed through the gateway\n');
      assert.match(result.stderr, /^lwm2m-bs: \[1\] invalid/);
      assert.ok(result.error instanceof InputError);
      assert.equal(store.lifecycleWrites, 0, 'the store of this process was not written');
    } finally {
      await intake.close();
    }
  });

  it('takes the events itself when the announced intake does not answer', async () => {
    const { open, store } = opened();
    await store.putProfile(nosecProfile('fleet', 5685));
    await store.putDevice({ ...deviceEntry('ep-9', 'fleet'), identities: { iccid: CARD_1 } });
    const closed = await startAttachIntake({ port: 0, process: async () => ({ outcome: 'recorded' }) });
    await closed.close();
    const result = await run(open, async () => closed.url, JSON.stringify(event('q-1', { iccid: CARD_1 })));
    assert.equal(result.error, undefined, String(result.error));
    assert.equal(result.stdout, 'q-1: ep-9 marked (never-bootstrapped); served at the next Bootstrap-Request\n');
  });
});
