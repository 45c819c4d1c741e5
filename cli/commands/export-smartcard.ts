import { parseArgs } from 'node:util';
import type { SmartcardExportAnswer } from '../../functions/admin/documents.ts';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import type { Scp03KeyRecord } from '../../shared/bootstrap/credentials.ts';
import type { DeviceEntry } from '../../shared/bootstrap/device.ts';
import type { BootstrapPlan } from '../../shared/bootstrap/plan.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';
import { CodecError } from '../../shared/errors.ts';
import { cardKeys, NO_SCP03_KEYS_FIELD, scp03KeysDocument, smartcardFiles, type Scp03KeysDocument, type SmartcardFile } from '../../shared/smartcard/smartcard-export.ts';
import { AdminApiError, type AdminApiClient, type AdminApiConnector } from '../admin-api-client.ts';
import { printJson, remoteAdminApi } from '../admin-io.ts';
import { withStore, type StoreOpener } from '../data-dir.ts';
import { writeDeviceDirectories, type WrittenDevice } from '../factory-output.ts';
import { InputError, UsageError } from '../usage.ts';
import { EXPORT_OPTIONS, refused, storedDevices, wouldNotBootstrap } from './export-shared.ts';
import type { ImportIO } from './import.ts';

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
export async function exportSmartcard(args: string[], io: ImportIO, open: StoreOpener, connect: AdminApiConnector): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...EXPORT_OPTIONS,
      'generate-scp03-keys': { type: 'boolean', default: false },
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
