import { z } from 'zod';
import { redactDevice, redactProfile } from '../../shared/bootstrap/redact.ts';
import type { DeviceEntry } from '../../shared/bootstrap/device.ts';
import type { Profile } from '../../shared/bootstrap/profile.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';
import { classifyWrittenDeviceKey, withKeyFingerprint } from '../../shared/bootstrap/device-key-classification.ts';
import type { KeyFingerprinter } from '../../shared/lifecycle/key-fingerprint.ts';
import { contentFormatName } from '../../shared/content/format.ts';
import { factoryExportOf, smartcardExportOf, validDevice, validProfile } from './documents.ts';
import { ApiError, json, jsonBody, notFound, type HttpApiEvent, type HttpApiResult } from './http.ts';
import { importDevices } from './import.ts';
import type { AdminOperationId } from './routes.ts';

export interface OperationRequest {
  readonly event: HttpApiEvent;
  readonly params: Readonly<Record<string, string>>;
  readonly store: BootstrapStore;
  /** Fingerprints bootstrap PSKs for the store's sharing index (KMS GenerateMac on AWS). */
  readonly fingerprinter: KeyFingerprinter;
}

const flag = z.enum(['true', 'false']).transform((value) => value === 'true');

/** Query parameters; each operation reads the ones it takes and refuses unknown ones. */
const querySchemas = {
  listProfiles: z.strictObject({ cursor: z.string().min(1).optional(), showSecrets: flag.optional() }),
  getProfile: z.strictObject({ showSecrets: flag.optional() }),
  listDevices: z.strictObject({ cursor: z.string().min(1).optional(), profile: z.string().min(1).optional(), showSecrets: flag.optional() }),
  getDevice: z.strictObject({ showSecrets: flag.optional() }),
  importDevices: z.strictObject({ dryRun: flag.optional(), refuseLowEntropy: flag.optional() }),
  getFactoryExport: z.strictObject({ includeKeys: flag.optional() }),
  none: z.strictObject({}),
} as const;

function query<S extends keyof typeof querySchemas>(event: HttpApiEvent, schema: S): z.infer<(typeof querySchemas)[S]> {
  const parsed = querySchemas[schema].safeParse(event.queryStringParameters ?? {});
  if (parsed.success) return parsed.data as z.infer<(typeof querySchemas)[S]>;
  throw new ApiError(
    400,
    'bad-request',
    'invalid query parameters',
    parsed.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys' ? issue.keys.map((key) => ({ field: key, message: 'not a known query parameter' })) : [{ field: issue.path.join('.'), message: issue.message }],
    ),
  );
}

const showProfile = (secrets: boolean | undefined) => (profile: Profile): Profile => (secrets === true ? profile : redactProfile(profile));
const showDevice = (secrets: boolean | undefined) => (device: DeviceEntry): DeviceEntry => (secrets === true ? device : redactDevice(device));

/**
 * `POST /devices/{endpoint}/smartcard`'s body. `includeKeys` must be literally true: a card's
 * bootstrap file holds the device's keys, so the caller says it knows before getting them.
 */
const smartcardRequestSchema = z.strictObject({ includeKeys: z.literal(true), generateScp03Keys: z.boolean().optional() });

function smartcardRequest(event: HttpApiEvent): z.infer<typeof smartcardRequestSchema> {
  const body = jsonBody(event);
  const parsed = smartcardRequestSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ field: key, message: 'not a known field' }));
    const field = issue.path.join('.');
    if (field === 'includeKeys') return [{ field, message: "must be true: a card's bootstrap file holds the device's keys, and so does the export" }];
    return [{ field, message: issue.message }];
  });
  throw new ApiError(400, 'bad-request', 'invalid smartcard export request', issues);
}

type Operation = (request: OperationRequest) => Promise<HttpApiResult>;

export const operations: Readonly<Record<AdminOperationId, Operation>> = {
  async listProfiles({ event, store }) {
    const { cursor, showSecrets } = query(event, 'listProfiles');
    const page = await store.listProfiles(cursor);
    return json(200, { items: page.items.map(showProfile(showSecrets)), ...(page.cursor !== undefined && { cursor: page.cursor }) });
  },

  async getProfile({ event, params, store }) {
    const { showSecrets } = query(event, 'getProfile');
    const profile = await store.getProfile(params['name']!);
    if (profile === undefined) throw notFound(`profile "${params['name']}"`);
    return json(200, showProfile(showSecrets)(profile));
  },

  async putProfile({ event, params, store }) {
    query(event, 'none');
    const profile = validProfile(jsonBody(event), params['name']!);
    await store.putProfile(profile);
    return json(200, { stored: 'profile', name: profile.name });
  },

  async deleteProfile({ event, params, store }) {
    query(event, 'none');
    // Devices naming the profile stay, as with the CLI: the backend refuses them with a reason.
    if (!(await store.deleteProfile(params['name']!))) throw notFound(`profile "${params['name']}"`);
    return json(200, { deleted: 'profile', name: params['name'] });
  },

  async listDevices({ event, store }) {
    const { cursor, profile, showSecrets } = query(event, 'listDevices');
    // One store page per call, filtered after reading: a filtered page can be short, even empty, and still have a cursor.
    const page = await store.listDevices(cursor);
    const items = profile === undefined ? page.items : page.items.filter((device) => device.profile === profile);
    return json(200, { items: items.map(showDevice(showSecrets)), ...(page.cursor !== undefined && { cursor: page.cursor }) });
  },

  async getDevice({ event, params, store }) {
    const { showSecrets } = query(event, 'getDevice');
    const device = await store.getDevice(params['endpoint']!);
    if (device === undefined) throw notFound(`device "${params['endpoint']}"`);
    return json(200, showDevice(showSecrets)(device));
  },

  async putDevice({ event, params, store, fingerprinter }) {
    query(event, 'none');
    const device = await withKeyFingerprint(await validDevice(store, jsonBody(event), params['endpoint']!), fingerprinter);
    // Counted before the write, so the device's own stored version is left out either way.
    const classification = await classifyWrittenDeviceKey(store, device);
    await store.putDevice(device);
    return json(200, {
      stored: 'device',
      endpoint: device.endpoint,
      profile: device.profile,
      // Codes and text, never the key: the account is replaced at the device's next bootstrap.
      ...(classification?.entropy === 'low' && { lowEntropy: classification.reasons }),
    });
  },

  async deleteDevice({ event, params, store }) {
    query(event, 'none');
    if (!(await store.deleteDevice(params['endpoint']!))) throw notFound(`device "${params['endpoint']}"`);
    return json(200, { deleted: 'device', endpoint: params['endpoint'] });
  },

  async importDevices({ event, store, fingerprinter }) {
    const { dryRun, refuseLowEntropy } = query(event, 'importDevices');
    return json(200, await importDevices(store, event, { dryRun: dryRun === true, refuseLowEntropy: refuseLowEntropy === true }, fingerprinter));
  },

  async getDeviceStatus({ event, params, store }) {
    query(event, 'none');
    const endpoint = params['endpoint']!;
    const device = await store.getDevice(endpoint);
    if (device === undefined) throw notFound(`device "${endpoint}"`);
    const status = device.status;
    return json(200, {
      endpoint,
      status: status === undefined ? null : { ...status, ...(status.contentFormat !== undefined && { contentFormatName: contentFormatName(status.contentFormat) }) },
    });
  },

  async getFactoryExport({ event, params, store }) {
    const { includeKeys } = query(event, 'getFactoryExport');
    return json(200, await factoryExportOf(store, params['endpoint']!, includeKeys === true, new Date().toISOString()));
  },

  async exportSmartcard({ event, params, store }) {
    query(event, 'none');
    const { generateScp03Keys } = smartcardRequest(event);
    return json(200, await smartcardExportOf(store, params['endpoint']!, generateScp03Keys === true));
  },
};
