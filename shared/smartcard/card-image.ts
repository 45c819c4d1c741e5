import { z } from 'zod';
import { CodecError } from '../errors.ts';
import { decodeBootstrapFile, type SmartcardBootstrap } from './bootstrap-file.ts';
import {
  decodeApplicationTemplate,
  decodeDodf,
  decodeOdf,
  EF_DIR_FID,
  EF_DODF_BOOTSTRAP_FID,
  EF_LWM2M_BOOTSTRAP_FID,
  EF_ODF_FID,
  encodeApplicationTemplate,
  encodeDodf,
  encodeOdf,
  lwm2mBootstrapDataObjects,
  lwm2mBootstrapPath,
  MF_FID,
  PKCS15_AID,
  PKCS15_DF_FID,
  type CommonObjectFlags,
} from './pkcs15.ts';

/**
 * The file system a simulated UICC exposes for LwM2M Core 1.1 Appendix G (Figure 23, "3G UICC
 * File Structure and Bootstrap data location"): EF(DIR) under the MF holding the PKCS#15
 * application template, and in the PKCS#15 application DF the EF(ODF), EF(DODF-bootstrap) and EF
 * LwM2M_Bootstrap. Files are keyed by their path from the MF, file identifiers in hex joined by
 * "/" (`3F00/5015/6432`); DFs exist implicitly through the paths under them. Which DF an AID
 * selects is read from EF(DIR), the one place the card states it, so the two cannot disagree.
 */

/** ETSI TS 102 221 file structures the image holds: binary (G.3: every Appendix G file) and linear fixed (EF(DIR), G.1). */
export type CardFile =
  | { readonly structure: 'transparent'; readonly data: Uint8Array }
  | { readonly structure: 'linear-fixed'; readonly records: readonly Uint8Array[] };

export interface CardImage {
  readonly files: ReadonlyMap<string, CardFile>;
}

const fid = (id: number): string => id.toString(16).toUpperCase().padStart(4, '0');
const APPLICATION_DF = `${fid(MF_FID)}/${fid(PKCS15_DF_FID)}`;

export const CardPaths = {
  efDir: `${fid(MF_FID)}/${fid(EF_DIR_FID)}`,
  pkcs15: APPLICATION_DF,
  odf: `${APPLICATION_DF}/${fid(EF_ODF_FID)}`,
  dodf: `${APPLICATION_DF}/${fid(EF_DODF_BOOTSTRAP_FID)}`,
  lwm2mBootstrap: `${APPLICATION_DF}/${fid(EF_LWM2M_BOOTSTRAP_FID)}`,
} as const;

export interface CardImageOptions {
  /** CommonObjectFlags of the DODF entries; see lwm2mBootstrapDataObjects for the default. */
  readonly flags?: Partial<CommonObjectFlags>;
  /**
   * Size the issuer gives EF LwM2M_Bootstrap ("File size: decided by the card issuer", G.3.3);
   * the bytes after the data are 0xFF as on an erased card. Defaults to the data's length.
   */
  readonly bootstrapFileSize?: number;
}

const PKCS15_TEMPLATE = { aid: PKCS15_AID, label: 'PKCS#15', path: pathBytes(APPLICATION_DF) };

/** A card holding `bootstrapData` (the bytes of encodeBootstrapFile) where Appendix G puts it. */
export function buildCardImage(bootstrapData: Uint8Array, options: CardImageOptions = {}): CardImage {
  const size = options.bootstrapFileSize ?? bootstrapData.length;
  if (!Number.isInteger(size) || size < bootstrapData.length || size > 0xffff) {
    throw new RangeError(`bootstrapFileSize ${size} cannot hold ${bootstrapData.length} bytes`);
  }
  const data = new Uint8Array(size).fill(0xff);
  data.set(bootstrapData);
  const relative = (id: number): Uint8Array => Uint8Array.of(id >> 8, id & 0xff);
  return {
    files: new Map<string, CardFile>([
      [CardPaths.efDir, { structure: 'linear-fixed', records: [encodeApplicationTemplate(PKCS15_TEMPLATE)] }],
      [CardPaths.odf, { structure: 'transparent', data: encodeOdf([{ kind: 'dataObjects', path: relative(EF_DODF_BOOTSTRAP_FID) }]) }],
      [CardPaths.dodf, { structure: 'transparent', data: encodeDodf(lwm2mBootstrapDataObjects(relative(EF_LWM2M_BOOTSTRAP_FID), options.flags)) }],
      [CardPaths.lwm2mBootstrap, { structure: 'transparent', data }],
    ]),
  };
}

// ---------------------------------------------------------------------------------------------
// Reading as a device does (G.2.5)

export interface CardBootstrap {
  /** Path of the application DF the PKCS#15 AID selects. */
  readonly applicationPath: string;
  /** Path of EF LwM2M_Bootstrap as the DODF gave it. */
  readonly bootstrapPath: string;
  readonly bootstrap: SmartcardBootstrap;
}

/**
 * G.2.5: select the PKCS#15 application (its AID found in EF(DIR), G.2.1), read EF(ODF) to
 * locate the DODF-bootstrap, read the DODF to locate LwM2M_Bootstrap, read and decode it. DODFs
 * are tried in the ODF's priority order (G.1). Every failure is a CodecError naming the file.
 */
export function readCardBootstrap(image: CardImage): CardBootstrap {
  const applicationPath = pkcs15ApplicationPath(image);
  const odf = transparent(image, `${applicationPath}/${fid(EF_ODF_FID)}`);
  const dodfs = decodeOdf(odf).filter((entry) => entry.kind === 'dataObjects' && entry.path !== undefined);
  if (dodfs.length === 0) throw new CodecError('MALFORMED', 'EF(ODF) lists no data object directory', { field: `${applicationPath}/${fid(EF_ODF_FID)}` });
  for (const entry of dodfs) {
    const dodfPath = resolvePath(applicationPath, entry.path!);
    const target = lwm2mBootstrapPath(decodeDodf(transparent(image, dodfPath)));
    if (target === undefined) continue;
    const bootstrapPath = resolvePath(applicationPath, target);
    return { applicationPath, bootstrapPath, bootstrap: decodeBootstrapFile(transparent(image, bootstrapPath)) };
  }
  throw new CodecError('MALFORMED', 'no DODF lists an LwM2M bootstrap data object', { field: applicationPath });
}

/** The DF the PKCS#15 AID selects, from EF(DIR)'s application templates (G.1, G.2.1). */
export function pkcs15ApplicationPath(image: CardImage): string {
  const dir = image.files.get(CardPaths.efDir);
  if (dir === undefined) throw new CodecError('MALFORMED', 'card has no EF(DIR)', { field: CardPaths.efDir });
  if (dir.structure !== 'linear-fixed') throw new CodecError('UNSUPPORTED', 'EF(DIR) is read as a linear fixed file', { field: CardPaths.efDir });
  for (const record of dir.records) {
    if (record.every((byte) => byte === 0xff)) continue; // an unused record
    const template = decodeApplicationTemplate(record);
    if (sameBytes(template.aid, PKCS15_AID)) return resolvePath(fid(MF_FID), template.path);
  }
  throw new CodecError('MALFORMED', 'EF(DIR) has no PKCS#15 application template', { field: CardPaths.efDir });
}

/**
 * A PKCS#15 path (PKCS #15 Path; ETSI TS 102 221 names the current ADF 7FFF) as an image key: absolute when it
 * starts with 3F00, under the current application when it starts with 7FFF, else relative to `base`.
 */
export function resolvePath(base: string, path: Uint8Array): string {
  const ids: string[] = [];
  for (let index = 0; index + 1 < path.length; index += 2) ids.push(fid(path[index]! * 256 + path[index + 1]!));
  const [first, ...rest] = ids;
  if (first === fid(MF_FID)) return [first, ...rest].join('/');
  if (first === '7FFF') return [base, ...rest].join('/');
  return [base, ...ids].join('/');
}

function transparent(image: CardImage, path: string): Uint8Array {
  const file = image.files.get(path);
  if (file === undefined) throw new CodecError('MALFORMED', 'card has no file at this path', { field: path });
  if (file.structure !== 'transparent') throw new CodecError('MALFORMED', 'expected a binary (transparent) file', { field: path });
  return file.data;
}

function pathBytes(path: string): Uint8Array {
  return Uint8Array.from(path.split('/').flatMap((id) => [parseInt(id.slice(0, 2), 16), parseInt(id.slice(2), 16)]));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}

// ---------------------------------------------------------------------------------------------
// JSON form for files on disk

const hexBytes = z.string().regex(/^(?:[0-9a-fA-F]{2})*$/, 'hex, two digits a byte');
const filePath = z.string().regex(/^3F00(?:\/(?!3F00)[0-9A-F]{4})+$/, 'a path from the MF such as 3F00/5015/6432, file ids in upper-case hex');

const cardFileJson = z.discriminatedUnion('structure', [
  z.strictObject({ structure: z.literal('transparent'), data: hexBytes.refine((text) => text.length <= 0xffff * 2, 'at most 65535 bytes') }),
  z.strictObject({
    structure: z.literal('linear-fixed'),
    records: z
      .array(hexBytes.refine((text) => text.length >= 2 && text.length <= 255 * 2, 'a record holds 1 to 255 bytes'))
      .min(1)
      .max(254)
      .refine((records) => records.every((record) => record.length === records[0]!.length), 'records of a linear fixed file have one length'),
  }),
]);

export const cardImageJsonSchema = z.strictObject({
  format: z.literal('lwm2m-uicc-card-image'),
  v: z.literal(1),
  files: z.record(filePath, cardFileJson),
});
export type CardImageJson = z.infer<typeof cardImageJsonSchema>;

export function cardImageToJson(image: CardImage): CardImageJson {
  const files: CardImageJson['files'] = {};
  for (const [path, file] of [...image.files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    files[path] =
      file.structure === 'transparent' ? { structure: 'transparent', data: toHex(file.data) } : { structure: 'linear-fixed', records: file.records.map(toHex) };
  }
  return { format: 'lwm2m-uicc-card-image', v: 1, files };
}

/** Validates a parsed JSON value; the first problem becomes a CodecError naming its JSON pointer (RFC 6901). */
export function cardImageFromJson(value: unknown): CardImage {
  const parsed = cardImageJsonSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const pointer = issue.path.map((key) => `/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
    throw new CodecError('MALFORMED', `card image: ${issue.message}`, { field: pointer });
  }
  const files = new Map<string, CardFile>();
  for (const [path, file] of Object.entries(parsed.data.files)) {
    files.set(
      path,
      file.structure === 'transparent' ? { structure: 'transparent', data: fromHex(file.data) } : { structure: 'linear-fixed', records: file.records.map(fromHex) },
    );
  }
  return { files };
}

export function encodeCardImage(image: CardImage): string {
  return `${JSON.stringify(cardImageToJson(image), null, 2)}\n`;
}

export function decodeCardImage(text: string): CardImage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CodecError('MALFORMED', 'card image is not JSON');
  }
  return cardImageFromJson(value);
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('').toUpperCase();
}

function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}
