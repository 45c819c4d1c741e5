import type { OscoreContext, SecurityModeName, ServerCredentials } from './credentials.ts';
import type { ConfigurationIssue } from './configuration-error.ts';
import { derOuterElement, hexByteLength, utf8Bytes } from './key-bytes.ts';

/** PSK identity: at most 128 bytes (RFC 4279 allows 2^16 - 1, LwM2M clients and RFC 7925 stay far below). */
const PSK_IDENTITY_MAX_BYTES = 128;
/** 128 bits is what LwM2M's mandatory cipher suite (AES-128-CCM-8) is keyed with. */
const PSK_KEY_MIN_BYTES = 16;
const PSK_KEY_MAX_BYTES = 64;

/**
 * No key, certificate or OSCORE value comes near this (a certificate chain would); anything
 * larger is a wrong column or a pasted file, and gets this one precise issue instead of others.
 */
export const MAX_KEY_BYTES = 8192;

const NEEDED: Readonly<Record<SecurityModeName, readonly (keyof ServerCredentials)[]>> = {
  psk: ['identity', 'secretKey'],
  rpk: ['publicKey', 'secretKey', 'serverPublicKey'],
  x509: ['publicKey', 'secretKey', 'serverPublicKey'],
  nosec: [],
  // EST enrols the client's certificate over the bootstrap channel: nothing is required upfront.
  est: [],
};

const DESCRIPTION: Readonly<Record<keyof ServerCredentials, (mode: SecurityModeName) => string>> = {
  identity: () => 'PSK identity',
  publicKey: (mode) => (mode === 'x509' ? 'client certificate (DER, hex)' : 'client public key (DER, hex)'),
  secretKey: (mode) => (mode === 'psk' ? 'pre-shared key (hex)' : 'client private key (DER, hex)'),
  serverPublicKey: (mode) => (mode === 'x509' ? 'server certificate (DER, hex)' : 'server public key (DER, hex)'),
};

/** A DER value's size bounds; every one of them is an outer SEQUENCE (SubjectPublicKeyInfo, Certificate, PKCS#8 or SEC 1 private key). */
interface DerRule {
  readonly what: string;
  readonly min: number;
  readonly max: number;
  readonly typical?: string;
}

const PRIVATE_KEY: DerRule = { what: 'a DER private key (PKCS#8 or SEC 1)', min: 32, max: 2048, typical: '121 to 138 for EC P-256' };
const CERTIFICATE: DerRule = { what: 'a DER X.509 certificate', min: 64, max: 8192 };
const DER_RULES: Readonly<Record<'rpk' | 'x509', Readonly<Record<'publicKey' | 'secretKey' | 'serverPublicKey', DerRule>>>> = {
  rpk: {
    publicKey: { what: 'a DER SubjectPublicKeyInfo', min: 32, max: 1024, typical: '91 for EC P-256' },
    secretKey: PRIVATE_KEY,
    serverPublicKey: { what: 'a DER SubjectPublicKeyInfo', min: 32, max: 1024, typical: '91 for EC P-256' },
  },
  x509: { publicKey: CERTIFICATE, secretKey: PRIVATE_KEY, serverPublicKey: { ...CERTIFICATE, what: 'a DER X.509 certificate (of the server or its CA)' } },
};

const DER_SEQUENCE = 0x30;

/**
 * What a Security instance in `mode` needs from `credentials` (at `field`). Messages state
 * sizes and names, never a key's value. Keys over MAX_KEY_BYTES are left to keyCeilingIssues.
 */
export function credentialIssues(mode: SecurityModeName, credentials: ServerCredentials | undefined, field: string): ConfigurationIssue[] {
  const needed = NEEDED[mode];
  if (needed.length === 0) return [];
  if (credentials === undefined) {
    return [{ field, message: `missing: security mode ${mode} needs ${needed.map((key) => DESCRIPTION[key](mode)).join(', ')}` }];
  }
  const issues: ConfigurationIssue[] = needed
    .filter((key) => credentials[key] === undefined)
    .map((key) => ({ field: `${field}.${key}`, message: `missing: security mode ${mode} needs the ${DESCRIPTION[key](mode)}` }));
  if (mode === 'psk') issues.push(...pskIssues(credentials, field));
  if (mode === 'rpk' || mode === 'x509') {
    for (const key of ['publicKey', 'secretKey', 'serverPublicKey'] as const) {
      const hex = credentials[key];
      if (hex !== undefined) issues.push(...derIssues(hex, DER_RULES[mode][key], `${field}.${key}`));
    }
  }
  return issues;
}

function pskIssues(credentials: ServerCredentials, field: string): ConfigurationIssue[] {
  const issues: ConfigurationIssue[] = [];
  if (credentials.identity !== undefined) {
    const size = utf8Bytes(credentials.identity).length;
    if (size === 0) issues.push({ field: `${field}.identity`, message: 'is empty; a PSK identity is 1 to 128 bytes' });
    if (size > PSK_IDENTITY_MAX_BYTES) {
      issues.push({ field: `${field}.identity`, message: `is ${size} bytes in UTF-8; a PSK identity is at most ${PSK_IDENTITY_MAX_BYTES}` });
    }
  }
  if (credentials.secretKey !== undefined) {
    const size = hexByteLength(credentials.secretKey);
    if (size > MAX_KEY_BYTES) return issues;
    if (size < PSK_KEY_MIN_BYTES) {
      issues.push({ field: `${field}.secretKey`, message: `is ${size} bytes; a PSK needs at least ${PSK_KEY_MIN_BYTES} (128 bits)` });
    } else if (size > PSK_KEY_MAX_BYTES) {
      issues.push({ field: `${field}.secretKey`, message: `is ${size} bytes; a PSK is at most ${PSK_KEY_MAX_BYTES}` });
    }
  }
  return issues;
}

/**
 * Size and outer framing only: a client's DTLS stack parses the key, but a truncated paste or
 * a raw 32-byte key where DER belongs is caught here, at import, rather than at a handshake.
 */
function derIssues(hex: string, rule: DerRule, field: string): ConfigurationIssue[] {
  const size = hexByteLength(hex);
  if (size > MAX_KEY_BYTES) return [];
  const expected = `${rule.what} is ${rule.min} to ${rule.max} bytes${rule.typical === undefined ? '' : ` (${rule.typical})`}`;
  if (size < rule.min || size > rule.max) return [{ field, message: `is ${size} bytes; ${expected}` }];
  const outer = derOuterElement(hex);
  if (outer?.tag !== DER_SEQUENCE) return [{ field, message: `is ${size} bytes but does not start with a DER SEQUENCE (0x30); expected ${rule.what}` }];
  const declared = outer.headerBytes + outer.contentBytes;
  if (declared !== size) {
    return [{ field, message: `is ${size} bytes but its DER SEQUENCE header declares ${declared}; the value is cut short or has extra bytes` }];
  }
  return [];
}

/**
 * Nonce length of the COSE AEAD algorithms OSCORE uses (RFC 9053); an OSCORE Sender or
 * Recipient ID is at most nonce length - 6 bytes (RFC 8613 5.2).
 */
const AEAD_NONCE_BYTES: ReadonlyMap<number, number> = new Map([
  [10, 13], // AES-CCM-16-64-128, OSCORE's mandatory algorithm
  [11, 13],
  [12, 7],
  [13, 7],
  [30, 13],
  [31, 13],
  [32, 7],
  [33, 7],
  [1, 12], // A128GCM
  [2, 12],
  [3, 12],
  [24, 12], // ChaCha20/Poly1305
]);
const DEFAULT_NONCE_BYTES = 13;
const MASTER_SECRET_MIN_BYTES = 16;
const MASTER_SECRET_MAX_BYTES = 64;
const MASTER_SALT_MAX_BYTES = 64;
const ID_CONTEXT_MAX_BYTES = 64;

/** An OSCORE Security Context (RFC 8613 3) a client can derive keys from. */
export function oscoreIssues(context: OscoreContext, field: string): ConfigurationIssue[] {
  const issues: ConfigurationIssue[] = [];
  const sized = (key: keyof OscoreContext, check: (size: number) => string | undefined): void => {
    const value = context[key];
    if (typeof value !== 'string') return;
    const size = hexByteLength(value);
    if (size > MAX_KEY_BYTES) return;
    const problem = check(size);
    if (problem !== undefined) issues.push({ field: `${field}.${key}`, message: `is ${size} bytes; ${problem}` });
  };
  sized('masterSecret', (size) =>
    size < MASTER_SECRET_MIN_BYTES || size > MASTER_SECRET_MAX_BYTES
      ? `an OSCORE Master Secret is ${MASTER_SECRET_MIN_BYTES} to ${MASTER_SECRET_MAX_BYTES} bytes`
      : undefined,
  );
  const nonce = AEAD_NONCE_BYTES.get(context.aeadAlgorithm) ?? DEFAULT_NONCE_BYTES;
  const idMax = nonce - 6;
  for (const key of ['senderId', 'recipientId'] as const) {
    sized(key, (size) => (size > idMax ? `an OSCORE ${key === 'senderId' ? 'Sender' : 'Recipient'} ID is at most ${idMax} with AEAD algorithm ${context.aeadAlgorithm} (nonce ${nonce} bytes, RFC 8613 5.2)` : undefined));
  }
  sized('masterSalt', (size) => (size > MASTER_SALT_MAX_BYTES ? `an OSCORE Master Salt is at most ${MASTER_SALT_MAX_BYTES}` : undefined));
  sized('idContext', (size) => (size > ID_CONTEXT_MAX_BYTES ? `an OSCORE ID Context is at most ${ID_CONTEXT_MAX_BYTES}` : undefined));
  if (context.senderId === context.recipientId) {
    issues.push({ field: `${field}.recipientId`, message: 'equals senderId; OSCORE needs distinct sender and recipient ids (RFC 8613 3.3)' });
  }
  return issues;
}

const HEX_VALUES = ['publicKey', 'secretKey', 'serverPublicKey', 'masterSecret', 'senderId', 'recipientId', 'masterSalt', 'idContext'] as const;

/** Every hex value in `values` (credentials or an OSCORE context) at most MAX_KEY_BYTES, whatever the mode. */
export function keyCeilingIssues(values: ServerCredentials | OscoreContext, field: string): ConfigurationIssue[] {
  const issues: ConfigurationIssue[] = [];
  const record = values as Readonly<Partial<Record<(typeof HEX_VALUES)[number], string>>>;
  for (const key of HEX_VALUES) {
    const value = record[key];
    if (value === undefined) continue;
    const size = hexByteLength(value);
    if (size > MAX_KEY_BYTES) issues.push({ field: `${field}.${key}`, message: `is ${size} bytes; no key or certificate here is over ${MAX_KEY_BYTES}` });
  }
  return issues;
}
