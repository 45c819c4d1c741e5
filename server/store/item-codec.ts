import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { z } from 'zod';
import { deviceEntrySchema, deviceStatusSchema, type DeviceEntry, type DeviceStatus } from '../../shared/bootstrap/device.ts';
import { profileSchema, type Profile } from '../../shared/bootstrap/profile.ts';
import { lifecycleRecordSchema, type LifecycleRecord } from '../../shared/lifecycle/lifecycle-record.ts';
import { canonicalJson } from '../../shared/lifecycle/profile-fingerprint.ts';
import { DEVICE_ATTRIBUTE, ITEM_KIND, LIFECYCLE_ATTRIBUTE, PARTITION_KEY, SORT_KEY, type StoredIdentityKind } from './table.ts';

export type Item = Record<string, AttributeValue>;

/**
 * A stored item the current schemas refuse. The message names the item key and the field,
 * never values: device items hold key material.
 */
export class StoreCorruptionError extends Error {
  readonly itemKey: string;
  constructor(itemKey: string, problem: string) {
    super(`stored item ${itemKey} is corrupted: ${problem}`);
    this.name = 'StoreCorruptionError';
    this.itemKey = itemKey;
  }
}

export function profileKey(name: string): Item {
  return { [PARTITION_KEY]: { S: ITEM_KIND.profile.prefix + name }, [SORT_KEY]: { S: ITEM_KIND.profile.sortKey } };
}

export function deviceKey(endpoint: string): Item {
  return { [PARTITION_KEY]: { S: ITEM_KIND.device.prefix + endpoint }, [SORT_KEY]: { S: ITEM_KIND.device.sortKey } };
}

export function deviceStatusKey(endpoint: string): Item {
  return { [PARTITION_KEY]: { S: ITEM_KIND.deviceStatus.prefix + endpoint }, [SORT_KEY]: { S: ITEM_KIND.deviceStatus.sortKey } };
}

export function deviceLifecycleKey(endpoint: string): Item {
  return { [PARTITION_KEY]: { S: ITEM_KIND.deviceLifecycle.prefix + endpoint }, [SORT_KEY]: { S: ITEM_KIND.deviceLifecycle.sortKey } };
}

export function unknownEndpointKey(endpoint: string): Item {
  return { [PARTITION_KEY]: { S: ITEM_KIND.unknownEndpoint.prefix + endpoint }, [SORT_KEY]: { S: ITEM_KIND.unknownEndpoint.sortKey } };
}

/** The value each identity index holds for a device; absent identities are not indexed. */
export function deviceIdentityValues(device: DeviceEntry): Record<StoredIdentityKind, string | undefined> {
  const credentials = device.bootstrapCredentials;
  return {
    imsi: device.identities.imsi,
    iccid: device.identities.iccid,
    imei: device.identities.imei,
    // Only a PSK identity is looked up at the DTLS handshake; other modes' `identity` is unused.
    pskIdentity: credentials?.securityMode === 'psk' ? credentials.identity : undefined,
    retiringPskIdentity: device.retiringBootstrapCredentials?.find((retiring) => retiring.securityMode === 'psk' && retiring.identity !== undefined)?.identity,
  };
}

/**
 * The fingerprint the ByKeyFingerprint index holds for a device: only a current PSK credential
 * with a key counts (a retiring one is on its way out, and other modes' keys are not shared
 * secrets). A fingerprint left beside another kind of credential is not indexed.
 */
export function deviceKeyFingerprint(device: DeviceEntry): string | undefined {
  const credentials = device.bootstrapCredentials;
  const current = credentials?.securityMode === 'psk' && credentials.secretKey !== undefined ? credentials.keyFingerprint : undefined;
  // A key minted by a replacement has no fingerprint (it is unique by construction): the device
  // is then indexed under the key it was given before, which it has held (replacedKeyFingerprint).
  return current ?? device.replacedKeyFingerprint;
}

export function encodeProfile(profile: Profile): Item {
  return { ...profileKey(profile.name), [DEVICE_ATTRIBUTE.doc]: { S: JSON.stringify(profile) } };
}

/** The status item of a device; `statusStartedAt` is what the conditional write compares. */
export function encodeDeviceStatus(endpoint: string, status: DeviceStatus): Item {
  return {
    ...deviceStatusKey(endpoint),
    [DEVICE_ATTRIBUTE.status]: { S: JSON.stringify(status) },
    [DEVICE_ATTRIBUTE.statusStartedAt]: { S: comparableTime(status.startedAt) },
  };
}

/**
 * The text a lifecycle record is stored as, and compared as by the conditional write: parsed
 * first (defaults filled in, unknown members refused), then canonical JSON, so a record read
 * back and written unchanged is the same text whatever order its keys were built in.
 */
export function lifecycleDoc(record: LifecycleRecord): string {
  return canonicalJson(lifecycleRecordSchema.parse(record));
}

export function encodeLifecycle(endpoint: string, record: LifecycleRecord): Item {
  const eventTime = record.lastAttach?.eventTime;
  return {
    ...deviceLifecycleKey(endpoint),
    [LIFECYCLE_ATTRIBUTE.doc]: { S: lifecycleDoc(record) },
    ...(eventTime !== undefined && { [LIFECYCLE_ATTRIBUTE.lastEventTime]: { S: comparableTime(eventTime) } }),
  };
}

export function decodeLifecycle(item: Item): LifecycleRecord {
  return parseDoc(item, describeKey(item), lifecycleRecordSchema);
}

/** The configuration part of a device entry: status is the backend's record, not configuration. */
export function deviceDoc(device: DeviceEntry): string {
  return JSON.stringify({ ...device, status: undefined });
}

/**
 * Normalizes an ISO time so string comparison orders it: `z.iso.datetime()` accepts any
 * sub-second precision, and `...:00Z` sorts after `...:00.5Z` as text.
 */
export function comparableTime(iso: string): string {
  return new Date(iso).toISOString();
}

export function decodeProfile(item: Item): Profile {
  const itemKey = describeKey(item);
  const profile = parseDoc(item, itemKey, profileSchema);
  if (stringAttribute(item, PARTITION_KEY) !== ITEM_KIND.profile.prefix + profile.name) {
    throw new StoreCorruptionError(itemKey, 'the profile name does not match the item key');
  }
  return profile;
}

/** Told about stored data the store skipped rather than fail on; names items and attributes, never values. */
export type StoreWarning = (message: string) => void;

/**
 * Decodes a device from its device item and, when there is one, its status item. Device items
 * of earlier versions hold a status themselves; the newer of the two records is kept (index
 * items hold neither). A status the current schema refuses (an older version wrote it, or it
 * was edited by hand) is left out and reported to `onWarning`: it is the record of the last
 * bootstrap, and failing the whole device on it would keep that device from ever bootstrapping
 * again.
 */
export function decodeDevice(item: Item, onWarning?: StoreWarning, statusItem?: Item): DeviceEntry {
  const itemKey = describeKey(item);
  const device = parseDoc(item, itemKey, deviceEntrySchema);
  const pk = stringAttribute(item, PARTITION_KEY);
  if (pk !== undefined && pk !== ITEM_KIND.device.prefix + device.endpoint) {
    throw new StoreCorruptionError(itemKey, 'the endpoint does not match the item key');
  }
  const legacy = decodeStatus(item, itemKey, onWarning);
  const recorded = statusItem === undefined ? undefined : decodeStatus(statusItem, describeKey(statusItem), onWarning);
  const status = newerStatus(legacy, recorded);
  return status ? { ...device, status } : device;
}

/** Orders outcomes of one endpoint by session start, as the conditional status write does. */
export function isNewerOrSame(candidate: DeviceStatus, than: DeviceStatus): boolean {
  return Date.parse(candidate.startedAt) >= Date.parse(than.startedAt);
}

/** The later session's outcome; on a tie `b` (callers pass the one written later). */
export function newerStatus(a: DeviceStatus | undefined, b: DeviceStatus | undefined): DeviceStatus | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return isNewerOrSame(b, a) ? b : a;
}

function decodeStatus(item: Item, itemKey: string, onWarning: StoreWarning | undefined): DeviceStatus | undefined {
  if (item[DEVICE_ATTRIBUTE.status] === undefined) return undefined;
  const text = stringAttribute(item, DEVICE_ATTRIBUTE.status);
  try {
    if (text === undefined) throw new StoreCorruptionError(itemKey, `attribute ${DEVICE_ATTRIBUTE.status} is not a string`);
    return parseJson(text, itemKey, DEVICE_ATTRIBUTE.status, deviceStatusSchema);
  } catch (error) {
    if (!(error instanceof StoreCorruptionError)) throw error;
    onWarning?.(`${error.message}; device read without its last bootstrap outcome`);
    return undefined;
  }
}

function parseDoc<S extends z.ZodType>(item: Item, itemKey: string, schema: S): z.output<S> {
  const text = stringAttribute(item, DEVICE_ATTRIBUTE.doc);
  if (text === undefined) throw new StoreCorruptionError(itemKey, `attribute ${DEVICE_ATTRIBUTE.doc} is missing or not a string`);
  return parseJson(text, itemKey, DEVICE_ATTRIBUTE.doc, schema);
}

function parseJson<S extends z.ZodType>(text: string, itemKey: string, attribute: string, schema: S): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The SyntaxError quotes the text around the fault, which may be key material.
    throw new StoreCorruptionError(itemKey, `attribute ${attribute} is not valid JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    // zod 4 messages name the path and the expectation, not the received value.
    const issues = parsed.error.issues.slice(0, 5).map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`);
    throw new StoreCorruptionError(itemKey, `attribute ${attribute}: ${issues.join('; ')}`);
  }
  return parsed.data;
}

export function stringAttribute(item: Item, name: string): string | undefined {
  const value = item[name];
  return value !== undefined && 'S' in value && typeof value.S === 'string' ? value.S : undefined;
}

export function numberAttribute(item: Item, name: string): number | undefined {
  const value = item[name];
  return value !== undefined && 'N' in value && typeof value.N === 'string' ? Number(value.N) : undefined;
}

/** `PK/SK` for messages; index items carry PK too, as every index projects the table keys. */
export function describeKey(item: Item): string {
  const pk = stringAttribute(item, PARTITION_KEY) ?? '(no PK)';
  const sk = stringAttribute(item, SORT_KEY);
  return sk === undefined ? pk : `${pk}/${sk}`;
}
