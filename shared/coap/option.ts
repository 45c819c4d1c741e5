import type { BlockOption } from './block.ts';

/** CoAP option numbers (IANA "CoAP Option Numbers" registry). */
export const OptionNumber = {
  IF_MATCH: 1,
  URI_HOST: 3,
  ETAG: 4,
  IF_NONE_MATCH: 5,
  OBSERVE: 6, // RFC 7641
  URI_PORT: 7,
  LOCATION_PATH: 8,
  OSCORE: 9, // RFC 8613
  URI_PATH: 11,
  CONTENT_FORMAT: 12,
  MAX_AGE: 14,
  URI_QUERY: 15,
  HOP_LIMIT: 16, // RFC 8768
  ACCEPT: 17,
  LOCATION_QUERY: 20,
  BLOCK2: 23, // RFC 7959
  BLOCK1: 27, // RFC 7959
  SIZE2: 28, // RFC 7959
  PROXY_URI: 35,
  PROXY_SCHEME: 39,
  SIZE1: 60,
  ECHO: 252, // RFC 9175
  NO_RESPONSE: 258, // RFC 7967
  REQUEST_TAG: 292, // RFC 9175
} as const;
export type OptionNumber = (typeof OptionNumber)[keyof typeof OptionNumber];

export const MAX_OPTION_NUMBER = 0xffff;

/** An option as it is on the wire; `others` holds the ones this codec does not recognize. */
export interface CoapOption {
  readonly number: number;
  readonly value: Uint8Array;
}

/**
 * The options of a message. A field is absent when its option is absent (defaults such as
 * Max-Age 60 are the reader's to apply, RFC 7252 5.4.4). Repeatable options keep wire order.
 */
export interface CoapOptions {
  readonly ifMatch?: readonly Uint8Array[];
  readonly uriHost?: string;
  readonly etag?: readonly Uint8Array[];
  readonly ifNoneMatch?: boolean;
  readonly observe?: number;
  readonly uriPort?: number;
  readonly locationPath?: readonly string[];
  readonly uriPath?: readonly string[];
  readonly contentFormat?: number;
  readonly maxAge?: number;
  readonly uriQuery?: readonly string[];
  readonly accept?: number;
  readonly locationQuery?: readonly string[];
  readonly block2?: BlockOption;
  readonly block1?: BlockOption;
  readonly size2?: number;
  readonly size1?: number;
  /**
   * Options without a typed field, in wire order: unknown numbers, Proxy-Uri/Proxy-Scheme
   * (we are not a proxy), and supernumerary occurrences of a non-repeatable critical option
   * (RFC 7252 5.4.5 treats those as unrecognized). Written after the typed field of the same number.
   */
  readonly others?: readonly CoapOption[];
}

export type OptionFormat = 'empty' | 'opaque' | 'uint' | 'string';

/** A row of the RFC 7252 5.10 table (and RFC 7641/7959 for Observe, Block and Size2). */
export interface OptionDefinition {
  readonly number: number;
  readonly name: string;
  readonly format: OptionFormat;
  readonly minLength: number;
  readonly maxLength: number;
  readonly repeatable: boolean;
}

function define(number: number, name: string, format: OptionFormat, minLength: number, maxLength: number, repeatable = false): OptionDefinition {
  return { number, name, format, minLength, maxLength, repeatable };
}

/** The options with a typed field in CoapOptions, in number order. */
export const RECOGNIZED_OPTIONS: readonly OptionDefinition[] = [
  define(OptionNumber.IF_MATCH, 'If-Match', 'opaque', 0, 8, true),
  define(OptionNumber.URI_HOST, 'Uri-Host', 'string', 1, 255),
  define(OptionNumber.ETAG, 'ETag', 'opaque', 1, 8, true),
  define(OptionNumber.IF_NONE_MATCH, 'If-None-Match', 'empty', 0, 0),
  define(OptionNumber.OBSERVE, 'Observe', 'uint', 0, 3),
  define(OptionNumber.URI_PORT, 'Uri-Port', 'uint', 0, 2),
  define(OptionNumber.LOCATION_PATH, 'Location-Path', 'string', 0, 255, true),
  define(OptionNumber.URI_PATH, 'Uri-Path', 'string', 0, 255, true),
  define(OptionNumber.CONTENT_FORMAT, 'Content-Format', 'uint', 0, 2),
  define(OptionNumber.MAX_AGE, 'Max-Age', 'uint', 0, 4),
  define(OptionNumber.URI_QUERY, 'Uri-Query', 'string', 0, 255, true),
  define(OptionNumber.ACCEPT, 'Accept', 'uint', 0, 2),
  define(OptionNumber.LOCATION_QUERY, 'Location-Query', 'string', 0, 255, true),
  define(OptionNumber.BLOCK2, 'Block2', 'uint', 0, 3),
  define(OptionNumber.BLOCK1, 'Block1', 'uint', 0, 3),
  define(OptionNumber.SIZE2, 'Size2', 'uint', 0, 4),
  define(OptionNumber.SIZE1, 'Size1', 'uint', 0, 4),
];

// Indexed by number: the decoder looks every option up, and all recognized numbers are < 64.
const BY_NUMBER: readonly (OptionDefinition | undefined)[] = (() => {
  const table: (OptionDefinition | undefined)[] = new Array<OptionDefinition | undefined>(64).fill(undefined);
  for (const definition of RECOGNIZED_OPTIONS) table[definition.number] = definition;
  return table;
})();

const OTHER_NAMES: ReadonlyMap<number, string> = new Map([
  [OptionNumber.OSCORE, 'OSCORE'],
  [OptionNumber.HOP_LIMIT, 'Hop-Limit'],
  [OptionNumber.PROXY_URI, 'Proxy-Uri'],
  [OptionNumber.PROXY_SCHEME, 'Proxy-Scheme'],
  [OptionNumber.ECHO, 'Echo'],
  [OptionNumber.NO_RESPONSE, 'No-Response'],
  [OptionNumber.REQUEST_TAG, 'Request-Tag'],
]);

export function optionDefinition(number: number): OptionDefinition | undefined {
  return number < BY_NUMBER.length ? BY_NUMBER[number] : undefined;
}

/** "Uri-Path", or "Option 2049" for a number we have no name for. */
export function optionName(number: number): string {
  return optionDefinition(number)?.name ?? OTHER_NAMES.get(number) ?? `Option ${number}`;
}

/** RFC 7252 5.4.6: odd numbers are critical, even numbers elective. */
export function isCriticalOption(number: number): boolean {
  return (number & 1) === 1;
}

export function isUnsafeOption(number: number): boolean {
  return (number & 2) === 2;
}

export function isNoCacheKeyOption(number: number): boolean {
  return (number & 0x1e) === 0x1c;
}

/**
 * The critical options of a message that this codec did not recognize: a Confirmable request
 * carrying one is answered 4.02 Bad Option, a response or NON message carrying one is rejected
 * (RFC 7252 5.4.1). Proxy-Uri and Proxy-Scheme are among them, but RFC 7252 5.10.2 asks a
 * server that is not a forward-proxy to answer those with 5.05 Proxying Not Supported instead.
 */
export function unrecognizedCriticalOptions(options: CoapOptions): CoapOption[] {
  return (options.others ?? []).filter((option) => isCriticalOption(option.number));
}
