import type { z } from 'zod';
import { classifyBootstrapKey, type LowEntropyReason } from '../lifecycle/key-entropy.ts';
import { generatePepper, keyFingerprint, PepperKeyFingerprinter, type KeyFingerprinter } from '../lifecycle/key-fingerprint.ts';
import type { ConfigurationIssue } from './configuration-error.ts';
import { SHARED_KEY_COUNT_LIMIT, withKeyFingerprint, type KeySharingStore } from './device-key-classification.ts';
import { deviceEntrySchema, type DeviceEntry } from './device.ts';
import { hexToBytes } from './key-bytes.ts';
import type { Profile } from './profile.ts';
import type { BootstrapStore } from './store.ts';

/**
 * Bulk device import: rows from a JSON array, JSON Lines or CSV become device entries, and every
 * row is judged before anything is written. Reading the file is the caller's job (a stream for
 * large files); this module turns one row at a time into an entry or into rejections, keeping
 * only maps keyed by endpoint and PSK identity so 100k rows stay linear.
 *
 * Nothing in a rejection repeats a row's values: a row may carry keys, and reports are mailed
 * around and pasted into tickets.
 */

export type ImportFormat = 'json' | 'jsonl' | 'csv';
export const IMPORT_FORMATS: readonly ImportFormat[] = ['json', 'jsonl', 'csv'];

/** The format a file name suggests, for when `--format` is not given. */
export function importFormatForFile(fileName: string): ImportFormat | undefined {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  if (lower.endsWith('.json')) return 'json';
  return undefined;
}

/** Where a row came from: its 1-based position among the rows, and its line in the file when the format has lines. */
export interface RowPosition {
  readonly row: number;
  readonly line?: number;
}

/** One reason a row was refused. `field` names the CSV column or the entry's field path. */
export interface RejectedRow extends RowPosition {
  readonly endpoint?: string;
  readonly field: string;
  readonly reason: string;
}

/** A problem with the file as a whole (bad header, broken quoting, not a JSON array): nothing can be imported. */
export class ImportFileError extends Error {
  override readonly name = 'ImportFileError';
  readonly line: number | undefined;

  constructor(message: string, line?: number) {
    super(line === undefined ? message : `line ${line}: ${message}`);
    this.line = line;
  }
}

// --- field paths ---------------------------------------------------------------------------

/** A zod issue path as operators read it: `serverCredentials.101.secretKey`, `servers[0].uri`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else text += text === '' ? String(key) : `.${String(key)}`;
  }
  return text === '' ? '(entry)' : text;
}

/**
 * A schema's issues as configuration issues. An unrecognized key's name is in `keys`, not in
 * the path: each becomes its own field. Zod's messages name types and patterns, never values.
 */
export function schemaIssues(issues: readonly z.core.$ZodIssue[], name: (path: readonly PropertyKey[]) => string = fieldPath): ConfigurationIssue[] {
  return issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: name([...issue.path, key]), message: 'not a known field' }))
      : [{ field: name(issue.path), message: issue.message }],
  );
}

// --- CSV -----------------------------------------------------------------------------------

const CREDENTIAL_COLUMNS = {
  identity: 'identity',
  key: 'secretKey',
  public_key: 'publicKey',
  server_public_key: 'serverPublicKey',
} as const;
type CredentialColumn = keyof typeof CREDENTIAL_COLUMNS;

const FIXED_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  endpoint: ['endpoint'],
  profile: ['profile'],
  imsi: ['identities', 'imsi'],
  iccid: ['identities', 'iccid'],
  imei: ['identities', 'imei'],
  bootstrap_mode: ['bootstrapCredentials', 'securityMode'],
  bootstrap_identity: ['bootstrapCredentials', 'identity'],
  bootstrap_key: ['bootstrapCredentials', 'secretKey'],
  bootstrap_public_key: ['bootstrapCredentials', 'publicKey'],
  bootstrap_server_public_key: ['bootstrapCredentials', 'serverPublicKey'],
  bootstrap_key_origin: ['bootstrapCredentials', 'keyOrigin'],
};

/** Column names a CSV import understands, for help texts and error messages. */
export const CSV_COLUMNS: readonly string[] = [
  ...Object.keys(FIXED_COLUMNS),
  ...Object.keys(CREDENTIAL_COLUMNS).map((column) => `server.<ssid>.${column}`),
];

/** Which entry field each column of a CSV file fills, decided once from its header row. */
export interface CsvLayout {
  readonly header: readonly string[];
  /** Per column, the path in the device entry it fills. */
  readonly targets: readonly (readonly string[])[];
}

const SERVER_COLUMN = /^server\.(\d+)\.([a-z_]+)$/;

/** Reads the header row; unknown or repeated columns are a file error, since every row would be wrong. */
export function parseCsvHeader(header: readonly string[]): CsvLayout {
  const seen = new Set<string>();
  const targets = header.map((raw) => {
    const column = raw.trim();
    if (seen.has(column)) throw new ImportFileError(`column "${column}" appears twice in the header`, 1);
    seen.add(column);
    const fixed = FIXED_COLUMNS[column];
    if (fixed !== undefined) return fixed;
    const server = SERVER_COLUMN.exec(column);
    if (server !== null) {
      const ssid = Number(server[1]);
      const credential = server[2] as CredentialColumn;
      if (!(ssid >= 1 && ssid <= 65534)) throw new ImportFileError(`column "${column}": Short Server ID must be 1 to 65534`, 1);
      if (Object.hasOwn(CREDENTIAL_COLUMNS, credential)) return ['serverCredentials', String(ssid), CREDENTIAL_COLUMNS[credential]];
    }
    throw new ImportFileError(`unknown column "${column}" (columns: ${CSV_COLUMNS.join(', ')})`, 1);
  });
  if (!seen.has('endpoint') || !seen.has('profile')) throw new ImportFileError('the header needs the columns "endpoint" and "profile"', 1);
  return { header: header.map((column) => column.trim()), targets };
}

/**
 * One CSV record as the device entry input it describes; empty cells are absent values.
 * Returns a reason instead when the record's shape is wrong.
 */
export function csvRecordToInput(layout: CsvLayout, fields: readonly string[]): { input: Record<string, unknown> } | { reason: string; endpoint?: string } {
  if (fields.length !== layout.targets.length) {
    const endpoint = endpointOf({ endpoint: fields[layout.header.indexOf('endpoint')] });
    return { reason: `has ${fields.length} fields, the header has ${layout.targets.length}`, ...(endpoint !== undefined && { endpoint }) };
  }
  const input: Record<string, unknown> = {};
  layout.targets.forEach((target, index) => {
    const value = fields[index]!;
    if (value === '') return;
    let node = input;
    for (const key of target.slice(0, -1)) {
      const next = (node[key] ??= {}) as Record<string, unknown>;
      node = next;
    }
    node[target.at(-1)!] = value;
  });
  return { input };
}

/** The CSV column an entry field came from, so a CSV import's report names columns the operator wrote. */
export function csvColumnFor(path: readonly PropertyKey[]): string | undefined {
  const keys = path.map(String);
  for (const [column, target] of Object.entries(FIXED_COLUMNS)) {
    if (target.length === keys.length && target.every((key, index) => key === keys[index])) return column;
  }
  if (keys.length === 3 && keys[0] === 'serverCredentials') {
    const column = Object.entries(CREDENTIAL_COLUMNS).find(([, field]) => field === keys[2])?.[0];
    if (column !== undefined) return `server.${keys[1]}.${column}`;
  }
  return undefined;
}

// --- JSON Lines ----------------------------------------------------------------------------

/**
 * One JSON Lines line. JSON.parse's own messages quote the input on newer Node versions, so
 * only the position survives into the reason.
 */
export function parseJsonRow(text: string): { value: unknown } | { reason: string } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    return { reason: position === undefined ? 'not valid JSON' : `not valid JSON (at character ${Number(position) + 1})` };
  }
}

// --- validation ----------------------------------------------------------------------------

/** checkBootstrapConfiguration's shape: the issues of a profile with one device, none when it would bootstrap. */
export type ConfigurationChecker = (profile: Profile, device?: DeviceEntry) => readonly ConfigurationIssue[];

export interface DeviceImportOptions {
  /** Every profile the store holds, by name: fleets have few profiles and many devices. */
  readonly profiles: ReadonlyMap<string, Profile>;
  readonly check?: ConfigurationChecker;
  /** Set for CSV, so fields are reported by column name. */
  readonly csv?: boolean;
  /**
   * Refuse rows whose bootstrap key classifies low entropy. Off by default: such a device is
   * imported and its account replaced at its first bootstrap (seeds 000 and 002).
   */
  readonly refuseLowEntropy?: boolean;
  /**
   * Takes the fingerprints the devices are stored with and compared by: the data directory's
   * pepper file locally, KMS on AWS. Without one, a fingerprinter under `pepper` (a fresh random
   * one by default), which only compares the batch with itself and with what the same
   * fingerprinter wrote before.
   */
  readonly fingerprinter?: KeyFingerprinter;
  /** The pepper of the default fingerprinter. */
  readonly pepper?: Uint8Array;
}

// --- key entropy ---------------------------------------------------------------------------

/** A row whose bootstrap PSK classifies low entropy, with every reason found (never the key). */
export interface LowEntropyRow extends RowPosition {
  readonly endpoint: string;
  readonly reasons: readonly LowEntropyReason[];
}

/** A device of the batch and where it came from. */
export interface PositionedDevice {
  readonly device: DeviceEntry;
  readonly position: RowPosition;
}

/**
 * Classifies the bootstrap PSK of every device in the batch (classifyBootstrapKey): declared low
 * at import, too short, derived from the device's identifiers, structured, or the same key on
 * more than one device of the batch. Keys are compared through their fingerprints under
 * `pepper`, so no key is kept beyond its entry. Devices without a PSK bootstrap key are not
 * classified. Only the batch is compared: a key shared with an already stored device needs the
 * store's fingerprint index (classifyImportKeys).
 */
export function classifyBatchKeys(batch: readonly PositionedDevice[], pepper: Uint8Array = generatePepper()): LowEntropyRow[] {
  const fingerprints = batch.map(({ device }) => {
    const key = bootstrapPskKey(device);
    return key === undefined ? undefined : keyFingerprint(key, pepper);
  });
  const holders = new Map<string, number>();
  for (const fingerprint of fingerprints) if (fingerprint !== undefined) holders.set(fingerprint, (holders.get(fingerprint) ?? 0) + 1);
  const low: LowEntropyRow[] = [];
  batch.forEach(({ device, position }, index) => {
    const key = bootstrapPskKey(device);
    const fingerprint = fingerprints[index];
    if (key === undefined || fingerprint === undefined) return;
    const { entropy, reasons } = classifyImportedKey(device, key, holders.get(fingerprint) ?? 1);
    if (entropy === 'low') low.push({ ...position, endpoint: device.endpoint, reasons });
  });
  return low;
}

/**
 * Classifies the batch's bootstrap PSKs by the fingerprints they carry (withKeyFingerprint):
 * a key's sharers are the devices of the batch holding it plus, with `store`, the stored
 * devices holding it that the batch does not import (a stored device the batch imports is
 * replaced by its row). The store is asked only for keys not low already, one count each, at
 * most `concurrency` in flight. A device without a fingerprint is compared with nothing.
 */
export async function classifyImportKeys(batch: readonly PositionedDevice[], store?: KeySharingStore, concurrency = 16): Promise<LowEntropyRow[]> {
  const holders = new Map<string, number>();
  for (const { device } of batch) {
    const fingerprint = bootstrapPskFingerprint(device);
    if (fingerprint !== undefined) holders.set(fingerprint, (holders.get(fingerprint) ?? 0) + 1);
  }
  const importing = new Set(batch.map(({ device }) => device.endpoint));
  const rows = await mapBounded(batch, concurrency, async ({ device, position }): Promise<LowEntropyRow | undefined> => {
    const key = bootstrapPskKey(device);
    if (key === undefined) return undefined;
    const fingerprint = bootstrapPskFingerprint(device);
    const inBatch = fingerprint === undefined ? 1 : (holders.get(fingerprint) ?? 1);
    let classification = classifyImportedKey(device, key, inBatch);
    if (classification.entropy === 'high' && store !== undefined && fingerprint !== undefined) {
      const stored = await store.countDevicesWithKeyFingerprint(fingerprint, SHARED_KEY_COUNT_LIMIT, importing);
      if (stored > 0) classification = classifyImportedKey(device, key, inBatch + stored);
    }
    return classification.entropy === 'low' ? { ...position, endpoint: device.endpoint, reasons: classification.reasons } : undefined;
  });
  return rows.filter((row): row is LowEntropyRow => row !== undefined);
}

function classifyImportedKey(device: DeviceEntry, key: Uint8Array, devicesSharingKey: number): ReturnType<typeof classifyBootstrapKey> {
  const credentials = device.bootstrapCredentials;
  return classifyBootstrapKey({
    key,
    ...(credentials?.identity !== undefined && { identity: credentials.identity }),
    device,
    ...(credentials?.keyOrigin !== undefined && { declaredOrigin: credentials.keyOrigin }),
    devicesSharingKey,
  });
}

function bootstrapPskFingerprint(device: DeviceEntry): string | undefined {
  const credentials = device.bootstrapCredentials;
  return credentials?.securityMode === 'psk' && credentials.secretKey !== undefined ? credentials.keyFingerprint : undefined;
}

/** A row's own `keyFingerprint` is not trusted: classifyKeys takes it from the key. */
function withoutSentFingerprint(device: DeviceEntry): DeviceEntry {
  if (device.bootstrapCredentials?.keyFingerprint === undefined) return device;
  const credentials = { ...device.bootstrapCredentials };
  delete credentials.keyFingerprint;
  return { ...device, bootstrapCredentials: credentials };
}

async function mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < items.length; index = next++) results[index] = await work(items[index]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** The reason a row refused for its key gives: the codes, then what each means. */
export function lowEntropyRejection(reasons: readonly LowEntropyReason[]): string {
  return `low-entropy bootstrap key (${reasons.map((reason) => reason.code).join(', ')}): ${reasons.map((reason) => reason.text).join('; ')}`;
}

function bootstrapPskKey(device: DeviceEntry): Uint8Array | undefined {
  const credentials = device.bootstrapCredentials;
  return credentials?.securityMode === 'psk' && credentials.secretKey !== undefined ? hexToBytes(credentials.secretKey) : undefined;
}

interface FirstSeen {
  readonly position: RowPosition;
  readonly endpoint: string;
}

function describePosition(position: RowPosition): string {
  return position.line === undefined ? `row ${position.row}` : `line ${position.line}`;
}

/**
 * Judges rows one by one. Valid rows are kept in order for the write; a row is rejected for a
 * schema error, an unknown profile, an endpoint or bootstrap PSK identity used by an earlier row
 * of the same file, or a configuration issue the checker finds; then, once every row is in,
 * for a bootstrap PSK identity another stored device holds (checkStoredPskIdentities). Last,
 * classifyKeys fingerprints the bootstrap keys and lists the devices whose key is low entropy
 * (or refuses them).
 */
export class DeviceImportValidator {
  readonly devices: DeviceEntry[] = [];
  readonly rejected: RejectedRow[] = [];
  /** Set by classifyKeys: the devices kept whose bootstrap key is low entropy (refused ones are in `rejected`). */
  readonly lowEntropy: LowEntropyRow[] = [];
  /** Where each of `devices` came from, index for index. */
  readonly #positions: RowPosition[] = [];
  #rows = 0;
  #rejectedRows = 0;
  readonly #options: DeviceImportOptions;
  readonly #endpoints = new Map<string, FirstSeen>();
  readonly #pskIdentities = new Map<string, FirstSeen>();

  constructor(options: DeviceImportOptions) {
    this.#options = options;
  }

  /** Rows seen so far. */
  get rows(): number {
    return this.#rows;
  }

  /** Rows refused so far (a row may have several entries in `rejected`). */
  get rejectedRows(): number {
    return this.#rejectedRows;
  }

  /** A row that could not even be read as an entry (bad JSON, wrong field count). */
  addUnreadable(position: RowPosition, reason: string, endpoint?: string): void {
    this.#rows += 1;
    this.#reject(position, endpoint, [{ field: '(row)', reason }]);
  }

  add(input: unknown, position: RowPosition): void {
    this.#rows += 1;
    const endpoint = endpointOf(input);
    const parsed = deviceEntrySchema.safeParse(input);
    if (!parsed.success) {
      const issues = schemaIssues(parsed.error.issues, (path) => this.#field(path));
      this.#reject(position, endpoint, issues.map((issue) => ({ field: issue.field, reason: issue.message })));
      return;
    }
    const device = withoutSentFingerprint(parsed.data);
    const problems: { field: string; reason: string }[] = [];
    const earlier = this.#endpoints.get(device.endpoint);
    if (earlier === undefined) this.#endpoints.set(device.endpoint, { position, endpoint: device.endpoint });
    else problems.push({ field: 'endpoint', reason: `endpoint already on ${describePosition(earlier.position)}` });

    const credentials = device.bootstrapCredentials;
    if (credentials?.securityMode === 'psk' && credentials.identity !== undefined) {
      const owner = this.#pskIdentities.get(credentials.identity);
      if (owner === undefined) this.#pskIdentities.set(credentials.identity, { position, endpoint: device.endpoint });
      else problems.push({ field: this.#field(['bootstrapCredentials', 'identity']), reason: `same bootstrap PSK identity as ${describePosition(owner.position)} (endpoint ${owner.endpoint})` });
    }

    const profile = this.#options.profiles.get(device.profile);
    if (profile === undefined) problems.push({ field: 'profile', reason: `no profile "${device.profile}"` });
    else if (this.#options.check !== undefined) {
      for (const issue of this.#options.check(profile, device)) problems.push({ field: this.#checkerField(issue.field), reason: issue.message });
    }

    if (problems.length > 0) this.#reject(position, device.endpoint, problems);
    else {
      this.devices.push(device);
      this.#positions.push(position);
    }
  }

  /**
   * After the last row: refuses valid rows whose bootstrap PSK identity the store gives another
   * endpoint, one index lookup per such row with at most `concurrency` in flight. An endpoint
   * this file also imports gives its identity up, so swapping identities between two devices
   * passes (the file's own rule catches two rows claiming one identity). A lookup that fails,
   * as findDevice does when two stored devices already share the identity, refuses the row too.
   * Rejections are then ordered by row.
   */
  async checkStoredPskIdentities(store: Pick<BootstrapStore, 'findDevice'>, concurrency = 16): Promise<void> {
    const conflicts = new Map<number, string>();
    const lookups: number[] = [];
    this.devices.forEach((device, index) => {
      if (bootstrapPskIdentity(device) !== undefined) lookups.push(index);
    });
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let at = next++; at < lookups.length; at = next++) {
        const index = lookups[at]!;
        const device = this.devices[index]!;
        const reason = await this.#storedHolderProblem(store, device.endpoint, bootstrapPskIdentity(device)!);
        if (reason !== undefined) conflicts.set(index, reason);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, lookups.length)) }, worker));
    if (conflicts.size === 0) return;

    let index = 0;
    this.#keepDevices((device, position) => {
      const reason = conflicts.get(index++);
      if (reason === undefined) return true;
      this.#reject(position, device.endpoint, [{ field: this.#field(['bootstrapCredentials', 'identity']), reason }]);
      return false;
    });
    // Stable: a row's own rejections keep their order.
    this.rejected.sort((a, b) => a.row - b.row);
  }

  /**
   * After the last row (and after checkStoredPskIdentities): gives every kept device the
   * fingerprint of its bootstrap PSK (withKeyFingerprint), then classifies the keys
   * (classifyImportKeys), counting as sharers both the batch and, when `store` is given, the
   * stored devices outside it. Low-entropy devices are listed in `lowEntropy`, or, with
   * `refuseLowEntropy`, rejected on their key field.
   */
  async classifyKeys(store?: KeySharingStore, concurrency = 16): Promise<void> {
    const fingerprinter = this.#options.fingerprinter ?? new PepperKeyFingerprinter(this.#options.pepper ?? generatePepper());
    const fingerprinted = await mapBounded(this.devices, concurrency, (device) => withKeyFingerprint(device, fingerprinter));
    fingerprinted.forEach((device, index) => {
      this.devices[index] = device;
    });
    const low = await classifyImportKeys(
      this.devices.map((device, index) => ({ device, position: this.#positions[index]! })),
      store,
      concurrency,
    );
    if (this.#options.refuseLowEntropy !== true) {
      this.lowEntropy.push(...low);
      return;
    }
    if (low.length === 0) return;
    const refused = new Map(low.map((row) => [row.endpoint, row]));
    this.#keepDevices((device, position) => {
      const row = refused.get(device.endpoint);
      if (row === undefined) return true;
      this.#reject(position, device.endpoint, [{ field: this.#field(['bootstrapCredentials', 'secretKey']), reason: lowEntropyRejection(row.reasons) }]);
      return false;
    });
    this.rejected.sort((a, b) => a.row - b.row);
  }

  #keepDevices(keep: (device: DeviceEntry, position: RowPosition) => boolean): void {
    let kept = 0;
    this.devices.forEach((device, index) => {
      const position = this.#positions[index]!;
      if (!keep(device, position)) return;
      this.devices[kept] = device;
      this.#positions[kept] = position;
      kept += 1;
    });
    this.devices.length = kept;
    this.#positions.length = kept;
  }

  async #storedHolderProblem(store: Pick<BootstrapStore, 'findDevice'>, endpoint: string, identity: string): Promise<string | undefined> {
    let holder: DeviceEntry | undefined;
    try {
      holder = await store.findDevice('pskIdentity', identity);
    } catch (error) {
      // The store's messages name endpoints and error kinds, not identities or keys.
      return `cannot tell whether another stored device holds this bootstrap PSK identity (${error instanceof Error ? error.message : 'lookup failed'})`;
    }
    if (holder === undefined || holder.endpoint === endpoint || this.#endpoints.has(holder.endpoint)) return undefined;
    return `bootstrap PSK identity already held by stored device ${holder.endpoint}`;
  }

  #reject(position: RowPosition, endpoint: string | undefined, problems: readonly { field: string; reason: string }[]): void {
    this.#rejectedRows += 1;
    for (const problem of problems) {
      this.rejected.push({ ...position, ...(endpoint !== undefined && { endpoint }), field: problem.field, reason: problem.reason });
    }
  }

  #field(path: readonly PropertyKey[]): string {
    return (this.#options.csv === true ? csvColumnFor(path) : undefined) ?? fieldPath(path);
  }

  /** The checker names device fields `device.serverCredentials.101.secretKey`; a CSV report wants the column. */
  #checkerField(field: string): string {
    if (this.#options.csv !== true || !field.startsWith('device.')) return field;
    return csvColumnFor(field.slice('device.'.length).split('.')) ?? field;
  }
}

/** The identity a device's bootstrap DTLS handshake is looked up by, if it has one. */
function bootstrapPskIdentity(device: DeviceEntry): string | undefined {
  const credentials = device.bootstrapCredentials;
  return credentials?.securityMode === 'psk' ? credentials.identity : undefined;
}

/** The endpoint a row names, if it is a plausible one; used only to label rejections. */
function endpointOf(input: unknown): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const endpoint = (input as { endpoint?: unknown }).endpoint;
  return typeof endpoint === 'string' && endpoint.length > 0 && endpoint.length <= 255 ? endpoint : undefined;
}
