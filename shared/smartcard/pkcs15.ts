import { concatBytes } from '../content/bytes.ts';
import { CodecError } from '../errors.ts';
import {
  childScope,
  contextTag,
  decodeNamedBits,
  decodeOid,
  decodeUtf8,
  derConstructed,
  derElement,
  derNamedBits,
  derObjectIdentifier,
  derOctetString,
  derSequence,
  derUtf8String,
  DerTag,
  expectTag,
  readDerElement,
  readDerElements,
  scopeOf,
  type DerElement,
  type DerScope,
} from './der.ts';

/**
 * The PKCS#15 structures LwM2M Core 1.1 Appendix G ("Storage of LwM2M Bootstrap Information on
 * the Smartcard", omadm/omaoriginal TS_Core/Appendix_G.md) needs to lead a device from the UICC's
 * EF(DIR) to EF LwM2M_Bootstrap (G.2.5): the PKCS#15 application template, EF(ODF) pointing at
 * EF(DODF-bootstrap), and the DODF entry pointing at the bootstrap file. ASN.1 per PKCS #15 v1.1
 * (module with IMPLICIT TAGS; parameterised fields and CHOICEs are tagged explicitly).
 */

/** The PKCS #15 application identifier: RID A0 00 00 00 63, PIX "PKCS-15". G.2.1: the device selects the ADF with it. */
export const PKCS15_AID = Uint8Array.of(0xa0, 0x00, 0x00, 0x00, 0x63, 0x50, 0x4b, 0x43, 0x53, 0x2d, 0x31, 0x35);
/** ETSI TS 102 221 §13.1: EF(DIR) under the MF. G.1: it holds the PKCS#15 application template. */
export const MF_FID = 0x3f00;
export const EF_DIR_FID = 0x2f00;
/** PKCS #15: the PKCS#15 application DF's default identifier. */
export const PKCS15_DF_FID = 0x5015;
/** G.3.1: "Identifier: default 0x5031, see [PKCS#15]". */
export const EF_ODF_FID = 0x5031;
/** G.3.2: "Identifier: 0x6430, See ODF". */
export const EF_DODF_BOOTSTRAP_FID = 0x6430;
/**
 * G.3.3 leaves the identifier to the DODF ("Identifier: See DODF"). 0x6432, next to the DODF,
 * is the value deployed cards and client readers use (Nordic's UICC reader test card, Anjay's
 * hard-coded override example), so a reader that skips the directory still finds it.
 */
export const EF_LWM2M_BOOTSTRAP_FID = 0x6432;
/**
 * G.3.2 asks for "Object identifier indicating a LwM2M boostrap Object" without printing it in
 * this draft; 2.23.43.9.1 (under the WAP/OMA arc 2.23.43) is the value client SDKs match (Anjay
 * calls it the standards-compliant default; the nRF modem library matches it too).
 */
export const LWM2M_BOOTSTRAP_OID = '2.23.43.9.1';
/** G.3.2 leaves the readable label to the issuer; this is the one deployed cards carry. */
export const LWM2M_BOOTSTRAP_LABEL = 'LwM2M Bootstrap';

// ---------------------------------------------------------------------------------------------
// EF(DIR): application templates (ETSI TS 102 221 §13.1; ISO/IEC 7816-4 tags)

const TAG_APPLICATION_TEMPLATE = 0x61;
const TAG_AID = 0x4f;
const TAG_APPLICATION_LABEL = 0x50;
const TAG_PATH = 0x51;

/** G.1: "Application template MUST consist of Application identifier (tag 0x4F) and Path (tag 0x51)". */
export interface ApplicationTemplate {
  readonly aid: Uint8Array;
  readonly label?: string;
  /** Path of the application DF from the MF, e.g. 3F00 5015. */
  readonly path: Uint8Array;
}

export function encodeApplicationTemplate(template: ApplicationTemplate): Uint8Array {
  return derConstructed(TAG_APPLICATION_TEMPLATE, [
    derElement(TAG_AID, template.aid),
    ...(template.label === undefined ? [] : [derElement(TAG_APPLICATION_LABEL, new TextEncoder().encode(template.label))]),
    derElement(TAG_PATH, template.path),
  ]);
}

/** One EF(DIR) record: a template, then 0xFF filler up to the record length. */
export function decodeApplicationTemplate(record: Uint8Array): ApplicationTemplate {
  const scope = scopeOf(record);
  const outer = expectTag(readDerElement(scope, 0, 'EF(DIR)'), TAG_APPLICATION_TEMPLATE, 'application template');
  expectPadding(record, outer.end, 'EF(DIR) record');
  let aid: Uint8Array | undefined;
  let label: string | undefined;
  let path: Uint8Array | undefined;
  for (const element of readDerElements(childScope(scope, outer), 'application template')) {
    if (element.tag === TAG_AID) aid = once(aid, element, 'application identifier (4F)');
    else if (element.tag === TAG_PATH) path = once(path, element, 'path (51)');
    else if (element.tag === TAG_APPLICATION_LABEL) label = decodeUtf8(element, 'application label (50)');
  }
  if (aid === undefined || aid.length < 5 || aid.length > 16) {
    throw new CodecError('MALFORMED', 'application template needs an AID of 5 to 16 bytes', { offset: outer.offset, field: 'application identifier (4F)' });
  }
  if (path === undefined || path.length === 0 || path.length % 2 !== 0) {
    throw new CodecError('MALFORMED', 'application template needs a path of whole file identifiers', { offset: outer.offset, field: 'path (51)' });
  }
  return { aid, path, ...(label !== undefined && { label }) };
}

// ---------------------------------------------------------------------------------------------
// EF(ODF): PKCS15Objects ([PKCS#15] Section 5.5.1, as G.3.1 cites it)

/**
 * PKCS15Objects ::= CHOICE { privateKeys [0], ..., dataObjects [7] DataObjects, authObjects [8], ... }
 * Each alternative is PathOrObjects, a CHOICE, so its tag is explicit: `A7 { Path }`. Only the
 * `path` alternative is written; G.1 lists DODFs "in priority order (i.e. the first DODF has the
 * highest priority)", so entry order is kept.
 */
export const OdfChoice = {
  privateKeys: 0,
  publicKeys: 1,
  trustedPublicKeys: 2,
  secretKeys: 3,
  certificates: 4,
  trustedCertificates: 5,
  usefulCertificates: 6,
  dataObjects: 7,
  authObjects: 8,
} as const;
export type OdfChoiceName = keyof typeof OdfChoice;

export interface OdfEntry {
  /** Which directory file this is; undefined for a choice PKCS #15 adds after v1.1. */
  readonly kind: OdfChoiceName | undefined;
  readonly tagNumber: number;
  /** The directory file's path; undefined when the entry carries its objects inline. */
  readonly path: Uint8Array | undefined;
}

export function encodeOdf(entries: readonly { readonly kind: OdfChoiceName; readonly path: Uint8Array }[]): Uint8Array {
  return concatBytes(entries.map((entry) => derConstructed(contextTag(OdfChoice[entry.kind], true), [encodePath(entry.path)])));
}

export function decodeOdf(bytes: Uint8Array): OdfEntry[] {
  const scope = scopeOf(bytes);
  return directoryElements(scope, 'EF(ODF)').map((element) => {
    const tagNumber = element.tag & 0x1f;
    if ((element.tag & 0xe0) !== 0xa0) {
      throw new CodecError('MALFORMED', 'an EF(ODF) entry is a constructed context-specific tag', { offset: element.offset, field: 'EF(ODF)' });
    }
    const kind = (Object.keys(OdfChoice) as OdfChoiceName[]).find((name) => OdfChoice[name] === tagNumber);
    const inner = readDerElements(childScope(scope, element), 'EF(ODF)');
    const first = inner[0];
    if (first === undefined || inner.length !== 1) {
      throw new CodecError('MALFORMED', 'an EF(ODF) entry holds exactly one PathOrObjects', { offset: element.offset, field: 'EF(ODF)' });
    }
    const path = first.tag === DerTag.SEQUENCE ? decodePath(scope, first, 'EF(ODF) path') : undefined;
    return { kind, tagNumber, path };
  });
}

// ---------------------------------------------------------------------------------------------
// EF(DODF): PKCS15Data entries ([PKCS#15] Section 6.7, as G.3.2 cites it)

/** CommonObjectFlags ::= BIT STRING { private(0), modifiable(1) }. G.2.4: either one set means cardholder verification. */
export interface CommonObjectFlags {
  readonly private: boolean;
  readonly modifiable: boolean;
}

/**
 * One data object. `opaque` is PKCS15Data's untagged opaqueDO alternative, `oid` its
 * oidDO [1]: G.1 says the provisioning files "are stored as PKCS#15 opaque data objects" typed
 * by CommonDataObjectAttributes.applicationOID (G.3.2), while the later TS example and the
 * clients built on it (nRF modem library) look for an oidDO whose id is the LwM2M OID.
 */
export interface DataObjectEntry {
  readonly type: 'opaque' | 'oid';
  /** CommonObjectAttributes.label: "Readable label describing the provisioning document" (G.3.2). */
  readonly label: string | undefined;
  readonly flags: CommonObjectFlags;
  readonly applicationName: string | undefined;
  readonly applicationOid: string | undefined;
  /** OidDO.id, for `oid` entries. */
  readonly oid: string | undefined;
  /** Path.path of the indirect value: "Pointer to the contents of the provisioning document" (G.3.2). */
  readonly path: Uint8Array | undefined;
  /** The OID on the card wraps a second OID TLV (`06 06 06 04 ...`), a slip cards copied from the TS example. */
  readonly wrappedOid: boolean;
  /** Where the entry starts in the DODF. */
  readonly offset: number;
}

/** An entry of a kind we do not read (externalIDO, or a later addition): kept so a directory lists it. */
export interface OtherDataObjectEntry {
  readonly type: 'other';
  readonly tag: number;
  readonly offset: number;
}

export type DodfEntry = DataObjectEntry | OtherDataObjectEntry;

export interface DataObjectInput {
  readonly type: 'opaque' | 'oid';
  readonly label?: string;
  readonly flags?: Partial<CommonObjectFlags>;
  readonly applicationName?: string;
  readonly applicationOid?: string;
  readonly oid?: string;
  readonly path: Uint8Array;
}

const TAG_OID_DO = contextTag(1, true);
const TAG_TYPE_ATTRIBUTES = contextTag(1, true);

/**
 * PKCS15Object ::= SEQUENCE { commonObjectAttributes, classAttributes, subClassAttributes [0] OPTIONAL,
 * typeAttributes [1] } with CommonDataObjectAttributes as class attributes; typeAttributes is an
 * explicit [1] (a parameter), holding Opaque (ObjectValue, `indirect` Path) or OidDO { id, value }.
 */
export function encodeDataObject(entry: DataObjectInput): Uint8Array {
  const flags: number[] = [...(entry.flags?.private === true ? [0] : []), ...(entry.flags?.modifiable === true ? [1] : [])];
  const common = derSequence([...(entry.label === undefined ? [] : [derUtf8String(entry.label)]), derNamedBits(flags)]);
  const commonData = derSequence([
    ...(entry.applicationName === undefined ? [] : [derUtf8String(entry.applicationName)]),
    ...(entry.applicationOid === undefined ? [] : [derObjectIdentifier(entry.applicationOid)]),
  ]);
  const value = encodePath(entry.path);
  if (entry.type === 'opaque') return derSequence([common, commonData, derConstructed(TAG_TYPE_ATTRIBUTES, [value])]);
  if (entry.oid === undefined) throw new RangeError('an oidDO entry needs its oid');
  const oidDo = derSequence([derObjectIdentifier(entry.oid), value]);
  return derConstructed(TAG_OID_DO, [common, commonData, derConstructed(TAG_TYPE_ATTRIBUTES, [oidDo])]);
}

export function encodeDodf(entries: readonly DataObjectInput[]): Uint8Array {
  return concatBytes(entries.map(encodeDataObject));
}

/**
 * The DODF entries that lead to EF LwM2M_Bootstrap: the opaque data object G.1 and G.3.2
 * describe, then the oidDO form, both pointing at the same file, so readers of either form
 * find it. Flags default to neither private nor modifiable: G.3.3 "Only the card issuer can
 * modify EF LwM2M_Bootstrap", and the keys are protected by the SCP03 channel (Appendix H)
 * rather than a cardholder PIN a headless device could not enter.
 */
export function lwm2mBootstrapDataObjects(path: Uint8Array, flags: Partial<CommonObjectFlags> = {}): DataObjectInput[] {
  const common = { label: LWM2M_BOOTSTRAP_LABEL, flags, applicationName: LWM2M_BOOTSTRAP_LABEL, applicationOid: LWM2M_BOOTSTRAP_OID, path };
  return [
    { type: 'opaque', ...common },
    { type: 'oid', ...common, oid: LWM2M_BOOTSTRAP_OID },
  ];
}

export function decodeDodf(bytes: Uint8Array): DodfEntry[] {
  const scope = scopeOf(bytes);
  return directoryElements(scope, 'EF(DODF)').map((element): DodfEntry => {
    if (element.tag === DerTag.SEQUENCE) return decodeDataObject(scope, element, 'opaque');
    if (element.tag === TAG_OID_DO) return decodeDataObject(scope, element, 'oid');
    return { type: 'other', tag: element.tag, offset: element.offset };
  });
}

function decodeDataObject(scope: DerScope, element: DerElement, type: 'opaque' | 'oid'): DataObjectEntry {
  const field = type === 'opaque' ? 'opaqueDO' : 'oidDO';
  const parts = readDerElements(childScope(scope, element), field);
  const [common, commonData, ...rest] = parts;
  if (common === undefined || commonData === undefined) {
    throw new CodecError('MALFORMED', `${field} needs its common and data object attributes`, { offset: element.offset, field });
  }
  const attributes = commonAttributes(scope, expectTag(common, DerTag.SEQUENCE, 'CommonObjectAttributes'));
  const dataAttributes = commonDataAttributes(scope, expectTag(commonData, DerTag.SEQUENCE, 'CommonDataObjectAttributes'));
  const typeAttributes = rest.find((part) => part.tag === TAG_TYPE_ATTRIBUTES);
  if (typeAttributes === undefined) throw new CodecError('MALFORMED', `${field} has no typeAttributes [1]`, { offset: element.offset, field });
  const [value, extra] = readDerElements(childScope(scope, typeAttributes), `${field} typeAttributes`);
  if (value === undefined || extra !== undefined) {
    throw new CodecError('MALFORMED', 'typeAttributes holds exactly one value', { offset: typeAttributes.offset, field: `${field} typeAttributes` });
  }
  let oid: CardOid | undefined;
  let reference = value;
  if (type === 'oid') {
    const [id, objectValue, more] = readDerElements(childScope(scope, expectTag(value, DerTag.SEQUENCE, 'OidDO')), 'OidDO');
    if (id === undefined || objectValue === undefined || more !== undefined) {
      throw new CodecError('MALFORMED', 'OidDO is { id, value }', { offset: value.offset, field: 'OidDO' });
    }
    oid = readOid(expectTag(id, DerTag.OBJECT_IDENTIFIER, 'OidDO.id'), 'OidDO.id');
    reference = objectValue;
  }
  // ObjectValue ::= CHOICE { indirect ReferencedValue (Path or URL), direct [0], ... }: only a path leads to a file.
  const path = reference.tag === DerTag.SEQUENCE ? decodePath(scope, reference, `${field} value`) : undefined;
  return {
    type,
    label: attributes.label,
    flags: attributes.flags,
    applicationName: dataAttributes.applicationName,
    applicationOid: dataAttributes.applicationOid?.text,
    oid: oid?.text,
    path,
    wrappedOid: dataAttributes.applicationOid?.wrapped === true || oid?.wrapped === true,
    offset: element.offset,
  };
}

/** CommonObjectAttributes ::= SEQUENCE { label UTF8String OPTIONAL, flags BIT STRING OPTIONAL, authId OCTET STRING OPTIONAL, ... } */
function commonAttributes(scope: DerScope, element: DerElement): { label: string | undefined; flags: CommonObjectFlags } {
  let label: string | undefined;
  let bits: number[] = [];
  for (const part of readDerElements(childScope(scope, element), 'CommonObjectAttributes')) {
    if (part.tag === DerTag.UTF8_STRING) label = decodeUtf8(part, 'CommonObjectAttributes.label');
    else if (part.tag === DerTag.BIT_STRING) bits = decodeNamedBits(part, 'CommonObjectAttributes.flags');
  }
  return { label, flags: { private: bits.includes(0), modifiable: bits.includes(1) } };
}

/** CommonDataObjectAttributes ::= SEQUENCE { applicationName UTF8String OPTIONAL, applicationOID OBJECT IDENTIFIER OPTIONAL, ... } */
function commonDataAttributes(scope: DerScope, element: DerElement): { applicationName: string | undefined; applicationOid: CardOid | undefined } {
  let applicationName: string | undefined;
  let applicationOid: CardOid | undefined;
  for (const part of readDerElements(childScope(scope, element), 'CommonDataObjectAttributes')) {
    if (part.tag === DerTag.UTF8_STRING) applicationName = decodeUtf8(part, 'CommonDataObjectAttributes.applicationName');
    else if (part.tag === DerTag.OBJECT_IDENTIFIER) applicationOid = readOid(part, 'CommonDataObjectAttributes.applicationOID');
  }
  return { applicationName, applicationOid };
}

interface CardOid {
  readonly text: string;
  readonly wrapped: boolean;
}

/** An OID, or the OID inside a second OID TLV when the card carries that slip. */
function readOid(element: DerElement, what: string): CardOid {
  const { content } = element;
  if (content[0] === DerTag.OBJECT_IDENTIFIER && content[1] === content.length - 2 && content.length > 2) {
    return { text: decodeOid(content.subarray(2), element.contentStart + 2, what), wrapped: true };
  }
  return { text: decodeOid(content, element.contentStart, what), wrapped: false };
}

/**
 * The path of EF LwM2M_Bootstrap: the first data object typed with the LwM2M OID (as
 * applicationOID or as an oidDO's id) that points at a file. Undefined when the DODF lists none.
 */
export function lwm2mBootstrapPath(entries: readonly DodfEntry[]): Uint8Array | undefined {
  for (const entry of entries) {
    if (entry.type === 'other' || entry.path === undefined) continue;
    if (entry.applicationOid === LWM2M_BOOTSTRAP_OID || entry.oid === LWM2M_BOOTSTRAP_OID) return entry.path;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

/** Path ::= SEQUENCE { path OCTET STRING, index INTEGER OPTIONAL, length [0] INTEGER OPTIONAL } */
function encodePath(path: Uint8Array): Uint8Array {
  return derSequence([derOctetString(path)]);
}

function decodePath(scope: DerScope, element: DerElement, what: string): Uint8Array {
  const [path] = readDerElements(childScope(scope, element), what);
  if (path === undefined) throw new CodecError('MALFORMED', 'Path needs its path', { offset: element.offset, field: what });
  expectTag(path, DerTag.OCTET_STRING, what);
  // PKCS #15 Path: file identifiers, two bytes each (relative to the application DF, or from 3F00).
  if (path.content.length === 0 || path.content.length % 2 !== 0) {
    throw new CodecError('MALFORMED', 'a path is a sequence of two-byte file identifiers', { offset: path.offset, field: what });
  }
  return path.content;
}

/**
 * The elements of a directory file. A binary EF is usually longer than what it holds, and the
 * rest is filler: 0xFF on UICCs (erased flash), 0x00 on cards formatted so. A filler byte where a
 * tag would start ends the directory, and everything after it must be that filler.
 */
function directoryElements(scope: DerScope, what: string): DerElement[] {
  const out: DerElement[] = [];
  let offset = scope.start;
  while (offset < scope.end) {
    const byte = scope.bytes[offset]!;
    if (byte === 0x00 || byte === 0xff) {
      expectPadding(scope.bytes.subarray(0, scope.end), offset, what);
      break;
    }
    const element = readDerElement(scope, offset, what);
    out.push(element);
    offset = element.end;
  }
  return out;
}

function expectPadding(bytes: Uint8Array, from: number, what: string): void {
  const filler = bytes[from];
  for (let index = from; index < bytes.length; index += 1) {
    if (bytes[index] !== filler || (filler !== 0x00 && filler !== 0xff)) {
      throw new CodecError('TRAILING_BYTES', `${what}: bytes after the last entry are not filler`, { offset: index, field: what });
    }
  }
}

function once(previous: Uint8Array | undefined, element: DerElement, what: string): Uint8Array {
  if (previous !== undefined) throw new CodecError('DUPLICATE', `${what} given twice`, { offset: element.offset, field: what });
  return element.content;
}
