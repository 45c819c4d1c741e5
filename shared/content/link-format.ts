import { CodecError } from '../errors.ts';

/**
 * CoRE Link Format (RFC 6690 §2, content format 40): a comma-separated list of
 * `<URI-Reference>` links, each followed by `;name`, `;name=ptoken` or `;name="quoted"`
 * attributes. The model keeps links and attributes in payload order and keeps duplicate
 * attribute names: what they mean is for the caller (LwM2M Discover, Register) to decide.
 *
 * The parser works on bytes so that every error names a byte offset. It is strict about the
 * RFC 6690 grammar with one leniency: optional whitespace (SP, HTAB, CR, LF) is accepted
 * around `,` and `;` and at either end, because the LwM2M specification's own examples put
 * spaces after commas and RFC 6690 §5 breaks lines for readability.
 */
export interface LinkAttribute {
  readonly name: string;
  /** null for an attribute written without `=` (`;obs`). */
  readonly value: string | null;
}

export interface LinkEntry {
  readonly target: string;
  readonly attributes: readonly LinkAttribute[];
}

export interface LinkFormatLimits {
  readonly maxBytes: number;
  readonly maxEntries: number;
  readonly maxAttributesPerEntry: number;
}

/** A Bootstrap-Discover or Register payload is a few hundred bytes; these bounds are generous. */
export const LinkFormatLimits: LinkFormatLimits = {
  maxBytes: 64 * 1024,
  maxEntries: 4096,
  maxAttributesPerEntry: 64,
};

export interface LinkParseOptions {
  readonly limits?: Partial<LinkFormatLimits>;
  /**
   * Accept attributes before the first link, with no target: LwM2M 1.0 clients answer
   * Bootstrap-Discover with `lwm2m="1.0",</0/0>;...` (LwM2M Core 1.0/1.1 draft §5.2.7.3).
   */
  readonly allowPreamble?: boolean;
}

/** A parsed document: the targetless preamble (if allowed) and each link with its offset. */
export interface LinkDocument {
  readonly preamble: readonly LinkAttribute[];
  readonly entries: readonly { readonly entry: LinkEntry; readonly offset: number }[];
}

const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const LESS = 0x3c;
const GREATER = 0x3e;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const PERCENT = 0x25;
const STAR = 0x2a;

const URI_CHAR = 1;
const PTOKEN_CHAR = 2;
const PARMNAME_CHAR = 4;
const HEX_DIGIT = 8;

/** Character classes of RFC 3986 (URI-Reference), RFC 6690 (ptokenchar) and RFC 5987 (attr-char). */
const CLASSES = (() => {
  const table = new Uint8Array(128);
  const mark = (chars: string, flag: number): void => {
    for (const char of chars) table[char.charCodeAt(0)]! |= flag;
  };
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  const digit = '0123456789';
  mark(alpha + digit + "-._~:/?#[]@!$&'()*+,;=%", URI_CHAR);
  mark(alpha + digit + "!#$%&'()*+-./:<=>?@[]^_`{|}~", PTOKEN_CHAR);
  mark(alpha + digit + '!#$&+-.^_`|~', PARMNAME_CHAR);
  mark(digit + 'ABCDEFabcdef', HEX_DIGIT);
  return table;
})();

function hasClass(byte: number | undefined, flag: number): boolean {
  return byte !== undefined && byte < 128 && (CLASSES[byte]! & flag) !== 0;
}

function isWhitespace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const ascii = new TextDecoder('latin1');

/** Parses a link-format payload into links in payload order. */
export function parseLinkFormat(input: Uint8Array | string, options: Omit<LinkParseOptions, 'allowPreamble'> = {}): LinkEntry[] {
  return parseLinkDocument(input, options).entries.map(({ entry }) => entry);
}

export function parseLinkDocument(input: Uint8Array | string, options: LinkParseOptions = {}): LinkDocument {
  const limits = { ...LinkFormatLimits, ...options.limits };
  const bytes = toBytes(input, limits.maxBytes);
  const reader = new Reader(bytes, limits);
  const preamble: LinkAttribute[] = [];
  const entries: { entry: LinkEntry; offset: number }[] = [];
  reader.skipWhitespace();
  if (reader.atEnd()) return { preamble, entries };
  if (reader.peek() !== LESS) {
    if (options.allowPreamble !== true) reader.fail('MALFORMED', "a link must start with '<'");
    reader.readAttributeList(preamble, false);
    if (!reader.nextLink()) return { preamble, entries };
  }
  do {
    if (entries.length >= limits.maxEntries) reader.fail('LIMIT_EXCEEDED', `more than ${limits.maxEntries} links`);
    const offset = reader.position;
    const target = reader.readTarget();
    const attributes: LinkAttribute[] = [];
    if (reader.peek() === SEMICOLON) reader.readAttributeList(attributes, true);
    entries.push({ entry: { target, attributes }, offset });
  } while (reader.nextLink());
  return { preamble, entries };
}

function toBytes(input: Uint8Array | string, maxBytes: number): Uint8Array {
  // A UTF-16 string never has more code units than its UTF-8 form has bytes.
  if (typeof input === 'string' && input.length > maxBytes) {
    throw new CodecError('LIMIT_EXCEEDED', `link-format payload is larger than ${maxBytes} bytes`, { offset: maxBytes });
  }
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input;
  if (bytes.length > maxBytes) {
    throw new CodecError('LIMIT_EXCEEDED', `link-format payload is larger than ${maxBytes} bytes`, { offset: maxBytes });
  }
  return bytes;
}

class Reader {
  position = 0;
  private readonly bytes: Uint8Array;
  private readonly limits: LinkFormatLimits;

  constructor(bytes: Uint8Array, limits: LinkFormatLimits) {
    this.bytes = bytes;
    this.limits = limits;
  }

  atEnd(): boolean {
    return this.position >= this.bytes.length;
  }

  peek(): number | undefined {
    return this.bytes[this.position];
  }

  fail(code: 'MALFORMED' | 'TRUNCATED' | 'LIMIT_EXCEEDED', message: string, offset = this.position): never {
    throw new CodecError(code, message, { offset });
  }

  skipWhitespace(): void {
    while (isWhitespace(this.peek())) this.position += 1;
  }

  /** After a link: true when a `,` introduces another one, false at the end of input. */
  nextLink(): boolean {
    this.skipWhitespace();
    if (this.atEnd()) return false;
    if (this.peek() !== COMMA) this.fail('MALFORMED', "expected ',' or ';' after a link");
    const comma = this.position;
    this.position += 1;
    this.skipWhitespace();
    if (this.atEnd()) this.fail('MALFORMED', "nothing follows the last ','", comma);
    return true;
  }

  /** `<` URI-Reference `>` (RFC 3986 characters, percent-escapes checked). */
  readTarget(): string {
    const start = this.position;
    if (this.peek() !== LESS) this.fail('MALFORMED', "a link must start with '<'");
    this.position += 1;
    while (!this.atEnd() && this.peek() !== GREATER) {
      const byte = this.peek();
      if (!hasClass(byte, URI_CHAR)) this.fail('MALFORMED', 'character not allowed in a link target');
      if (byte === PERCENT && !(hasClass(this.bytes[this.position + 1], HEX_DIGIT) && hasClass(this.bytes[this.position + 2], HEX_DIGIT))) {
        this.fail('MALFORMED', "'%' in a link target must be followed by two hex digits");
      }
      this.position += 1;
    }
    if (this.atEnd()) this.fail('TRUNCATED', "link target has no closing '>'", start);
    const target = ascii.decode(this.bytes.subarray(start + 1, this.position));
    this.position += 1;
    this.skipWhitespace();
    return target;
  }

  /** `;attr;attr=...` after a target, or `attr;attr=...` in a preamble. */
  readAttributeList(into: LinkAttribute[], leadingSemicolon: boolean): void {
    let first = !leadingSemicolon;
    for (;;) {
      if (!first) {
        if (this.peek() !== SEMICOLON) return;
        this.position += 1;
        this.skipWhitespace();
      }
      first = false;
      if (into.length >= this.limits.maxAttributesPerEntry) {
        this.fail('LIMIT_EXCEEDED', `more than ${this.limits.maxAttributesPerEntry} attributes on one link`);
      }
      into.push(this.readAttribute());
      this.skipWhitespace();
    }
  }

  /** link-extension = parmname ["*"] [ "=" ( ptoken / quoted-string ) ] (RFC 6690 §2). */
  private readAttribute(): LinkAttribute {
    const start = this.position;
    while (hasClass(this.peek(), PARMNAME_CHAR)) this.position += 1;
    if (this.position === start) this.fail('MALFORMED', 'expected an attribute name');
    if (this.peek() === STAR) this.position += 1;
    const name = ascii.decode(this.bytes.subarray(start, this.position));
    if (this.peek() !== EQUALS) return { name, value: null };
    this.position += 1;
    if (this.peek() === DQUOTE) return { name, value: this.readQuoted() };
    const valueStart = this.position;
    while (hasClass(this.peek(), PTOKEN_CHAR)) this.position += 1;
    if (this.position === valueStart) this.fail('MALFORMED', "attribute has '=' but no value");
    return { name, value: ascii.decode(this.bytes.subarray(valueStart, this.position)) };
  }

  /** quoted-string with `\` escapes (RFC 7230 §3.2.6); UTF-8 inside is allowed and checked. */
  private readQuoted(): string {
    const start = this.position;
    this.position += 1;
    const out: number[] = [];
    for (;;) {
      if (this.atEnd()) this.fail('TRUNCATED', 'quoted string has no closing \'"\'', start);
      const byte = this.peek()!;
      if (byte === DQUOTE) break;
      if (byte === BACKSLASH) {
        this.position += 1;
        if (this.atEnd()) this.fail('TRUNCATED', 'quoted string has no closing \'"\'', start);
      }
      const char = this.peek()!;
      if ((char < 0x20 && char !== 0x09) || char === 0x7f) this.fail('MALFORMED', 'control character in a quoted string');
      out.push(char);
      this.position += 1;
    }
    this.position += 1;
    try {
      return utf8.decode(Uint8Array.from(out));
    } catch {
      return this.fail('MALFORMED', 'quoted string is not valid UTF-8', start);
    }
  }
}

export interface LinkSerializeOptions {
  /** Attributes whose value is always quoted; others are quoted only when not a ptoken. */
  readonly quoted?: ReadonlySet<string>;
  /** Targetless attributes written before the first link (see LinkParseOptions.allowPreamble). */
  readonly preamble?: readonly LinkAttribute[];
}

/** Writes links as RFC 6690 text, without whitespace. Throws CodecError on unwritable input. */
export function serializeLinkFormat(entries: readonly LinkEntry[], options: LinkSerializeOptions = {}): string {
  const quoted = options.quoted ?? new Set<string>();
  const links = entries.map((entry, index) => {
    checkTarget(entry.target, index);
    return `<${entry.target}>${entry.attributes.map((attribute) => `;${formatAttribute(attribute, quoted)}`).join('')}`;
  });
  const preamble = (options.preamble ?? []).map((attribute) => formatAttribute(attribute, quoted)).join(';');
  return [...(preamble === '' ? [] : [preamble]), ...links].join(',');
}

export function encodeLinkFormat(entries: readonly LinkEntry[], options: LinkSerializeOptions = {}): Uint8Array {
  return new TextEncoder().encode(serializeLinkFormat(entries, options));
}

function checkTarget(target: string, index: number): void {
  for (let i = 0; i < target.length; i += 1) {
    const code = target.charCodeAt(i);
    const escapeOk = code !== PERCENT || (hasClass(target.charCodeAt(i + 1), HEX_DIGIT) && hasClass(target.charCodeAt(i + 2), HEX_DIGIT));
    if (!hasClass(code, URI_CHAR) || !escapeOk) {
      throw new CodecError('MALFORMED', `link ${index} has a target that is not a URI-Reference`, { field: 'target' });
    }
  }
}

// UTF-8 cannot carry a lone surrogate: TextEncoder would silently replace it.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function formatAttribute(attribute: LinkAttribute, quoted: ReadonlySet<string>): string {
  const { name, value } = attribute;
  const nameOk = /^[A-Za-z0-9!#$&+\-.^_`|~]+\*?$/.test(name);
  if (!nameOk) throw new CodecError('MALFORMED', 'attribute name is not an RFC 6690 parmname', { field: 'attribute' });
  if (value === null) return name;
  if (!quoted.has(name) && value !== '' && [...value].every((char) => hasClass(char.charCodeAt(0), PTOKEN_CHAR))) {
    return `${name}=${value}`;
  }
  if ([...value].some((char) => (char < ' ' && char !== '\t') || char === '\x7f')) {
    throw new CodecError('MALFORMED', 'attribute value has a control character', { field: name });
  }
  if (LONE_SURROGATE.test(value)) {
    throw new CodecError('MALFORMED', 'attribute value is not well-formed Unicode', { field: name });
  }
  return `${name}="${value.replace(/["\\]/g, (char) => `\\${char}`)}"`;
}

/** parseLinkFormat for a payload's bytes, under the name the other content formats use. */
export function decodeLinkFormat(bytes: Uint8Array): LinkEntry[] {
  return parseLinkFormat(bytes);
}

/** Checks that untyped JSON (CLI input) has the LinkEntry shape; encodeLinkFormat checks the rest. */
export function linkEntriesFromJson(json: unknown): LinkEntry[] {
  const fail = (field: string): never => {
    throw new CodecError('TYPE_MISMATCH', 'expected [{ "target": string, "attributes": [{ "name": string, "value": string | null }] }]', { field });
  };
  if (!Array.isArray(json)) return fail('/');
  return json.map((entry: unknown, index) => {
    if (typeof entry !== 'object' || entry === null) return fail(`/${index}`);
    const { target, attributes } = entry as { target?: unknown; attributes?: unknown };
    if (typeof target !== 'string') return fail(`/${index}/target`);
    if (attributes !== undefined && !Array.isArray(attributes)) return fail(`/${index}/attributes`);
    return {
      target,
      attributes: ((attributes ?? []) as unknown[]).map((attribute, at) => {
        const { name, value } = (typeof attribute === 'object' && attribute !== null ? attribute : {}) as { name?: unknown; value?: unknown };
        if (typeof name !== 'string') return fail(`/${index}/attributes/${at}`);
        if (value === undefined || value === null) return { name, value: null };
        if (typeof value !== 'string') return fail(`/${index}/attributes/${at}`);
        return { name, value };
      }),
    };
  });
}
