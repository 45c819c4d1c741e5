import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { deviceCommand } from '../../cli/commands/device.ts';
import { importCommand, type ImportReport } from '../../cli/commands/import.ts';
import { profileCommand } from '../../cli/commands/profile.ts';
import { statusCommand } from '../../cli/commands/status.ts';
import { resolveDataDir, type StoreOpener } from '../../cli/data-dir.ts';
import { InputError, UsageError } from '../../cli/usage.ts';
import { openLocalStore } from '../../server/store/local-store.ts';
import { MemoryStore } from '../fixtures/memory-store.ts';

const BS_KEY = '0102030405060708090a0b0c0d0e0f10';
const DM_KEY = 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0';
const SECRETS = [BS_KEY, DM_KEY];
/** What import adds when two rows share the fixture's patterned BS_KEY (issue 5, entropy policy). */
const lowEntropyLines = (first: string, second: string): string =>
  '2 devices with a low-entropy bootstrap key, to be replaced at their next bootstrap (--refuse-low-entropy refuses them):\n' +
  `  line 2      ${first.padEnd(25)}repeated-pattern, shared-key\n` +
  `  line 3      ${second.padEnd(25)}repeated-pattern, shared-key\n`;
const LOW_ENTROPY_EP1_EP2 = lowEntropyLines('ep-1', 'ep-2');
const LOW_ENTROPY_EP2_EP3 = lowEntropyLines('ep-2', 'ep-3');

const PROFILE = { name: 'fleet', description: 'PSK fleet', servers: [{ shortServerId: 101, uri: 'coaps://dm.example.com:5684', securityMode: 'psk' }] };

function deviceDocument(endpoint: string, profile = 'fleet'): object {
  return {
    endpoint,
    profile,
    bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey: BS_KEY },
    serverCredentials: { '101': { identity: endpoint, secretKey: DM_KEY } },
  };
}

const CSV_HEADER = 'endpoint,profile,imsi,bootstrap_mode,bootstrap_identity,bootstrap_key,server.101.identity,server.101.key';
const csvRow = (endpoint: string, bsIdentity = `${endpoint}-bs`): string => `${endpoint},fleet,,psk,${bsIdentity},${BS_KEY},${endpoint},${DM_KEY}`;

type Command = (args: string[], io: Parameters<typeof importCommand>[1], open: StoreOpener) => Promise<void>;

/** The commands in-process against the memory store, collecting what they print. */
class Operator {
  readonly store = new MemoryStore();
  stdout = '';
  stderr = '';
  readonly #open: StoreOpener = async () => ({ store: this.store, close: async () => undefined });

  async run(command: Command, args: string[], stdin = ''): Promise<string> {
    const before = this.stdout.length;
    await command(args, { stdout: (text) => (this.stdout += text), stderr: (text) => (this.stderr += text), readStdin: async () => stdin, stderrIsTTY: false }, this.#open);
    return this.stdout.slice(before);
  }

  /** Runs a command that must fail with bad input; returns the message main would print. */
  async refuse(command: Command, args: string[], stdin = ''): Promise<string> {
    let message = '';
    await assert.rejects(this.run(command, args, stdin), (error) => {
      assert.ok(error instanceof InputError, String(error));
      message = error.message;
      return true;
    });
    return message;
  }

  assertNoSecrets(): void {
    for (const secret of SECRETS) assert.ok(!`${this.stdout}${this.stderr}`.includes(secret), 'a secret key reached the output');
  }
}

async function withProfile(): Promise<Operator> {
  const operator = new Operator();
  await operator.run(profileCommand, ['put', '-'], JSON.stringify(PROFILE));
  return operator;
}

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lwm2m-bs-admin-'));
  tempDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('profile commands', () => {
  it('puts, gets, lists and deletes a profile', async () => {
    const operator = await withProfile();
    assert.match(operator.stdout, /^profile fleet stored \(101 coaps:\/\/dm\.example\.com:5684 psk\)\n$/);
    const got = JSON.parse(await operator.run(profileCommand, ['get', 'fleet'])) as { servers: { lifetime: number }[] };
    assert.equal(got.servers[0]?.lifetime, 86400, 'defaults are filled in');
    assert.match(await operator.run(profileCommand, ['list']), /^fleet +101 coaps:\/\/dm\.example\.com:5684 psk {2}PSK fleet\n$/);
    assert.deepEqual((JSON.parse(await operator.run(profileCommand, ['list', '--json'])) as { name: string }[]).map((profile) => profile.name), ['fleet']);
    await operator.run(profileCommand, ['delete', 'fleet']);
    assert.equal(operator.store.profiles.size, 0);
    assert.equal(await operator.refuse(profileCommand, ['delete', 'fleet']), 'no profile "fleet"');
    assert.equal(await operator.refuse(profileCommand, ['get', 'fleet']), 'no profile "fleet"');
  });

  it('lists every schema problem with its field, and stores nothing', async () => {
    const operator = new Operator();
    const bad = { name: 'bad name', servers: [{ shortServerId: 0, uri: 'coap://x', lifetime: -1, colour: 'red' }] };
    const message = await operator.refuse(profileCommand, ['put', '-'], JSON.stringify(bad));
    assert.match(message, /^invalid profile \(4 problems\): /);
    for (const field of ['name', 'servers[0].shortServerId', 'servers[0].lifetime', 'servers[0].colour']) assert.ok(message.includes(`${field}: `), message);
    assert.equal(operator.store.profiles.size, 0);
  });

  it('refuses what the configuration checker finds', async () => {
    const operator = new Operator();
    const profile = { name: 'shared', servers: [{ shortServerId: 101, uri: 'coaps://dm.example.com', securityMode: 'psk', credentialSource: 'profile', credentials: { identity: 'fleet', secretKey: '0011' } }] };
    const message = await operator.refuse(profileCommand, ['put', '-'], JSON.stringify(profile));
    assert.match(message, /servers\[0\]\.credentials\.secretKey: is 2 bytes/);
    assert.ok(!message.includes('0011'));
  });

  it('hides fleet-wide secret keys unless asked', async () => {
    const operator = new Operator();
    const profile = { name: 'shared', servers: [{ shortServerId: 101, uri: 'coaps://dm.example.com', securityMode: 'psk', credentialSource: 'profile', credentials: { identity: 'fleet', secretKey: DM_KEY } }] };
    await operator.run(profileCommand, ['put', '-'], JSON.stringify(profile));
    assert.match(await operator.run(profileCommand, ['get', 'shared']), /"secretKey": "\(hidden: 16 bytes\)"/);
    await operator.run(profileCommand, ['list', '--json']);
    operator.assertNoSecrets();
    assert.ok((await operator.run(profileCommand, ['get', 'shared', '--show-secrets'])).includes(DM_KEY));
  });

  it('treats wrong words as usage errors', async () => {
    const operator = new Operator();
    await assert.rejects(operator.run(profileCommand, []), UsageError);
    await assert.rejects(operator.run(profileCommand, ['frob']), UsageError);
    await assert.rejects(operator.run(profileCommand, ['get']), UsageError);
    await assert.rejects(operator.run(profileCommand, ['list', '--bogus']), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
  });
});

describe('device commands', () => {
  it('puts a device, hides its keys in get and list, and shows them with --show-secrets', async () => {
    const operator = await withProfile();
    assert.equal(await operator.run(deviceCommand, ['put', '-'], JSON.stringify(deviceDocument('ep-1'))), 'device ep-1 stored (profile fleet)\n');
    const shown = JSON.parse(await operator.run(deviceCommand, ['get', 'ep-1'])) as { bootstrapCredentials: { secretKey: string; identity: string; keyFingerprint?: string } };
    // The fingerprint `device put` took is shown: without the pepper it tells nothing about the key.
    const { keyFingerprint, ...credentials } = shown.bootstrapCredentials;
    assert.match(keyFingerprint ?? '', /^[0-9a-f]{64}$/);
    assert.deepEqual(credentials, { securityMode: 'psk', identity: 'ep-1-bs', secretKey: '(hidden: 16 bytes)' });
    await operator.run(deviceCommand, ['list']);
    await operator.run(deviceCommand, ['list', '--json']);
    operator.assertNoSecrets();
    const secret = await operator.run(deviceCommand, ['get', 'ep-1', '--show-secrets']);
    assert.ok(secret.includes(BS_KEY) && secret.includes(DM_KEY));
  });

  it('refuses a device whose profile does not exist, or whose configuration does not check out', async () => {
    const operator = await withProfile();
    assert.match(await operator.refuse(deviceCommand, ['put', '-'], JSON.stringify(deviceDocument('ep-1', 'nope'))), /ep-1: no profile "nope"/);
    const keyless = { endpoint: 'ep-2', profile: 'fleet' };
    assert.match(await operator.refuse(deviceCommand, ['put', '-'], JSON.stringify(keyless)), /device\.serverCredentials\.101: missing: security mode psk/);
    assert.match(await operator.refuse(deviceCommand, ['put', '-'], '{"endpoint":'), /^stdin is not valid JSON/);
    assert.equal(operator.store.writes, 0);
  });

  it('refuses a bootstrap PSK identity another device holds, but lets a device be put again', async () => {
    const operator = await withProfile();
    await operator.run(deviceCommand, ['put', '-'], JSON.stringify(deviceDocument('ep-1')));
    await operator.run(deviceCommand, ['put', '-'], JSON.stringify(deviceDocument('ep-1')));
    const thief = { ...deviceDocument('ep-2'), bootstrapCredentials: { securityMode: 'psk', identity: 'ep-1-bs', secretKey: BS_KEY } };
    assert.match(await operator.refuse(deviceCommand, ['put', '-'], JSON.stringify(thief)), /already the PSK identity of device ep-1/);
  });

  it('lists across pages, filters by profile, and prints a JSON array', async () => {
    const operator = await withProfile();
    await operator.run(profileCommand, ['put', '-'], JSON.stringify({ ...PROFILE, name: 'other' }));
    for (let index = 1; index <= 5; index += 1) await operator.run(deviceCommand, ['put', '-'], JSON.stringify(deviceDocument(`ep-${index}`, index % 2 === 0 ? 'other' : 'fleet')));
    const listed = (await operator.run(deviceCommand, ['list', '--profile', 'fleet'])).trim().split('\n');
    assert.deepEqual(listed.map((line) => line.split(/ +/)[0]), ['ep-1', 'ep-3', 'ep-5']);
    assert.match(listed[0]!, /never bootstrapped$/);
    const all = JSON.parse(await operator.run(deviceCommand, ['list', '--json'])) as { endpoint: string }[];
    assert.equal(all.length, 5);
    assert.deepEqual(JSON.parse(await operator.run(deviceCommand, ['list', '--json', '--profile', 'none'])), []);
    await assert.rejects(operator.run(deviceCommand, ['get', 'ep-1', '--profile', 'fleet']), UsageError);
  });

  it('deletes a device and says when there is none', async () => {
    const operator = await withProfile();
    await operator.run(deviceCommand, ['put', '-'], JSON.stringify(deviceDocument('ep-1')));
    assert.deepEqual(JSON.parse(await operator.run(deviceCommand, ['delete', 'ep-1', '--json'])), { deleted: 'device', endpoint: 'ep-1' });
    assert.equal(await operator.refuse(deviceCommand, ['delete', 'ep-1']), 'no device "ep-1"');
    assert.equal(await operator.refuse(deviceCommand, ['get', 'ep-1']), 'no device "ep-1"');
  });
});

describe('import', () => {
  it('writes nothing when one row is bad, and reports every bad row without key values', async () => {
    const operator = await withProfile();
    const dir = tempDir();
    const file = join(dir, 'fleet.csv');
    const reportFile = join(dir, 'report.json');
    writeFileSync(file, [CSV_HEADER, csvRow('ep-1'), csvRow('ep-2', 'ep-1-bs'), csvRow('ep-1'), 'ep-4,nope,,,,,,', csvRow('ep-5').replace(BS_KEY, `${BS_KEY}0`), ''].join('\n'));
    const message = await operator.refuse(importCommand, [file, '--report', reportFile]);
    assert.equal(message, 'import refused: 4 of 5 rows rejected; nothing written');
    assert.equal(operator.store.writes, 0);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as ImportReport;
    assert.deepEqual(
      report.rejected.map((rejection) => [rejection.line, rejection.endpoint, rejection.field]),
      [
        [3, 'ep-2', 'bootstrap_identity'],
        [4, 'ep-1', 'endpoint'],
        [4, 'ep-1', 'bootstrap_identity'],
        [5, 'ep-4', 'profile'],
        [6, 'ep-5', 'bootstrap_key'],
      ],
    );
    assert.match(operator.stdout, /^5 problems in 4 rows:\n {2}line 3 +ep-2 +bootstrap_identity: same bootstrap PSK identity as line 2/m);
    operator.assertNoSecrets();
    assert.ok(!SECRETS.some((secret) => readFileSync(reportFile, 'utf8').includes(secret)));
  });

  it('imports CSV, JSON Lines and a JSON array; --dry-run writes nothing', async () => {
    const operator = await withProfile();
    const dir = tempDir();
    const csv = join(dir, 'a.csv');
    writeFileSync(csv, `\ufeff${CSV_HEADER}\r\n${csvRow('ep-1')}\r\n"ep-2",fleet,001010000000002,psk,ep-2-bs,${BS_KEY},ep-2,${DM_KEY}\r\n`);
    // The fixture gives both rows one key, patterned: the import names them, without their keys.
    assert.equal(await operator.run(importCommand, [csv, '--dry-run']), '2 devices valid; nothing written (--dry-run)\n' + LOW_ENTROPY_EP1_EP2);
    assert.equal(operator.store.writes, 0);
    assert.equal(await operator.run(importCommand, [csv]), `imported 2 devices from ${csv}\n` + LOW_ENTROPY_EP1_EP2);
    assert.equal(operator.store.devices.get('ep-2')?.identities.imsi, '001010000000002');

    const jsonl = join(dir, 'b.jsonl');
    writeFileSync(jsonl, `${JSON.stringify(deviceDocument('ep-3'))}\n\n${JSON.stringify(deviceDocument('ep-4'))}\n`);
    const report = JSON.parse(await operator.run(importCommand, [jsonl, '--json'])) as ImportReport;
    assert.deepEqual({ rows: report.rows, written: report.written, rejected: report.rejected }, { rows: 2, written: 2, rejected: [] });

    const json = JSON.stringify([deviceDocument('ep-5'), deviceDocument('ep-6')]);
    assert.match(await operator.run(importCommand, ['-', '--format', 'json'], json), /^imported 2 devices/);
    assert.equal(operator.store.devices.size, 6);
    assert.equal(operator.store.devices.get('ep-6')?.serverCredentials['101']?.secretKey, DM_KEY);
    operator.assertNoSecrets();
  });

  it('refuses files it cannot read as a whole, naming the line', async () => {
    const operator = await withProfile();
    const dir = tempDir();
    const broken = join(dir, 'broken.csv');
    writeFileSync(broken, `${CSV_HEADER}\n${csvRow('ep-1')}\nep-2,"fleet,${BS_KEY}\n`);
    const message = await operator.refuse(importCommand, [broken]);
    assert.match(message, /broken\.csv: line \d+: malformed CSV \(CSV_QUOTE_NOT_CLOSED\); nothing written/);
    assert.ok(!message.includes(BS_KEY));
    writeFileSync(broken, 'endpoint,profile,password\n');
    assert.match(await operator.refuse(importCommand, [broken]), /line 1: unknown column "password"/);
    assert.match(await operator.refuse(importCommand, ['-', '--format', 'json'], '{"endpoint":"x"}'), /a JSON import is an array/);
    assert.match(await operator.refuse(importCommand, [join(dir, 'missing.csv')]), /cannot read .*missing\.csv: ENOENT/);
    await assert.rejects(operator.run(importCommand, [join(dir, 'fleet.txt')]), UsageError);
    await assert.rejects(operator.run(importCommand, ['-', '--format', 'xml']), UsageError);
    assert.equal(operator.store.writes, 0);
  });

  it('rolls back every chunk written when the store refuses a device, restoring previous versions', async () => {
    const operator = await withProfile();
    await operator.run(deviceCommand, ['put', '-'], JSON.stringify({ ...deviceDocument('ep-0'), identities: { imsi: '001010000000000' } }));
    await operator.store.recordStatus('ep-0', { sessionId: 's-1', outcome: 'success', startedAt: '2025-01-02T03:04:05.000Z', endedAt: '2025-01-02T03:04:06.000Z', kind: 'bs' });
    const before = structuredClone(operator.store.devices.get('ep-0'));
    // 2500 rows: chunks of 1000, the refusal is in the third chunk, after 2000 rows were written.
    operator.store.refuse.add('ep-2400');
    const lines = Array.from({ length: 2500 }, (_, index) => JSON.stringify(deviceDocument(`ep-${index}`)));
    const reportFile = join(tempDir(), 'report.json');
    const message = await operator.refuse(importCommand, ['-', '--format', 'jsonl', '--report', reportFile], lines.join('\n'));
    assert.equal(message, 'the store refused 1 of 2500 devices; the import was rolled back, nothing written');
    assert.match(operator.stdout, /row 2401 +ep-2400 +\(store\): ProvisionedThroughputExceededException/);
    assert.deepEqual([...operator.store.devices.keys()], ['ep-0']);
    assert.deepEqual(operator.store.devices.get('ep-0'), before, 'the old configuration and its recorded outcome are back');
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as ImportReport;
    assert.equal(report.rolledBack, true);
    assert.equal(report.written, 0);
    operator.assertNoSecrets();
  });

  it('rolls back when a write fails outright, and names devices the rollback could not restore', async () => {
    const failing = new (class extends MemoryStore {
      calls = 0;
      failDeletes = false;
      override async putDevices(devices: Parameters<MemoryStore['putDevices']>[0]) {
        this.calls += 1;
        if (this.calls === 2) {
          await this.putDevice(devices[0]!); // half a chunk got through before the failure
          throw Object.assign(new Error('connection reset'), { name: 'TimeoutError' });
        }
        return super.putDevices(devices);
      }
      override async deleteDevice(endpoint: string) {
        if (this.failDeletes && endpoint.endsWith('7')) throw new Error('gone');
        return super.deleteDevice(endpoint);
      }
    })();
    const run = async (): Promise<{ message: string; stdout: string }> => {
      let stdout = '';
      const io = { stdout: (text: string) => (stdout += text), stderr: () => undefined, readStdin: async () => lines.join('\n'), stderrIsTTY: false };
      let message = '';
      await assert.rejects(importCommand(['-', '--format', 'jsonl'], io, async () => ({ store: failing, close: async () => undefined })), (error) => {
        assert.ok(error instanceof InputError, String(error));
        message = error.message;
        return true;
      });
      return { message, stdout };
    };
    await failing.putProfile((await withProfile()).store.profiles.get('fleet')!);
    const lines = Array.from({ length: 1500 }, (_, index) => JSON.stringify(deviceDocument(`ep-${index}`)));
    const first = await run();
    assert.equal(first.message, 'the store failed while writing (TimeoutError: connection reset); the import was rolled back, nothing written');
    assert.equal(first.stdout, 'the store failed after validation: TimeoutError: connection reset\n');
    assert.equal(failing.devices.size, 0);

    failing.calls = 0;
    failing.failDeletes = true;
    const second = await run();
    assert.match(second.message, /^the store failed while writing \(TimeoutError: connection reset\); rolling back failed for 150 devices \(ep-1007, ep-1017, ep-1027, /);
    assert.match(second.message, /and 140 more\), which may hold the imported configuration$/);
    // Endpoints ending in 7 could not be deleted: the 100 of them in the first chunk stay written.
    assert.equal(failing.devices.size, 100);
  });

  it('refuses a bootstrap PSK identity a stored device holds, but lets devices in the file swap identities', async () => {
    const operator = await withProfile();
    await operator.run(deviceCommand, ['put', '-'], JSON.stringify(deviceDocument('ep-1')));
    await operator.run(deviceCommand, ['put', '-'], JSON.stringify(deviceDocument('ep-2')));
    const writes = operator.store.writes;
    const thief = { ...deviceDocument('ep-3'), bootstrapCredentials: { securityMode: 'psk', identity: 'ep-1-bs', secretKey: BS_KEY } };
    const message = await operator.refuse(importCommand, ['-', '--format', 'json'], JSON.stringify([deviceDocument('ep-4'), thief]));
    assert.equal(message, 'import refused: 1 of 2 rows rejected; nothing written');
    assert.match(operator.stdout, /row 2 +ep-3 +bootstrapCredentials\.identity: bootstrap PSK identity already held by stored device ep-1\n/);
    assert.equal(operator.store.writes, writes);

    const swap = [
      { ...deviceDocument('ep-1'), bootstrapCredentials: { securityMode: 'psk', identity: 'ep-2-bs', secretKey: BS_KEY } },
      { ...deviceDocument('ep-2'), bootstrapCredentials: { securityMode: 'psk', identity: 'ep-1-bs', secretKey: BS_KEY } },
    ];
    assert.match(await operator.run(importCommand, ['-', '--format', 'json'], JSON.stringify(swap)), /^imported 2 devices/);
    assert.equal(operator.store.devices.get('ep-1')?.bootstrapCredentials?.identity, 'ep-2-bs');

    const csv = join(tempDir(), 'thief.csv');
    writeFileSync(csv, `${CSV_HEADER}\n${csvRow('ep-5', 'ep-2-bs')}\n`);
    await operator.refuse(importCommand, [csv]);
    assert.match(operator.stdout, /line 2 +ep-5 +bootstrap_identity: bootstrap PSK identity already held by stored device ep-1\n/);
    operator.assertNoSecrets();
  });

  it('prints progress on stderr every 1000 rows with --progress, and not without', async () => {
    const operator = await withProfile();
    const lines = Array.from({ length: 2500 }, (_, index) => JSON.stringify({ endpoint: `ep-${index}`, profile: 'fleet', serverCredentials: { '101': { identity: `ep-${index}`, secretKey: DM_KEY } } }));
    await operator.run(importCommand, ['-', '--format', 'jsonl', '--dry-run'], lines.join('\n'));
    assert.equal(operator.stderr, '');
    await operator.run(importCommand, ['-', '--format', 'jsonl', '--progress'], lines.join('\n'));
    const progress = operator.stderr.trim().split('\n');
    assert.ok(progress.includes('lwm2m-bs: validated 1000 rows') && progress.includes('lwm2m-bs: validated 2000 rows'), operator.stderr);
    assert.ok(progress.includes('lwm2m-bs: validated 2500 rows, done') && progress.includes('lwm2m-bs: written 2500 rows, done'), operator.stderr);
    assert.equal(operator.store.devices.size, 2500);
    operator.assertNoSecrets();
  });
});

describe('status', () => {
  it('says when a device never bootstrapped, and shows the last outcome when it did', async () => {
    const operator = await withProfile();
    await operator.run(deviceCommand, ['put', '-'], JSON.stringify(deviceDocument('ep-1')));
    assert.equal(await operator.run(statusCommand, ['ep-1']), 'device ep-1 has never bootstrapped\n');
    assert.deepEqual(JSON.parse(await operator.run(statusCommand, ['ep-1', '--json'])), { endpoint: 'ep-1', status: null });
    await operator.store.recordStatus('ep-1', {
      sessionId: 's-1',
      outcome: 'finish-failed',
      startedAt: '2025-01-02T03:04:05.000Z',
      endedAt: '2025-01-02T03:04:06.000Z',
      kind: 'bs',
      clientVersion: '1.1',
      contentFormat: 112,
      detail: 'client says: no server account',
    });
    const text = await operator.run(statusCommand, ['ep-1']);
    for (const expected of [/^outcome +finish-failed$/m, /^ended +2025-01-02T03:04:06\.000Z$/m, /^kind +bs \(Bootstrap-Request\)$/m, /^client +LwM2M 1\.1$/m, /^format +application\/senml\+cbor \(112\)$/m, /^detail +client says: no server account$/m]) {
      assert.match(text, expected);
    }
    const json = JSON.parse(await operator.run(statusCommand, ['ep-1', '--json'])) as { status: { outcome: string; contentFormatName: string } };
    assert.equal(json.status.outcome, 'finish-failed');
    assert.equal(json.status.contentFormatName, 'application/senml+cbor');
    assert.equal(await operator.refuse(statusCommand, ['ep-9']), 'no device "ep-9"');
  });
});

describe('data directory', () => {
  it('takes the flag over the environment over ./.lwm2m-bs', () => {
    assert.equal(resolveDataDir('/srv/bs', { LWM2M_BS_DATA_DIR: '/env' }), '/srv/bs');
    assert.equal(resolveDataDir(undefined, { LWM2M_BS_DATA_DIR: '/env' }), '/env');
    assert.equal(resolveDataDir(undefined, {}), join(process.cwd(), '.lwm2m-bs'));
  });
});

// The real bin, end to end through the embedded dynalite under a temporary data directory.
describe('lwm2m-bs operator commands (real CLI, dynalite)', () => {
  const BIN = fileURLToPath(new URL('../../cli/bin.mjs', import.meta.url));
  let dataDir = '';
  let work = '';
  before(() => {
    // openLocalStore runs in this process too; the SDK's Node-version notice is noise here.
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
    work = tempDir();
    dataDir = join(work, 'data');
  });

  function cli(args: string[], stdin = ''): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input: stdin, env: { ...process.env, LWM2M_BS_DATA_DIR: dataDir } });
    for (const secret of SECRETS) {
      if (!args.includes('--show-secrets')) assert.ok(!`${result.stdout}${result.stderr}`.includes(secret), `${args.join(' ')} printed a secret key`);
    }
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('stores a profile and devices, imports a CSV, and reads them back with keys hidden', () => {
    const profileFile = join(work, 'fleet.json');
    writeFileSync(profileFile, JSON.stringify(PROFILE));
    assert.deepEqual(cli(['profile', 'put', profileFile]), { status: 0, stdout: 'profile fleet stored (101 coaps://dm.example.com:5684 psk)\n', stderr: '' });
    assert.equal(cli(['device', 'put', '-'], JSON.stringify(deviceDocument('ep-1'))).status, 0);
    const csv = join(work, 'fleet.csv');
    writeFileSync(csv, [CSV_HEADER, csvRow('ep-2'), csvRow('ep-3')].join('\n'));
    assert.deepEqual(cli(['import', csv]), { status: 0, stdout: `imported 2 devices from ${csv}\n` + LOW_ENTROPY_EP2_EP3, stderr: '' });

    const listed = cli(['device', 'list', '--json']);
    assert.equal(listed.status, 0);
    const devices = JSON.parse(listed.stdout) as { endpoint: string; serverCredentials: Record<string, { secretKey?: string }> }[];
    assert.deepEqual(devices.map((device) => device.endpoint).sort(), ['ep-1', 'ep-2', 'ep-3']);
    assert.ok(devices.every((device) => device.serverCredentials['101']?.secretKey === '(hidden: 16 bytes)'));
    const shown = cli(['device', 'get', 'ep-2', '--show-secrets']);
    assert.ok(shown.stdout.includes(BS_KEY) && shown.stdout.includes(DM_KEY));
  });

  it('exits 1 with one line for bad input and writes nothing for a bad import, 2 for wrong usage', () => {
    const unknown = cli(['device', 'get', 'nobody']);
    assert.deepEqual(unknown, { status: 1, stdout: '', stderr: 'lwm2m-bs: no device "nobody"\n' });
    const csv = join(work, 'bad.csv');
    writeFileSync(csv, [CSV_HEADER, csvRow('ep-7'), csvRow('ep-8', 'ep-1-bs').replace(DM_KEY, 'abc')].join('\n'));
    const refused = cli(['import', csv]);
    assert.equal(refused.status, 1);
    assert.equal(refused.stderr, 'lwm2m-bs: import refused: 1 of 2 rows rejected; nothing written\n');
    assert.match(refused.stdout, /line 3 +ep-8 +server\.101\.key: must be an even number of hex digits/);
    assert.equal(cli(['device', 'get', 'ep-7']).status, 1, 'the good row was not written either');
    const usage = cli(['device']);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /device needs put, get, list or delete/);
  });

  it('shows the outcome the server recorded', async () => {
    const local = await openLocalStore({ dataDir });
    try {
      await local.store.recordStatus('ep-1', { sessionId: 's-9', outcome: 'success', startedAt: '2025-05-05T10:00:00.000Z', endedAt: '2025-05-05T10:00:01.000Z', kind: 'bs', clientVersion: '1.2', contentFormat: 11544 });
    } finally {
      await local.close();
    }
    const status = cli(['status', 'ep-1']);
    assert.equal(status.status, 0);
    assert.match(status.stdout, /^outcome +success$/m);
    assert.match(status.stdout, /^format +application\/vnd\.oma\.lwm2m\+cbor \(11544\)$/m);
    assert.equal(cli(['status', 'ep-2']).stdout, 'device ep-2 has never bootstrapped\n');
  });
});
