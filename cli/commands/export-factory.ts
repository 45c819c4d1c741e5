import { parseArgs } from 'node:util';
import { checkBootstrapConfiguration } from '../../shared/bootstrap/checker.ts';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import { DeviceImportValidator, ImportFileError, type RejectedRow } from '../../shared/bootstrap/device-import.ts';
import type { Profile } from '../../shared/bootstrap/profile.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';
import { allStoredProfiles } from '../../shared/bootstrap/stored-profiles.ts';
import { factoryExport, type FactoryExport } from '../../shared/factory/factory-export.ts';
import { AdminApiError, type AdminApiClient, type AdminApiConnector } from '../admin-api-client.ts';
import { printJson, remoteAdminApi } from '../admin-io.ts';
import { withStore, type StoreOpener } from '../data-dir.ts';
import { writeDeviceDirectories, type DeviceSource, type WrittenDevice } from '../factory-output.ts';
import { InputError, UsageError } from '../usage.ts';
import { EXPORT_OPTIONS, NAMED_PROBLEMS, refused, storedDevices, wouldNotBootstrap, type ProfiledDevice } from './export-shared.ts';
import { chooseFormat, readRows, type ImportIO } from './import.ts';

/** Devices between progress lines on stderr. */
const PROGRESS_EVERY = 100;

/**
 * `lwm2m-bs export factory`: the bootstrap information a client loads at manufacture, one
 * owner-only directory per device. Every device is looked up and compiled before the first
 * file is written, and one that fails means nothing is written. Stored devices are exported
 * locally or, with `--endpoint`, by the admin API; a production batch (`--devices FILE`) need
 * not be stored: its rows are validated as an import validates them.
 */
export async function exportFactory(args: string[], io: ImportIO, open: StoreOpener, connect: AdminApiConnector): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...EXPORT_OPTIONS,
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
