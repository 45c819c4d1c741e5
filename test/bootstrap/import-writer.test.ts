import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deviceEntrySchema, type DeviceEntry } from '../../shared/bootstrap/device.ts';
import { ImportSnapshotError, writeImport, type ImportWriteProgress } from '../../shared/bootstrap/import-writer.ts';
import { MemoryStore } from '../fixtures/memory-store.ts';

const KEY = '00112233445566778899aabbccddeeff';
const OLD_KEY = 'ffeeddccbbaa99887766554433221100';
const CHUNK = 4;

const entry = (endpoint: string, secretKey = KEY): DeviceEntry =>
  deviceEntrySchema.parse({ endpoint, profile: 'fleet', serverCredentials: { '101': { identity: endpoint, secretKey } } });
const fleet = (count: number): DeviceEntry[] => Array.from({ length: count }, (_, index) => entry(`ep-${index}`));

/** A store already holding ep-1 (an older configuration, and a recorded outcome) and `other`. */
async function storeWithHistory(): Promise<{ store: MemoryStore; before: Map<string, DeviceEntry> }> {
  const store = new MemoryStore();
  await store.putDevice(entry('ep-1', OLD_KEY));
  await store.recordStatus('ep-1', { sessionId: 's-1', outcome: 'success', startedAt: '2025-01-02T03:04:05.000Z', endedAt: '2025-01-02T03:04:06.000Z', kind: 'bs' });
  await store.putDevice(entry('other'));
  store.writes = 0;
  return { store, before: structuredClone(store.devices) };
}

function recordingProgress(): { progress: ImportWriteProgress; events: string[] } {
  const events: string[] = [];
  return { events, progress: { chunkWritten: (written) => events.push(`chunk ${written}`), stopped: (written) => events.push(`stopped ${written}`) } };
}

const connectionReset = (): Error => Object.assign(new Error('connection reset'), { name: 'TimeoutError' });

describe('writeImport', () => {
  it('writes every device a chunk at a time, reporting progress per chunk', async () => {
    const { store } = await storeWithHistory();
    const { progress, events } = recordingProgress();
    const report = await writeImport(store, fleet(10), { chunkSize: CHUNK, progress });
    assert.deepEqual(report, { written: 10, rejected: [], rolledBack: false });
    assert.deepEqual(events, ['chunk 4', 'chunk 8', 'chunk 10', 'stopped 10']);
    assert.equal(store.devices.get('ep-1')?.serverCredentials['101']?.secretKey, KEY);
    assert.equal(store.devices.get('ep-1')?.status?.sessionId, 's-1', 'a put keeps the recorded outcome');
    assert.equal(store.devices.size, 11);
  });

  it('rolls back every chunk when the store refuses a device, restoring previous versions', async () => {
    const { store, before } = await storeWithHistory();
    store.refuse.add('ep-9');
    const { progress, events } = recordingProgress();
    const report = await writeImport(store, fleet(12), { chunkSize: CHUNK, progress });
    assert.deepEqual(report, {
      written: 0,
      rejected: [{ row: 10, endpoint: 'ep-9', field: '(store)', reason: 'ProvisionedThroughputExceededException: slow down' }],
      rolledBack: true,
    });
    // Writing stopped in the third chunk, with three of its devices written.
    assert.deepEqual(events, ['chunk 4', 'chunk 8', 'stopped 11']);
    assert.deepEqual(store.devices, before, 'old configuration and recorded outcome back, new devices gone');
  });

  it('rolls back a store failure in the middle of a chunk, including what that chunk wrote', async () => {
    const { store, before } = await storeWithHistory();
    const written: string[] = [];
    store.fault = (call, endpoint) => {
      if (call !== 'putDevices') return;
      if (endpoint === 'ep-6') throw connectionReset();
      written.push(endpoint);
    };
    const report = await writeImport(store, fleet(12), { chunkSize: CHUNK });
    assert.deepEqual(report, { written: 0, rejected: [], rolledBack: true, storeError: 'TimeoutError: connection reset' });
    assert.deepEqual(written, ['ep-0', 'ep-1', 'ep-2', 'ep-3', 'ep-4', 'ep-5'], 'half the second chunk got through before the failure');
    assert.deepEqual(store.devices, before);
  });

  it('names, sorted, the devices the rollback could not restore, and counts them as written', async () => {
    const { store } = await storeWithHistory();
    store.fault = (call, endpoint) => {
      if (call === 'putDevices' && endpoint === 'ep-10') throw connectionReset();
      if (call === 'deleteDevice' && endpoint.endsWith('7')) throw new Error('gone');
      if (call === 'putDevice' && endpoint === 'ep-1') throw new Error('throttled');
    };
    const report = await writeImport(store, [...fleet(12), entry('ep-17')], { chunkSize: CHUNK, concurrency: 3 });
    assert.equal(report.rolledBack, true);
    assert.equal(report.storeError, 'TimeoutError: connection reset');
    assert.deepEqual(report.notRestored, ['ep-1', 'ep-7']);
    assert.equal(report.written, 2);
    assert.deepEqual([...store.devices.keys()].sort(), ['ep-1', 'ep-7', 'other']);
    assert.equal(store.devices.get('ep-1')?.serverCredentials['101']?.secretKey, KEY, 'ep-1 still holds the imported configuration');
    assert.ok(!JSON.stringify(report).includes(KEY));
  });

  it('writes nothing when it cannot read what the devices are now', async () => {
    const { store, before } = await storeWithHistory();
    store.fault = (call, endpoint) => {
      if (call === 'getDevice' && endpoint === 'ep-5') throw connectionReset();
    };
    await assert.rejects(writeImport(store, fleet(8), { chunkSize: CHUNK }), (error) => {
      assert.ok(error instanceof ImportSnapshotError);
      assert.equal(error.message, 'cannot read the stored devices before writing (TimeoutError: connection reset); nothing written');
      return true;
    });
    assert.equal(store.writes, 0);
    assert.deepEqual(store.devices, before);
  });

  it('does nothing for an empty import', async () => {
    const { store } = await storeWithHistory();
    const { progress, events } = recordingProgress();
    assert.deepEqual(await writeImport(store, [], { progress }), { written: 0, rejected: [], rolledBack: false });
    assert.deepEqual(events, ['stopped 0']);
    assert.equal(store.writes, 0);
  });
});
