import { CodecError } from '../errors.ts';
import type { CoapOptions } from './option.ts';

// RFC 3986 pchar minus pct-encoded: what RFC 7252 6.5 step 8 leaves unescaped in a segment.
const PATH_CHARACTER = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;

/**
 * The request path composed from Uri-Path options as RFC 7252 6.5 does it: "/" plus the
 * segments joined by "/", each percent-encoded, so a "/" inside a segment stays unambiguous.
 * No Uri-Path gives "/". For routing: `uriPathString(options) === '/bs'`.
 */
export function uriPathString(options: Pick<CoapOptions, 'uriPath'>): string {
  const segments = options.uriPath ?? [];
  if (segments.length === 0) return '/';
  return segments.map((segment, index) => `/${encodeSegment(segment, index)}`).join('');
}

function encodeSegment(segment: string, index: number): string {
  let encoded = '';
  for (const character of segment) {
    if (PATH_CHARACTER.test(character)) {
      encoded += character;
      continue;
    }
    try {
      encoded += encodeURIComponent(character);
    } catch {
      throw new CodecError('MALFORMED', 'Uri-Path segment contains a lone UTF-16 surrogate', {
        field: `Uri-Path[${index}]`,
      });
    }
  }
  return encoded;
}

/**
 * The Uri-Path options for a path such as "/0/1" (RFC 7252 6.4 steps 8-9): the leading "/"
 * is dropped, the rest split at "/" and percent-decoded. "/" and "" give no segment; "/a/"
 * gives ["a", ""], as the RFC does.
 */
export function uriPathSegments(path: string): string[] {
  const trimmed = path.startsWith('/') ? path.slice(1) : path;
  if (trimmed === '') return [];
  return trimmed.split('/').map((segment, index) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      throw new CodecError('INVALID_PATH', 'path segment has a broken percent-encoding', {
        field: `segment ${index + 1}`,
      });
    }
  });
}

/**
 * Uri-Query options as a map: "ep=urn:imei:1" gives ep -> "urn:imei:1" (split at the first
 * "="), "b" gives b -> "". CoAP carries each query item raw, so nothing is percent-decoded.
 * A name given twice is ambiguous (which `ep` is the client?), so it throws DUPLICATE.
 */
export function queryParameters(options: Pick<CoapOptions, 'uriQuery'>): Map<string, string> {
  const parameters = new Map<string, string>();
  for (const [index, item] of (options.uriQuery ?? []).entries()) {
    const separator = item.indexOf('=');
    const name = separator === -1 ? item : item.slice(0, separator);
    const value = separator === -1 ? '' : item.slice(separator + 1);
    if (parameters.has(name)) {
      throw new CodecError('DUPLICATE', 'query parameter given twice', { field: `Uri-Query[${index}]` });
    }
    parameters.set(name, value);
  }
  return parameters;
}
