import { CoapCode } from '../../shared/coap/code.ts';
import type { CoapOptions } from '../../shared/coap/option.ts';
import { uriPathSegments } from '../../shared/coap/uri.ts';
import type { RequestTemplate } from './exchange-store.ts';
import type { OutgoingRequest } from './types.ts';

const METHOD_CODES = { GET: CoapCode.GET, POST: CoapCode.POST, PUT: CoapCode.PUT, DELETE: CoapCode.DELETE } as const;

/** The CoAP request for an OutgoingRequest: path "/0/1" becomes Uri-Path "0", "1". */
export function requestTemplate(request: OutgoingRequest): RequestTemplate {
  const code = METHOD_CODES[request.method] as number | undefined;
  if (code === undefined) throw new TypeError(`unsupported CoAP method ${String(request.method)}`);
  const uriPath = uriPathSegments(request.path);
  const options: CoapOptions = {
    ...(uriPath.length > 0 && { uriPath }),
    ...(request.query !== undefined && request.query.length > 0 && { uriQuery: request.query }),
    ...(request.contentFormat !== undefined && { contentFormat: request.contentFormat }),
    ...(request.accept !== undefined && { accept: request.accept }),
  };
  return { code, options, payload: request.payload ?? new Uint8Array(0) };
}
