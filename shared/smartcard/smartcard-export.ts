import type { DeviceEntry } from '../bootstrap/device.ts';
import type { BootstrapPlan } from '../bootstrap/plan.ts';
import { encodeBootstrapFile } from './bootstrap-file.ts';
import { buildCardImage, encodeCardImage } from './card-image.ts';
import { generateScp03KeySet, keyCheckValue, scp03KeySetFromRecord, scp03KeySetToRecord, type Scp03KeyRecord } from './scp03-keys.ts';

/** One file of a device's smartcard export, as the CLI writes it and the API answers it. */
export interface SmartcardFile {
  readonly name: string;
  readonly mediaType: string;
  readonly bytes: Uint8Array;
}

/** `scp03-keys.json`: what the card vendor and the device maker both load, with key check values to compare without showing keys. */
export interface Scp03KeysDocument extends Scp03KeyRecord {
  readonly kcv: { readonly enc: string; readonly mac: string; readonly dek: string };
}

/** The device entry field a device without SCP03 keys is refused on; the admin API names it and the CLI reads it to tell this refusal from the others. */
export const NO_SCP03_KEYS_FIELD = 'smartcard.scp03';

export function scp03KeysDocument(record: Scp03KeyRecord): Scp03KeysDocument {
  const keys = scp03KeySetFromRecord(record);
  const kcv = (key: Uint8Array): string => Buffer.from(keyCheckValue(key)).toString('hex');
  return { ...scp03KeySetToRecord(keys), kcv: { enc: kcv(keys.enc), mac: kcv(keys.mac), dek: kcv(keys.dek) } };
}

const utf8 = new TextEncoder();

/**
 * A device's UICC files (LwM2M Core Appendix G): the card image (EF(DIR), ODF, DODF and EF
 * LwM2M_Bootstrap, the JSON form of card-image.ts), the EF's content as raw bytes for card
 * personalisation tools, and the card's SCP03 static keys. Always holds keys: the bootstrap file
 * is where the device's keys live. A plan too large for the EF is a CodecError.
 */
export function smartcardFiles(plan: BootstrapPlan, scp03: Scp03KeyRecord): SmartcardFile[] {
  const bootstrapData = encodeBootstrapFile(plan);
  return [
    { name: 'card-image.json', mediaType: 'application/json', bytes: utf8.encode(encodeCardImage(buildCardImage(bootstrapData))) },
    { name: 'lwm2m-bootstrap.bin', mediaType: 'application/octet-stream', bytes: bootstrapData },
    { name: 'scp03-keys.json', mediaType: 'application/json', bytes: utf8.encode(`${JSON.stringify(scp03KeysDocument(scp03), null, 2)}\n`) },
  ];
}

/** The card's keys as stored, or fresh ones (CSPRNG) when the device has none and `generate` allows it; never a rotation. */
export function cardKeys(device: DeviceEntry, generate: boolean): { readonly record: Scp03KeyRecord; readonly generated: boolean } | undefined {
  const stored = device.smartcard?.scp03;
  if (stored !== undefined) return { record: stored, generated: false };
  return generate ? { record: scp03KeySetToRecord(generateScp03KeySet()), generated: true } : undefined;
}
