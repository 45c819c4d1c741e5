import type { SecurityModeName, ServerCredentials } from './credentials.ts';
import type { ConfigurationIssue } from './configuration-error.ts';
import { hexByteLength, utf8Bytes } from './key-bytes.ts';

/** PSK identity: at most 128 bytes (RFC 4279 allows 2^16 - 1, LwM2M clients and RFC 7925 stay far below). */
const PSK_IDENTITY_MAX_BYTES = 128;
/** 128 bits is what LwM2M's mandatory cipher suite (AES-128-CCM-8) is keyed with. */
const PSK_KEY_MIN_BYTES = 16;
const PSK_KEY_MAX_BYTES = 64;

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

/**
 * What a Security instance in `mode` needs from `credentials` (at `field`). Messages state
 * sizes and names, never a key's value.
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
    if (size < PSK_KEY_MIN_BYTES) {
      issues.push({ field: `${field}.secretKey`, message: `is ${size} bytes; a PSK needs at least ${PSK_KEY_MIN_BYTES} (128 bits)` });
    } else if (size > PSK_KEY_MAX_BYTES) {
      issues.push({ field: `${field}.secretKey`, message: `is ${size} bytes; a PSK is at most ${PSK_KEY_MAX_BYTES}` });
    }
  }
  return issues;
}
