import { CodecError } from '../errors.ts';
import { decodeBlockValue, encodeBlockValue } from './block.ts';
import type { BlockOption } from './block.ts';
import {
  MAX_OPTION_NUMBER,
  OptionNumber,
  isCriticalOption,
  optionDefinition,
  optionName,
} from './option.ts';
import type { CoapOption, CoapOptions, OptionDefinition } from './option.ts';
import { decodeUint, decodeUtf8, encodeUint, encodeUtf8 } from './value-format.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The longest value the option header can announce: 14 in the length nibble, 269 + 0xffff. */
export const MAX_OPTION_VALUE_LENGTH = 269 + 0xffff;

/**
 * Turns the options of one message, fed in wire order (ascending numbers), into CoapOptions.
 * Values are copied: the result never aliases the datagram, so the caller may reuse its buffer.
 */
export class OptionsReader {
  readonly #options: Mutable<CoapOptions> = {};
  readonly #ifMatch: Uint8Array[] = [];
  readonly #etag: Uint8Array[] = [];
  readonly #locationPath: string[] = [];
  readonly #uriPath: string[] = [];
  readonly #uriQuery: string[] = [];
  readonly #locationQuery: string[] = [];
  readonly #others: CoapOption[] = [];
  #previous = -1;

  /** `offset` is where the option's header byte is, for error reports. */
  add(number: number, value: Uint8Array, offset: number): void {
    const definition = optionDefinition(number);
    const repeated = number === this.#previous;
    this.#previous = number;
    if (definition === undefined) {
      this.#others.push({ number, value: new Uint8Array(value) });
      return;
    }
    if (repeated && !definition.repeatable) {
      // RFC 7252 5.4.5: a supernumerary occurrence is an unrecognized option, so it is kept
      // (and answered 4.02) when critical and silently ignored when elective (5.4.1).
      if (isCriticalOption(number)) this.#others.push({ number, value: new Uint8Array(value) });
      return;
    }
    checkLength(definition, value.length, offset);
    this.#decode(definition, value, offset);
  }

  finish(): CoapOptions {
    const options = this.#options;
    if (this.#ifMatch.length > 0) options.ifMatch = this.#ifMatch;
    if (this.#etag.length > 0) options.etag = this.#etag;
    if (this.#locationPath.length > 0) options.locationPath = this.#locationPath;
    if (this.#uriPath.length > 0) options.uriPath = this.#uriPath;
    if (this.#uriQuery.length > 0) options.uriQuery = this.#uriQuery;
    if (this.#locationQuery.length > 0) options.locationQuery = this.#locationQuery;
    if (this.#others.length > 0) options.others = this.#others;
    return options;
  }

  #decode(definition: OptionDefinition, value: Uint8Array, offset: number): void {
    const options = this.#options;
    const name = definition.name;
    switch (definition.number) {
      case OptionNumber.IF_MATCH:
        this.#ifMatch.push(new Uint8Array(value));
        return;
      case OptionNumber.URI_HOST:
        options.uriHost = decodeUtf8(value, name, offset);
        return;
      case OptionNumber.ETAG:
        this.#etag.push(new Uint8Array(value));
        return;
      case OptionNumber.IF_NONE_MATCH:
        options.ifNoneMatch = true;
        return;
      case OptionNumber.OBSERVE:
        options.observe = decodeUint(value);
        return;
      case OptionNumber.URI_PORT:
        options.uriPort = decodeUint(value);
        return;
      case OptionNumber.LOCATION_PATH:
        this.#locationPath.push(decodeUtf8(value, name, offset));
        return;
      case OptionNumber.URI_PATH:
        this.#uriPath.push(decodeUtf8(value, name, offset));
        return;
      case OptionNumber.CONTENT_FORMAT:
        options.contentFormat = decodeUint(value);
        return;
      case OptionNumber.MAX_AGE:
        options.maxAge = decodeUint(value);
        return;
      case OptionNumber.URI_QUERY:
        this.#uriQuery.push(decodeUtf8(value, name, offset));
        return;
      case OptionNumber.ACCEPT:
        options.accept = decodeUint(value);
        return;
      case OptionNumber.LOCATION_QUERY:
        this.#locationQuery.push(decodeUtf8(value, name, offset));
        return;
      case OptionNumber.BLOCK2:
        options.block2 = decodeBlockValue(value, name, offset);
        return;
      case OptionNumber.BLOCK1:
        options.block1 = decodeBlockValue(value, name, offset);
        return;
      case OptionNumber.SIZE2:
        options.size2 = decodeUint(value);
        return;
      case OptionNumber.SIZE1:
        options.size1 = decodeUint(value);
        return;
    }
  }
}

function checkLength(definition: OptionDefinition, length: number, offset?: number): void {
  if (length < definition.minLength || length > definition.maxLength) {
    const range =
      definition.minLength === definition.maxLength
        ? `${definition.minLength}`
        : `${definition.minLength}-${definition.maxLength}`;
    throw new CodecError('OUT_OF_RANGE', `option value must be ${range} bytes, got ${length}`, {
      field: definition.name,
      offset,
    });
  }
}

/**
 * The options to write, validated and sorted by number; for equal numbers the typed field
 * comes before `others`, and repeated values keep their order.
 */
export function encodeOptions(options: CoapOptions): CoapOption[] {
  const list = new OptionList();
  list.opaque(OptionNumber.IF_MATCH, options.ifMatch);
  list.string(OptionNumber.URI_HOST, options.uriHost);
  list.opaque(OptionNumber.ETAG, options.etag);
  if (options.ifNoneMatch !== undefined && options.ifNoneMatch !== false) {
    if (options.ifNoneMatch !== true) {
      throw new CodecError('TYPE_MISMATCH', 'If-None-Match must be a boolean', { field: 'If-None-Match' });
    }
    list.push(OptionNumber.IF_NONE_MATCH, new Uint8Array(0));
  }
  list.uint(OptionNumber.OBSERVE, options.observe);
  list.uint(OptionNumber.URI_PORT, options.uriPort);
  list.strings(OptionNumber.LOCATION_PATH, options.locationPath);
  list.strings(OptionNumber.URI_PATH, options.uriPath);
  list.uint(OptionNumber.CONTENT_FORMAT, options.contentFormat);
  list.uint(OptionNumber.MAX_AGE, options.maxAge);
  list.strings(OptionNumber.URI_QUERY, options.uriQuery);
  list.uint(OptionNumber.ACCEPT, options.accept);
  list.strings(OptionNumber.LOCATION_QUERY, options.locationQuery);
  list.block(OptionNumber.BLOCK2, options.block2);
  list.block(OptionNumber.BLOCK1, options.block1);
  list.uint(OptionNumber.SIZE2, options.size2);
  list.uint(OptionNumber.SIZE1, options.size1);
  for (const [index, option] of (options.others ?? []).entries()) {
    list.other(option, index);
  }
  // Array.prototype.sort is stable, so equal numbers keep the order pushed above.
  return list.entries.sort((left, right) => left.number - right.number);
}

class OptionList {
  readonly entries: CoapOption[] = [];

  push(number: number, value: Uint8Array): void {
    this.entries.push({ number, value });
  }

  uint(number: number, value: number | undefined): void {
    if (value === undefined) return;
    const definition = optionDefinition(number)!;
    const max = 2 ** (8 * definition.maxLength) - 1;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
      throw new CodecError('OUT_OF_RANGE', `option value must be an integer 0..${max}`, { field: definition.name });
    }
    this.push(number, encodeUint(value));
  }

  string(number: number, value: string | undefined): void {
    if (value === undefined) return;
    const definition = optionDefinition(number)!;
    const bytes = encodeUtf8(value, definition.name);
    checkLength(definition, bytes.length);
    this.push(number, bytes);
  }

  strings(number: number, values: readonly string[] | undefined): void {
    for (const value of values ?? []) this.string(number, value);
  }

  opaque(number: number, values: readonly Uint8Array[] | undefined): void {
    const definition = optionDefinition(number)!;
    for (const value of values ?? []) {
      if (!(value instanceof Uint8Array)) {
        throw new CodecError('TYPE_MISMATCH', 'option value must be a Uint8Array', { field: definition.name });
      }
      checkLength(definition, value.length);
      this.push(number, value);
    }
  }

  block(number: number, block: BlockOption | undefined): void {
    if (block === undefined) return;
    this.push(number, encodeBlockValue(block, optionName(number)));
  }

  other(option: CoapOption, index: number): void {
    const field = `others[${index}]`;
    if (!Number.isInteger(option.number) || option.number < 0 || option.number > MAX_OPTION_NUMBER) {
      throw new CodecError('OUT_OF_RANGE', `option number must be an integer 0..${MAX_OPTION_NUMBER}`, { field });
    }
    if (!(option.value instanceof Uint8Array)) {
      throw new CodecError('TYPE_MISMATCH', 'option value must be a Uint8Array', { field });
    }
    if (option.value.length > MAX_OPTION_VALUE_LENGTH) {
      throw new CodecError('LIMIT_EXCEEDED', `option value must be at most ${MAX_OPTION_VALUE_LENGTH} bytes`, {
        field,
      });
    }
    this.push(option.number, option.value);
  }
}
