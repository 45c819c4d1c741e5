import { parseArgs } from 'node:util';
import { checkBootstrapConfiguration } from '../../shared/bootstrap/checker.ts';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import { ConfigurationError } from '../../shared/bootstrap/configuration-error.ts';
import { DeviceImportValidator, ImportFileError, type RejectedRow } from '../../shared/bootstrap/device-import.ts';
import type { DeviceEntry } from '../../shared/bootstrap/device.ts';
import type { Profile } from '../../shared/bootstrap/profile.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';
import { allStoredProfiles } from '../../shared/bootstrap/stored-profiles.ts';
import { factoryExport, type FactoryExport } from '../../shared/factory/factory-export.ts';
import { AdminApiError, connectAdminApi, type AdminApiClient, type AdminApiConnector } from '../admin-api-client.ts';
import { printJson, remoteAdminApi, STORE_OPTIONS } from '../admin-io.ts';
import { openDataDirStore, withStore, type StoreOpener } from '../data-dir.ts';
import { writeDeviceDirectories, type DeviceSource, type WrittenDevice } from '../factory-output.ts';
import {
  cardKeys,
  NO_SCP03_KEYS_FIELD,
  scp03KeysDocument,
  smartcardFiles,
  type Scp03KeysDocument,
  type SmartcardExportAnswer,
  type SmartcardFile,
} from '../../functions/admin/documents.ts';
import type { Scp03KeyRecord } from '../../shared/bootstrap/credentials.ts';
import type { BootstrapPlan } from '../../shared/bootstrap/plan.ts';
import { CodecError } from '../../shared/errors.ts';
import { InputError, UsageError } from '../usage.ts';
import { chooseFormat, readRows, type ImportIO } from './import.ts';

/** Problems named on the one error line; the rest are counted. */
const NAMED_PROBLEMS = 3;
/** Devices between progress lines on stderr. */
const PROGRESS_EVERY = 100;

/**
 * `lwm2m-bs export factory`: the bootstrap information a client loads at manufacture, one
 * owner-only directory per device. Every device is looked up and compiled before the first
 * file is written, and one that fails means nothing is written. Stored devices are exported
 * locally or, with `--endpoint`, by the admin API; a production batch (`--devices FILE`) need
 * not be stored: its rows are validated as an import validates them.
 */
export async function exportCommand(args: string[], io: ImportIO, open: StoreOpener = openDataDirStore, connect: AdminApiConnector = connectAdminApi): Promise<void> {
  const [what, ...rest] = args;
  if (what === 'smartcard') return exportSmartcard(rest, io, open, connect);
  if (what !== 'factory') throw new UsageError(what === undefined ? 'export needs what to export: factory or smartcard' : `unknown export "${what}" (factory, smartcard)`);
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      ...STORE_OPTIONS,
      out: { type: 'string', short: 'o' },
      'include-keys': { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      profile: { type: 'string', short: 'p' },
      devices: { type: 'string' },
      format: { type: 'string', short: 'f' },
    },
    allowPositionals: true,
    strict: true,
  });
  const out = values.out;
  if (out === undefined || out === '') throw new UsageError('export factory needs --out <dir>');
  if (values.devices === undefined) {
    if (positionals.length === 0) throw new UsageError('export factory takes endpoints, or --devices <file> [--profile <name>]');
    if (values.profile !== undefined || values.format !== undefined) throw new UsageError('--profile and --format go with --devices');
  } else if (positionals.length > 0) throw new UsageError('export factory takes endpoints or --devices <file>, not both');

  const includeKeys = values['include-keys'];
  const generatedAt = new Date().toISOString();
  const api = remoteAdminApi(values, connect);
  const endpoints = [...new Set(positionals)];
  let sources: DeviceSource[];
  if (values.devices !== undefined) {
    const batch = { file: values.devices, format: chooseFormat(values.devices, values.format), profile: values.profile };
    const devices = api === undefined ? await withStore(open, values['data-dir'], async (store) => batchDevices(batch, await storedProfiles(store, batch.profile), io)) : await remoteBatch(api, batch, io);
    sources = compileAll(devices, includeKeys, generatedAt);
  } else if (api !== undefined) sources = await remoteSources(api, endpoints, includeKeys);
  else sources = compileAll(await withStore(open, values['data-dir'], (store) => storedDevices(store, endpoints)), includeKeys, generatedAt);

  if (includeKeys) io.stderr?.('lwm2m-bs: warning: the exported files hold secret keys; keep them owner-only and delete them once loaded\n');
  const big = sources.length > PROGRESS_EVERY;
  const written = await writeDeviceDirectories(out, sources, {
    force: values.force,
    progress: (count) => {
      if (big && (count % PROGRESS_EVERY === 0 || count === sources.length)) io.stderr?.(`lwm2m-bs: wrote ${count} of ${sources.length} devices\n`);
    },
  });
  if (values.json) printJson(io, { out, keysIncluded: includeKeys, devices: written });
  else printWritten(io, out, includeKeys, written);
}

interface ProfiledDevice {
  readonly device: DeviceEntry;
  readonly profile: Profile;
}

/** Stored devices and their profiles; every unknown device or profile is found before any is refused. */
async function storedDevices(store: BootstrapStore, endpoints: readonly string[]): Promise<ProfiledDevice[]> {
  const profiles = new Map<string, Profile | undefined>();
  const found: ProfiledDevice[] = [];
  const problems: string[] = [];
  for (const endpoint of endpoints) {
    const device = await store.getDevice(endpoint);
    if (device === undefined) {
      problems.push(`no device "${endpoint}"`);
      continue;
    }
    if (!profiles.has(device.profile)) profiles.set(device.profile, await store.getProfile(device.profile));
    const profile = profiles.get(device.profile);
    if (profile === undefined) problems.push(`device ${endpoint}: no profile "${device.profile}"`);
    else found.push({ device, profile });
  }
  if (problems.length > 0) throw refused(problems);
  return found;
}

/** Every plan compiled now, so a device that would not bootstrap stops the export before a file is written. */
function compileAll(devices: readonly ProfiledDevice[], includeKeys: boolean, generatedAt: string): DeviceSource[] {
  const problems: string[] = [];
  const sources: DeviceSource[] = [];
  for (const { device, profile } of devices) {
    try {
      const plan = compileBootstrapPlan(profile, device);
      sources.push({ endpoint: device.endpoint, files: () => factoryExport({ endpoint: device.endpoint, profile: profile.name, plan, includeKeys, generatedAt }) });
    } catch (error) {
      problems.push(wouldNotBootstrap(device.endpoint, error));
    }
  }
  if (problems.length > 0) throw refused(problems);
  return sources;
}

function wouldNotBootstrap(endpoint: string, error: unknown): string {
  if (!(error instanceof ConfigurationError)) throw error;
  const issues = error.issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ');
  return `device ${endpoint} would not bootstrap (${error.issues.length} ${error.issues.length === 1 ? 'problem' : 'problems'}): ${issues}`;
}

function refused(problems: readonly string[]): InputError {
  const more = problems.length > NAMED_PROBLEMS ? `; and ${problems.length - NAMED_PROBLEMS} more` : '';
  return new InputError(`${problems.slice(0, NAMED_PROBLEMS).join('; ')}${more}; nothing written`);
}

interface Batch {
  readonly file: string;
  readonly format: ReturnType<typeof chooseFormat>;
  /** The profile every row takes; a row may leave it out, but not name another. */
  readonly profile: string | undefined;
}

async function storedProfiles(store: BootstrapStore, name: string | undefined): Promise<Map<string, Profile>> {
  if (name === undefined) return new Map((await allStoredProfiles(store)).map((profile) => [profile.name, profile]));
  const profile = await store.getProfile(name);
  if (profile === undefined) throw new InputError(`no profile "${name}"`);
  return new Map([[name, profile]]);
}

/** A batch against the deployed stack: its profile comes from the admin API (with keys: the files are made here), the rows are checked here. */
async function remoteBatch(api: AdminApiClient, batch: Batch, io: ImportIO): Promise<ProfiledDevice[]> {
  if (batch.profile === undefined) throw new UsageError('--devices with --endpoint needs --profile <name>');
  const profile = await api.getProfile(batch.profile, { showSecrets: true });
  return batchDevices(batch, new Map([[batch.profile, profile]]), io);
}

/**
 * The rows of a devices file, each judged as `import` judges it (schema, duplicate endpoints
 * and PSK identities within the file, the configuration checker), all read before any is
 * refused. The devices are not looked up in the store: a production batch is made before it
 * is imported.
 */
async function batchDevices(batch: Batch, profiles: ReadonlyMap<string, Profile>, io: ImportIO): Promise<ProfiledDevice[]> {
  const validator = new DeviceImportValidator({ profiles, check: checkBootstrapConfiguration, csv: batch.format === 'csv' });
  const mismatched: RejectedRow[] = [];
  try {
    for await (const row of readRows(batch.format, batch.file, io)) {
      if ('reason' in row) {
        validator.addUnreadable(row.position, row.reason, row.endpoint);
        continue;
      }
      const input = withProfile(row.input, batch.profile);
      const named = (input as { profile?: unknown } | null)?.profile;
      if (batch.profile !== undefined && typeof named === 'string' && named !== batch.profile) {
        const endpoint = (input as { endpoint?: unknown }).endpoint;
        mismatched.push({ ...row.position, ...(typeof endpoint === 'string' && { endpoint }), field: 'profile', reason: `names profile "${named}"; the export is for "${batch.profile}"` });
      } else validator.add(input, row.position);
    }
  } catch (error) {
    if (error instanceof ImportFileError) throw new InputError(`${batch.file}: ${error.message}; nothing written`);
    throw error;
  }
  const rows = validator.rows + mismatched.length;
  if (rows === 0) throw new InputError(`${batch.file} holds no devices; nothing written`);
  const rejected = [...validator.rejected, ...mismatched].sort((a, b) => a.row - b.row);
  if (rejected.length > 0) {
    const rejectedRows = validator.rejectedRows + mismatched.length;
    const named = rejected.slice(0, NAMED_PROBLEMS).map((rejection) => {
      const where = rejection.line === undefined ? `row ${rejection.row}` : `line ${rejection.line}`;
      return `${where}${rejection.endpoint === undefined ? '' : ` (${rejection.endpoint})`} ${rejection.field}: ${rejection.reason}`;
    });
    const more = rejected.length > NAMED_PROBLEMS ? `; and ${rejected.length - NAMED_PROBLEMS} more problems` : '';
    throw new InputError(`${batch.file}: ${rejectedRows} of ${rows} rows rejected: ${named.join('; ')}${more}; nothing written`);
  }
  return validator.devices.map((device) => ({ device, profile: profiles.get(device.profile)! }));
}

/** A row without a profile takes the batch's. */
function withProfile(input: unknown, profile: string | undefined): unknown {
  if (profile === undefined || typeof input !== 'object' || input === null || Array.isArray(input) || 'profile' in input) return input;
  return { ...input, profile };
}

/** Each device's files from the admin API, all fetched before any is written. */
async function remoteSources(api: AdminApiClient, endpoints: readonly string[], includeKeys: boolean): Promise<DeviceSource[]> {
  const problems: string[] = [];
  const sources: DeviceSource[] = [];
  for (const endpoint of endpoints) {
    try {
      const answer = await api.getFactoryExport(endpoint, { includeKeys });
      const exported: FactoryExport = {
        endpoint: answer.endpoint,
        keysIncluded: answer.keysIncluded,
        omittedSecrets: answer.omittedSecrets,
        warnings: answer.warnings,
        files: answer.files.map((file) => ({ name: file.name, mediaType: file.mediaType, bytes: new Uint8Array(Buffer.from(file.base64, 'base64')) })),
      };
      sources.push({ endpoint, files: () => exported });
    } catch (error) {
      // Refusals of this device are collected like the local ones; anything else (403, 5xx) stops at once.
      if (error instanceof AdminApiError && (error.status === 404 || error.status === 422)) problems.push(error.message);
      else throw error;
    }
  }
  if (problems.length > 0) throw refused(problems);
  return sources;
}

function printWritten(io: ImportIO, out: string, includeKeys: boolean, written: readonly WrittenDevice[]): void {
  let omitted = 0;
  for (const device of written) {
    omitted += device.omittedSecrets.length;
    const left = device.omittedSecrets.length === 0 ? '' : `; secrets left out: ${device.omittedSecrets.join(', ')}`;
    const warnings = device.warnings.map((warning) => `; warning: ${warning}`).join('');
    io.stdout(`${device.endpoint} -> ${device.directory}: ${device.files.join(', ')}${left}${warnings}\n`);
  }
  const count = written.length === 1 ? '1 device' : `${written.length} devices`;
  const keys = includeKeys ? 'secret keys included' : omitted === 0 ? 'no secret keys to leave out' : `${omitted} secret resources left out (--include-keys puts them in)`;
  io.stdout(`exported ${count} to ${out}; ${keys}\n`);
}

// ---------------------------------------------------------------------------------------------
// export smartcard

const KEYS_NEEDED = "export smartcard needs --include-keys: a card's bootstrap file holds the device's keys";
const noScp03Keys = (endpoint: string): string => `device ${endpoint} has no SCP03 keys (--generate-scp03-keys makes and stores them)`;

/** One device's card files, and what the operator is told about its SCP03 keys. */
interface CardExport {
  readonly endpoint: string;
  readonly files: readonly SmartcardFile[];
  readonly scp03: { readonly keyVersion: number; readonly kcv: Scp03KeysDocument['kcv']; readonly generated: boolean };
}

/** Puts a device entry back as it was before this run stored generated keys on it. */
type Restore = (endpoint: string) => Promise<void>;

/**
 * `lwm2m-bs export smartcard`: per device the UICC files of LwM2M Core Appendix G and the card's
 * SCP03 static keys. The files always hold keys, so `--include-keys` is required. A device
 * without SCP03 keys is refused unless `--generate-scp03-keys`; generated keys are stored on the
 * device entry (locally once every file is staged, before any is placed; remotely by the admin
 * API once every device has been checked) and taken back if the export fails. Stored keys are
 * reused, never replaced.
 */
async function exportSmartcard(args: string[], io: ImportIO, open: StoreOpener, connect: AdminApiConnector): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...STORE_OPTIONS,
      out: { type: 'string', short: 'o' },
      'include-keys': { type: 'boolean', default: false },
      'generate-scp03-keys': { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (!values['include-keys']) throw new UsageError(KEYS_NEEDED);
  const out = values.out;
  if (out === undefined || out === '') throw new UsageError('export smartcard needs --out <dir>');
  if (positionals.length === 0) throw new UsageError('export smartcard takes endpoints');
  const endpoints = [...new Set(positionals)];
  const generate = values['generate-scp03-keys'];
  const write = async (cards: readonly CardExport[], beforePlacing?: () => Promise<void>): Promise<WrittenDevice[]> => {
    io.stderr?.("lwm2m-bs: warning: the exported files hold secret keys (the device's and the card's SCP03 keys); keep them owner-only and delete them once loaded\n");
    const sources = cards.map((card) => ({ endpoint: card.endpoint, files: () => ({ files: card.files }) }));
    return writeDeviceDirectories(out, sources, { force: values.force, ...(beforePlacing !== undefined && { beforePlacing }) });
  };

  const api = remoteAdminApi(values, connect);
  const restores = new Map<string, Restore>();
  let cards: CardExport[];
  let written: WrittenDevice[];
  if (api === undefined) {
    ({ cards, written } = await withStore(open, values['data-dir'], async (store) => {
      const local = await localCards(store, endpoints, generate);
      const cards = local.map(({ card }) => card);
      // Every file is staged by now: store the generated keys, then the directories are placed.
      const storeKeys = async (): Promise<void> => {
        for (const { card, device, record } of local) {
          if (!card.scp03.generated) continue;
          try {
            await store.putDevice({ ...device, smartcard: { scp03: record } });
          } catch (error) {
            throw new InputError(`cannot store the SCP03 keys of device ${card.endpoint} (${errorName(error)}); nothing written`);
          }
          restores.set(card.endpoint, () => store.putDevice(device));
        }
      };
      return { cards, written: await undoing(restores, () => write(cards, storeKeys)) };
    }));
  } else {
    cards = await undoing(restores, () => remoteCards(api, endpoints, generate, restores));
    // The admin API stored the keys already; placing needs nothing more.
    written = await undoing(restores, () => write(cards));
  }

  const reported = written.map((device, index) => ({ endpoint: device.endpoint, directory: device.directory, files: device.files, scp03: cards[index]!.scp03 }));
  if (values.json) printJson(io, { out, keysIncluded: true, devices: reported });
  else printCards(io, out, reported);
}

/** Runs `work`; when it fails, puts back the device entries it stored keys on, and says which could not be. */
async function undoing<T>(restores: Map<string, Restore>, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const kept: string[] = [];
    for (const [endpoint, restore] of restores) await restore(endpoint).catch(() => kept.push(endpoint));
    restores.clear();
    if (kept.length === 0) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new InputError(`${message}; and the SCP03 keys stored on ${kept.join(', ')} could not be taken back`);
  }
}

interface LocalCard {
  readonly card: CardExport;
  readonly device: DeviceEntry;
  readonly record: Scp03KeyRecord;
}

/** Every device looked up, compiled and its files made (generated keys in memory only) before any is written. */
async function localCards(store: BootstrapStore, endpoints: readonly string[], generate: boolean): Promise<LocalCard[]> {
  const problems: string[] = [];
  const cards: LocalCard[] = [];
  for (const { device, profile } of await storedDevices(store, endpoints)) {
    let plan: BootstrapPlan;
    try {
      plan = compileBootstrapPlan(profile, device);
    } catch (error) {
      problems.push(wouldNotBootstrap(device.endpoint, error));
      continue;
    }
    const keys = cardKeys(device, generate);
    if (keys === undefined) {
      problems.push(noScp03Keys(device.endpoint));
      continue;
    }
    try {
      const document = scp03KeysDocument(keys.record);
      const files = smartcardFiles(plan, keys.record);
      cards.push({ card: { endpoint: device.endpoint, files, scp03: { keyVersion: document.keyVersion, kcv: document.kcv, generated: keys.generated } }, device, record: keys.record });
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      problems.push(`device ${device.endpoint}: no card bootstrap file can be made of it (${error.message})`);
    }
  }
  if (problems.length > 0) throw refused(problems);
  return cards;
}

/**
 * Through the admin API: first every device without generation, so an unknown device or one
 * that would not bootstrap stops the export before a key is stored; then, with
 * `--generate-scp03-keys`, the devices that had no keys, each entry read first so it can be put
 * back. A device given keys in between keeps them (the server never replaces keys).
 */
async function remoteCards(api: AdminApiClient, endpoints: readonly string[], generate: boolean, restores: Map<string, Restore>): Promise<CardExport[]> {
  const problems: string[] = [];
  const answers = new Map<string, SmartcardExportAnswer>();
  const keyless: string[] = [];
  for (const endpoint of endpoints) {
    try {
      answers.set(endpoint, await api.exportSmartcard(endpoint));
    } catch (error) {
      if (!(error instanceof AdminApiError && (error.status === 404 || error.status === 422))) throw error;
      if (error.status !== 422 || !error.issues.some((issue) => issue.field === NO_SCP03_KEYS_FIELD)) problems.push(error.message);
      else if (generate) keyless.push(endpoint);
      else problems.push(noScp03Keys(endpoint));
    }
  }
  if (problems.length > 0) throw refused(problems);
  for (const endpoint of keyless) {
    const before = await api.getDevice(endpoint, { showSecrets: true });
    const answer = await api.exportSmartcard(endpoint, { generateScp03Keys: true });
    if (answer.scp03Generated) restores.set(endpoint, async () => void (await api.putDevice(endpoint, before)));
    answers.set(endpoint, answer);
  }
  return endpoints.map((endpoint) => remoteCard(answers.get(endpoint)!));
}

function remoteCard(answer: SmartcardExportAnswer): CardExport {
  const files = answer.files.map((file) => ({ name: file.name, mediaType: file.mediaType, bytes: new Uint8Array(Buffer.from(file.base64, 'base64')) }));
  const keysFile = files.find((file) => file.name === 'scp03-keys.json');
  let document: Scp03KeysDocument;
  try {
    const sent = JSON.parse(Buffer.from(keysFile!.bytes).toString('utf8')) as Scp03KeysDocument;
    // Recomputed here, so the check values shown are this machine's reading of the keys written.
    document = scp03KeysDocument({ keyVersion: sent.keyVersion, enc: sent.enc, mac: sent.mac, dek: sent.dek });
  } catch {
    throw new InputError(`the admin API answered no readable scp03-keys.json for device ${answer.endpoint}; nothing written`);
  }
  return { endpoint: answer.endpoint, files, scp03: { keyVersion: document.keyVersion, kcv: document.kcv, generated: answer.scp03Generated } };
}

/** The error's kind, never its message: a store error may quote what was sent. */
function errorName(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : error instanceof Error ? error.name : 'unknown error';
}

interface ReportedCard {
  readonly endpoint: string;
  readonly directory: string;
  readonly files: readonly string[];
  readonly scp03: CardExport['scp03'];
}

function printCards(io: ImportIO, out: string, cards: readonly ReportedCard[]): void {
  for (const card of cards) {
    const { keyVersion, kcv, generated } = card.scp03;
    const keys = `SCP03 key version 0x${keyVersion.toString(16).padStart(2, '0')}, KCV ENC ${kcv.enc} MAC ${kcv.mac} DEK ${kcv.dek}${generated ? ' (generated and stored)' : ''}`;
    io.stdout(`${card.endpoint} -> ${card.directory}: ${card.files.join(', ')}; ${keys}\n`);
  }
  const count = cards.length === 1 ? '1 device' : `${cards.length} devices`;
  const generated = cards.filter((card) => card.scp03.generated).length;
  io.stdout(`exported ${count} to ${out}; ${generated === 0 ? 'SCP03 keys as stored' : `SCP03 keys generated and stored for ${generated}`}\n`);
}
