import { CodecError } from '../errors.ts';

/** CoAP Content-Format numbers LwM2M uses (IANA CoAP Content-Formats registry). */
export const ContentFormat = {
  TEXT: 0,
  LINK_FORMAT: 40,
  OPAQUE: 42,
  CBOR: 60,
  SENML_JSON: 110,
  SENML_CBOR: 112,
  /** Pre-registration number that LwM2M 1.0 clients still send. */
  TLV_LEGACY: 1542,
  LWM2M_JSON_LEGACY: 1543,
  TLV: 11542,
  LWM2M_JSON: 11543,
  LWM2M_CBOR: 11544,
} as const;
export type ContentFormat = (typeof ContentFormat)[keyof typeof ContentFormat];

const NAMES: ReadonlyMap<string, ContentFormat> = new Map<string, ContentFormat>([
  ['text', ContentFormat.TEXT],
  ['text/plain', ContentFormat.TEXT],
  ['link', ContentFormat.LINK_FORMAT],
  ['link-format', ContentFormat.LINK_FORMAT],
  ['application/link-format', ContentFormat.LINK_FORMAT],
  ['opaque', ContentFormat.OPAQUE],
  ['octet-stream', ContentFormat.OPAQUE],
  ['application/octet-stream', ContentFormat.OPAQUE],
  ['cbor', ContentFormat.CBOR],
  ['application/cbor', ContentFormat.CBOR],
  ['senml-json', ContentFormat.SENML_JSON],
  ['application/senml+json', ContentFormat.SENML_JSON],
  ['senml-cbor', ContentFormat.SENML_CBOR],
  ['application/senml+cbor', ContentFormat.SENML_CBOR],
  ['tlv', ContentFormat.TLV],
  ['application/vnd.oma.lwm2m+tlv', ContentFormat.TLV],
  ['lwm2m-json', ContentFormat.LWM2M_JSON],
  ['json', ContentFormat.LWM2M_JSON],
  ['application/vnd.oma.lwm2m+json', ContentFormat.LWM2M_JSON],
  ['lwm2m-cbor', ContentFormat.LWM2M_CBOR],
  ['application/vnd.oma.lwm2m+cbor', ContentFormat.LWM2M_CBOR],
]);

const KNOWN_NUMBERS = new Set<number>(Object.values(ContentFormat));

/** Accepts a registered number (`11542`) or a name (`tlv`, `senml-cbor`, a media type). */
export function parseContentFormat(text: string): ContentFormat {
  const trimmed = text.trim().toLowerCase();
  if (/^[0-9]{1,5}$/.test(trimmed)) {
    const number = Number(trimmed);
    if (KNOWN_NUMBERS.has(number)) return number as ContentFormat;
  }
  const named = NAMES.get(trimmed);
  if (named !== undefined) return named;
  throw new CodecError('UNKNOWN_FORMAT', `unknown content format "${text.slice(0, 40)}"; use one of ${formatNames().join(', ')} or its number`, {
    field: 'format',
  });
}

export function isContentFormat(number: number): number is ContentFormat {
  return KNOWN_NUMBERS.has(number);
}

/** Short names for help texts, one per format. */
export function formatNames(): string[] {
  return ['text', 'link-format', 'opaque', 'cbor', 'senml-json', 'senml-cbor', 'tlv', 'lwm2m-json', 'lwm2m-cbor'];
}

export function contentFormatName(format: number): string {
  switch (format) {
    case ContentFormat.TEXT: return 'text/plain';
    case ContentFormat.LINK_FORMAT: return 'application/link-format';
    case ContentFormat.OPAQUE: return 'application/octet-stream';
    case ContentFormat.CBOR: return 'application/cbor';
    case ContentFormat.SENML_JSON: return 'application/senml+json';
    case ContentFormat.SENML_CBOR: return 'application/senml+cbor';
    case ContentFormat.TLV:
    case ContentFormat.TLV_LEGACY: return 'application/vnd.oma.lwm2m+tlv';
    case ContentFormat.LWM2M_JSON:
    case ContentFormat.LWM2M_JSON_LEGACY: return 'application/vnd.oma.lwm2m+json';
    case ContentFormat.LWM2M_CBOR: return 'application/vnd.oma.lwm2m+cbor';
    default: return `content-format ${format}`;
  }
}
