import type { CoapMessage } from '../../shared/coap/message.ts';
import type { CoapPeer, TransportFactory } from './transport.ts';

export type { CoapPeer } from './transport.ts';

export interface IncomingRequest {
  readonly peer: CoapPeer;
  /** Payload already reassembled when the client used Block1; Block1 and Size1 are removed. */
  readonly message: CoapMessage;
}

export interface OutgoingResponse {
  readonly code: number;
  readonly contentFormat?: number;
  readonly payload?: Uint8Array;
  readonly locationPath?: string[];
}

export interface OutgoingRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly query?: string[];
  readonly contentFormat?: number;
  readonly accept?: number;
  readonly payload?: Uint8Array;
}

export interface CoapResponse {
  readonly code: number;
  readonly contentFormat?: number;
  /** Reassembled when the peer answered with Block2. */
  readonly payload: Uint8Array;
  /** The last message of the exchange (the last block when Block2 was used). */
  readonly message: CoapMessage;
}

export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

export interface CoapEndpointOptions {
  /** 0 = ephemeral; the IPv6 socket then tries the port the IPv4 one got. */
  readonly port: number;
  /** Default '0.0.0.0'; null or false disables IPv4. */
  readonly host4?: string | null | false;
  /** Default '::' (ipv6Only); false disables IPv6. A host without IPv6 only gets a warning. */
  readonly host6?: string | false;
  onRequest(request: IncomingRequest): Promise<OutgoingResponse> | OutgoingResponse;
  /** RFC 7252 4.8 transmission parameters. */
  readonly ackTimeoutMs?: number;
  readonly ackRandomFactor?: number;
  readonly maxRetransmit?: number;
  readonly exchangeLifetimeMs?: number;
  /** Our preferred block size, both directions: 16..1024. */
  readonly blockSize?: number;
  /** Token bucket per source address; default 200/s, burst 400. */
  readonly rateLimit?: RateLimit;
  /** Peers (address + port) whose state we keep; the least recently seen is dropped. */
  readonly maxPeers?: number;
  /** Per peer: requests being handled at once, and our requests outstanding to it. Default 16. */
  readonly maxPendingPerPeer?: number;
  /** Largest request body reassembled from Block1 (default 64 KiB); larger gets 4.13. */
  readonly maxRequestBodySize?: number;
  /** Largest response body we reassemble from Block2 (default 1 MiB). */
  readonly maxResponseBodySize?: number;
  onWarning?(message: string): void;
  /** What carries the messages; plain UDP when absent. */
  readonly transport?: TransportFactory;
}

/** A map key for a peer: the family is implied by the address. */
export function peerKey(peer: Pick<CoapPeer, 'address' | 'port'>): string {
  return `${peer.address}#${peer.port}`;
}

export function describePeer(peer: CoapPeer): string {
  return peer.family === 'IPv6' ? `[${peer.address}]:${peer.port}` : `${peer.address}:${peer.port}`;
}
