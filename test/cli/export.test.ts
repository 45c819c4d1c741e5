import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exportCommand } from '../../cli/commands/export.ts';
import type { StoreOpener } from '../../cli/data-dir.ts';
import { deviceDirectoryName, writeDeviceDirectories, type DeviceSource } from '../../cli/factory-output.ts';
import { InputError, UsageError } from '../../cli/usage.ts';
import { openLocalStore, type LocalStore } from '../../server/store/local-store.ts';
import { deviceEntrySchema } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { treeFromJsonView } from '../../shared/content/json-view.ts';
import { decodeContent } from '../../shared/content/registry.ts';
import { flattenTree, type PathValue } from '../../shared/content/tree.ts';
import { formatPath, parsePath, ROOT_PATH } from '../../shared/lwm2m/path.ts';

// `lwm2m-bs export factory` in process against a real data directory (the embedded dynalite),
// and once through the real bin: what lands on disk, with which modes, and that a refusal
// leaves the disk as it was.

const BS_KEY = '0102030405060708090a0b0c0d0e0f10';
const DM_KEY = 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0';
const PROFILE = profileSchema.parse({
  name: 'fleet',
  servers: [{ shortServerId: 101, uri: 'coaps://dm.example.com:5684', securityMode: 'psk' }],
  bootstrapServer: { uri: 'coaps://bs.example.com:5684' },
});

function deviceDocument(endpoint: string, profile: string | undefined = 'fleet'): Record<string, unknown> {
  return {
    endpoint,
    ...(profile !== undefined && { profile }),
    bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey: BS_KEY },
    serverCredentials: { '101': { identity: endpoint, secretKey: DM_KEY } },
  };
}

const hasKey = (bytes: Uint8Array): boolean => {
  const text = `${Buffer.from(bytes).toString('hex')} ${Buffer.from(bytes).toString('latin1')}`;
  return text.includes(BS_KEY) || text.includes(DM_KEY);
};

/** Every path under a directory, relative, so a test can see that nothing else appeared. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

const asMap = (values: readonly PathValue[]): Map<string, unknown> => new Map(values.map(({ path, value }) => [formatPath(path), value]));

describe('lwm2m-bs export factory', () => {
  let work = '';
  let local: LocalStore;
  const open: StoreOpener = async () => ({ store: local.store, close: async () => undefined });

  before(async () => {
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
    work = mkdtempSync(join(tmpdir(), 'lwm2m-bs-export-'));
    local = await openLocalStore({ dataDir: join(work, 'data') });
    await local.store.putProfile(PROFILE);
    for (const endpoint of ['ep-1', 'ep-2', '../escape', '/etc/passwd', '.hidden', '..', 'a:b%41']) await local.store.putDevice(deviceEntrySchema.parse(deviceDocument(endpoint)));
    // Stored past the checks (as an older version might have): its server has no key to bootstrap with.
    await local.store.putDevice(deviceEntrySchema.parse({ endpoint: 'keyless', profile: 'fleet', bootstrapCredentials: { securityMode: 'psk', identity: 'keyless-bs', secretKey: BS_KEY } }));
    await local.store.putDevice(deviceEntrySchema.parse(deviceDocument('orphan', 'gone')));
  });
  after(async () => {
    await local.close();
    rmSync(work, { recursive: true, force: true });
  });

  async function run(args: string[]): Promise<{ stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    await exportCommand(['factory', ...args], { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), readStdin: async () => '', stderrIsTTY: false }, open);
    return { stdout, stderr };
  }
  async function refuse(args: string[]): Promise<string> {
    let message = '';
    await assert.rejects(run(args), (error) => {
      assert.ok(error instanceof InputError, String(error));
      message = error.message;
      return true;
    });
    assert.ok(!message.includes(BS_KEY) && !message.includes(DM_KEY), 'no key in an error');
    return message;
  }
  const file = (name: string, text: string): string => {
    writeFileSync(join(work, name), text);
    return join(work, name);
  };

  it('writes SenML-CBOR, TLV per object and JSON owner-only, without keys unless asked', async () => {
    const out = join(work, 'plain');
    const { stdout, stderr } = await run(['ep-1', '--out', out]);
    assert.equal(stderr, '');
    assert.equal(stdout, [
      `ep-1 -> ${join(out, 'ep-1')}: bootstrap.senml.cbor, object-0-security.tlv, object-1-server.tlv, bootstrap.json; secrets left out: /0/1/5, /0/0/5`,
      `exported 1 device to ${out}; 2 secret resources left out (--include-keys puts them in)`,
      '',
    ].join('\n'));
    const dir = join(out, 'ep-1');
    assert.equal(statSync(out).mode & 0o777, 0o700);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(dir).sort(), ['bootstrap.json', 'bootstrap.senml.cbor', 'object-0-security.tlv', 'object-1-server.tlv']);
    for (const name of readdirSync(dir)) {
      assert.equal(statSync(join(dir, name)).mode & 0o777, 0o600, name);
      assert.ok(!hasKey(readFileSync(join(dir, name))), `${name} holds no key`);
    }

    // The SenML-CBOR holds the very values of the JSON document, and the TLV files the same resources.
    const document = JSON.parse(readFileSync(join(dir, 'bootstrap.json'), 'utf8')) as { keysIncluded: boolean; omittedSecrets: string[]; instances: Record<string, Record<string, unknown>> };
    assert.equal(document.keysIncluded, false);
    assert.deepEqual(document.omittedSecrets, ['/0/1/5', '/0/0/5']);
    const fromJson = asMap(Object.entries(document.instances).flatMap(([path, values]) => flattenTree(treeFromJsonView(values, parsePath(path)))));
    const senml = asMap(flattenTree(decodeContent(ContentFormat.SENML_CBOR, readFileSync(join(dir, 'bootstrap.senml.cbor')), ROOT_PATH)));
    assert.deepEqual(senml, fromJson);
    assert.deepEqual(senml.get('/0/0/0'), { type: 'string', value: 'coaps://bs.example.com:5684' });
    assert.deepEqual(senml.get('/0/1/3'), { type: 'opaque', value: new Uint8Array(Buffer.from('ep-1')) });
    assert.equal(senml.has('/0/1/5'), false);
    const tlv = [0, 1].flatMap((objectId) => {
      const name = objectId === 0 ? 'object-0-security.tlv' : 'object-1-server.tlv';
      return flattenTree(decodeContent(ContentFormat.TLV, readFileSync(join(dir, name)), { objectId })).map(({ path }) => formatPath(path));
    });
    assert.deepEqual(tlv.sort(), [...senml.keys()].sort());
  });

  it('puts the keys in with --include-keys, warning on stderr', async () => {
    const out = join(work, 'keys');
    const { stdout, stderr } = await run(['ep-1', 'ep-2', '--out', out, '--include-keys', '--json']);
    assert.equal(stderr, 'lwm2m-bs: warning: the exported files hold secret keys; keep them owner-only and delete them once loaded\n');
    const report = JSON.parse(stdout) as { keysIncluded: boolean; devices: { endpoint: string; omittedSecrets: string[] }[] };
    assert.equal(report.keysIncluded, true);
    assert.deepEqual(report.devices.map((device) => [device.endpoint, device.omittedSecrets]), [['ep-1', []], ['ep-2', []]]);
    const senml = asMap(flattenTree(decodeContent(ContentFormat.SENML_CBOR, readFileSync(join(out, 'ep-2', 'bootstrap.senml.cbor')), ROOT_PATH)));
    assert.deepEqual(senml.get('/0/0/5'), { type: 'opaque', value: new Uint8Array(Buffer.from(BS_KEY, 'hex')) });
    assert.deepEqual(senml.get('/0/1/5'), { type: 'opaque', value: new Uint8Array(Buffer.from(DM_KEY, 'hex')) });
    assert.ok(hasKey(readFileSync(join(out, 'ep-2', 'object-0-security.tlv'))));
    assert.match(readFileSync(join(out, 'ep-2', 'bootstrap.json'), 'utf8'), new RegExp(DM_KEY));
  });

  it('keeps every endpoint name inside the output directory', async () => {
    assert.equal(deviceDirectoryName('../escape'), '%2E.%2Fescape');
    assert.equal(deviceDirectoryName('..'), '%2E.');
    assert.equal(deviceDirectoryName('.hidden'), '%2Ehidden');
    assert.equal(deviceDirectoryName('a:b%41'), 'a%3Ab%2541');
    assert.equal(deviceDirectoryName('/etc/passwd'), '%2Fetc%2Fpasswd');
    const parent = join(work, 'escape-parent');
    mkdirSync(parent);
    const out = join(parent, 'out');
    await run(['../escape', '/etc/passwd', '.hidden', '..', 'a:b%41', '--out', out]);
    assert.deepEqual(readdirSync(parent), ['out'], 'nothing beside the output directory');
    assert.deepEqual(readdirSync(out).sort(), ['%2E.', '%2E.%2Fescape', '%2Ehidden', '%2Fetc%2Fpasswd', 'a%3Ab%2541']);
    for (const name of readdirSync(out)) assert.equal(readdirSync(join(out, name)).length, 4, name);
    const document = JSON.parse(readFileSync(join(out, '%2E.%2Fescape', 'bootstrap.json'), 'utf8')) as { endpoint: string };
    assert.equal(document.endpoint, '../escape');
  });

  it('writes nothing when a device is unknown, has no profile or would not bootstrap', async () => {
    const out = join(work, 'refused');
    assert.equal(await refuse(['ep-1', 'nobody', 'ep-2', '--out', out]), 'no device "nobody"; nothing written');
    assert.equal(await refuse(['ep-1', 'orphan', '--out', out]), 'device orphan: no profile "gone"; nothing written');
    assert.match(await refuse(['ep-1', 'keyless', '--out', out]), /^device keyless would not bootstrap \(\d+ problems?\): device\.serverCredentials\.101[^;]*: .*; nothing written$/);
    assert.equal(existsSync(out), false);

    // An existing output directory keeps exactly what it had.
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'x');
    await refuse(['ep-2', 'keyless', '--out', out]);
    assert.deepEqual(tree(out), ['keep.txt']);
  });

  it('refuses to replace a device directory without --force, and replaces it with', async () => {
    const out = join(work, 'again');
    await run(['ep-1', '--out', out]);
    writeFileSync(join(out, 'ep-1', 'stale.txt'), 'old');
    assert.equal(await refuse(['ep-2', 'ep-1', '--out', out]), `${join(out, 'ep-1')} already exists (--force replaces it); nothing written`);
    assert.deepEqual(tree(out), ['ep-1', 'ep-1/bootstrap.json', 'ep-1/bootstrap.senml.cbor', 'ep-1/object-0-security.tlv', 'ep-1/object-1-server.tlv', 'ep-1/stale.txt']);
    await run(['ep-2', 'ep-1', '--out', out, '--force']);
    assert.equal(existsSync(join(out, 'ep-1', 'stale.txt')), false);
    assert.deepEqual(readdirSync(out).sort(), ['ep-1', 'ep-2'], 'no staging directory left behind');
  });

  it('exports a production batch from a devices file, not stored, validated whole first', async () => {
    const lines = Array.from({ length: 150 }, (_, index) => JSON.stringify(deviceDocument(`batch-${index}`, undefined)));
    const batch = file('batch.jsonl', `${lines.join('\n')}\n`);
    const out = join(work, 'batch');
    const { stdout, stderr } = await run(['--profile', 'fleet', '--devices', batch, '--out', out]);
    assert.equal(readdirSync(out).length, 150);
    assert.equal(stdout.split('\n').filter((line) => line.startsWith('batch-')).length, 150);
    assert.match(stdout, /exported 150 devices to .*; 300 secret resources left out/);
    assert.equal(stderr, 'lwm2m-bs: wrote 100 of 150 devices\nlwm2m-bs: wrote 150 of 150 devices\n');
    assert.equal(await local.store.getDevice('batch-0'), undefined, 'the batch is not stored');

    // A bad row anywhere: its line and field, and nothing written.
    const badOut = join(work, 'bad-batch');
    const bad = file('bad.jsonl', [lines[0], JSON.stringify({ ...deviceDocument('batch-x', undefined), serverCredentials: { '101': { identity: 'x', secretKey: 'abc' } } }), lines[2]].join('\n'));
    assert.match(await refuse(['--profile', 'fleet', '--devices', bad, '--out', badOut]), /^.*bad\.jsonl: 1 of 3 rows rejected: line 2 \(batch-x\) serverCredentials\.101\.secretKey: .*; nothing written$/);
    const otherProfile = file('other.jsonl', [lines[0], JSON.stringify(deviceDocument('batch-y', 'other'))].join('\n'));
    assert.match(await refuse(['--profile', 'fleet', '--devices', otherProfile, '--out', badOut]), /line 2 \(batch-y\) profile: names profile "other"; the export is for "fleet"/);
    const csv = file('bad.csv', 'endpoint,profile,bootstrap_mode,bootstrap_identity,bootstrap_key,server.101.identity,server.101.key\nc-1,,psk,c-1-bs,' + `${BS_KEY},c-1,${DM_KEY}\nc-2,,psk,c-1-bs,${BS_KEY},c-2,${DM_KEY}\n`);
    assert.match(await refuse(['--profile', 'fleet', '--devices', csv, '--out', badOut]), /line 3 \(c-2\) bootstrap_identity: same bootstrap PSK identity as line 2/);
    assert.equal(await refuse(['--profile', 'nope', '--devices', batch, '--out', badOut]), 'no profile "nope"');
    assert.equal(existsSync(badOut), false);
  });

  it('refuses wrong usage', async () => {
    await assert.rejects(exportCommand([], { stdout: () => undefined, readStdin: async () => '' }, open), UsageError);
    await assert.rejects(run(['ep-1']), /needs --out/);
    await assert.rejects(run(['ep-1', '--devices', 'x.csv', '--out', 'x']), /not both/);
    await assert.rejects(run(['ep-1', '--profile', 'fleet', '--out', 'x']), /go with --devices/);
  });

  it('takes back every directory it wrote or replaced when a write fails midway', async () => {
    const out = join(work, 'midway');
    await run(['ep-1', '--out', out]);
    const before = tree(out);
    const original = readFileSync(join(out, 'ep-1', 'bootstrap.json'));
    const good = (endpoint: string): DeviceSource => ({
      endpoint,
      files: () => ({ endpoint, keysIncluded: false, omittedSecrets: [], warnings: [], files: [{ name: 'x.bin', mediaType: 'application/octet-stream', bytes: new Uint8Array([1]) }] }),
    });
    const failing: DeviceSource = { endpoint: 'boom', files: () => ({ ...good('boom').files(), files: [{ name: '../evil', mediaType: 'text/plain', bytes: new Uint8Array() }] }) };
    await assert.rejects(writeDeviceDirectories(out, [good('ep-1'), good('new'), failing], { force: true }), /refusing the file name/);
    assert.deepEqual(tree(out), before);
    assert.deepEqual(readFileSync(join(out, 'ep-1', 'bootstrap.json')), original);

    const fresh = join(work, 'fresh', 'deep');
    await assert.rejects(writeDeviceDirectories(fresh, [good('a'), { endpoint: 'b', files: () => { throw new Error('disk full'); } }], { force: false }), /disk full/);
    assert.equal(existsSync(join(work, 'fresh')), false, 'the directories this run made are gone');
  });

  it('runs from the real bin: exit 0 with the files, exit 1 and one line on a refusal', () => {
    const bin = fileURLToPath(new URL('../../cli/bin.mjs', import.meta.url));
    const out = join(work, 'bin-out');
    const env = { ...process.env, LWM2M_BS_DATA_DIR: join(work, 'bin-data') };
    const setup = spawnSync(process.execPath, [bin, 'profile', 'put', '-'], { encoding: 'utf8', input: JSON.stringify(PROFILE), env });
    assert.equal(setup.status, 0, setup.stderr);
    const refused = spawnSync(process.execPath, [bin, 'export', 'factory', 'nobody', '--out', out], { encoding: 'utf8', env });
    assert.deepEqual([refused.status, refused.stdout, refused.stderr], [1, '', 'lwm2m-bs: no device "nobody"; nothing written\n']);
    assert.equal(existsSync(out), false);
    const batch = file('bin.json', JSON.stringify([deviceDocument('bin-1')]));
    const done = spawnSync(process.execPath, [bin, 'export', 'factory', '--devices', batch, '--out', out, '--include-keys'], { encoding: 'utf8', env });
    assert.equal(done.status, 0, done.stderr);
    assert.match(done.stderr, /^lwm2m-bs: warning: the exported files hold secret keys/);
    assert.equal(statSync(join(out, 'bin-1', 'bootstrap.senml.cbor')).mode & 0o777, 0o600);
  });
});
