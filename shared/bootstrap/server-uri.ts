import type { SecurityModeName } from './credentials.ts';

const PLAIN = ['coap:', 'coap+tcp:'];
const SECURE = ['coaps:', 'coaps+tcp:'];

/**
 * Why a server URI cannot work for an account in `mode`, or undefined when it can. NoSec rides
 * plain CoAP (OSCORE-only accounts too: OSCORE protects the messages, not the transport); every
 * certificate or key mode needs DTLS or TLS. With no mode, any CoAP scheme passes. The URI itself
 * is never repeated: the operator has it in front of them at the field named.
 */
export function serverUriProblem(uri: string, mode?: SecurityModeName): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not a URI (expected e.g. coaps://lwm2m.example.com:5684)';
  }
  if (![...PLAIN, ...SECURE].includes(url.protocol)) {
    return `scheme "${url.protocol.slice(0, -1).slice(0, 16)}" is not coap, coaps, coap+tcp or coaps+tcp`;
  }
  if (url.hostname === '') return 'has no host';
  if (mode === undefined) return undefined;
  if (mode === 'nosec' && !PLAIN.includes(url.protocol)) {
    return 'security mode nosec needs coap:// or coap+tcp:// (a client cannot do DTLS/TLS without credentials)';
  }
  if (mode !== 'nosec' && !SECURE.includes(url.protocol)) {
    return `security mode ${mode} needs coaps:// or coaps+tcp:// (its credentials are for DTLS/TLS)`;
  }
  return undefined;
}
