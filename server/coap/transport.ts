/** Where a datagram came from; `family` picks the socket that answers it. */
export interface CoapPeer {
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
  /** The PSK identity a DTLS peer authenticated with; absent over plain UDP. */
  readonly identity?: string;
}

/**
 * What carries CoAP messages for an endpoint: plain UDP (RFC 7252) or DTLS records
 * (RFC 7252 section 9). The endpoint sees datagrams and peers either way; a peer that came over
 * DTLS carries the PSK identity it authenticated with.
 */
export interface CoapTransport {
  send(peer: CoapPeer, datagram: Uint8Array, onError: (message: string) => void): void;
  address(family: 'IPv4' | 'IPv6'): { address: string; port: number } | undefined;
  close(): Promise<void>;
}

export interface TransportBinding {
  readonly port: number;
  readonly host4: string | undefined;
  readonly host6: string | undefined;
}

export interface TransportHandlers {
  receive(datagram: Uint8Array, peer: CoapPeer): void;
  warn(message: string): void;
}

export type TransportFactory = (binding: TransportBinding, handlers: TransportHandlers) => Promise<CoapTransport>;
