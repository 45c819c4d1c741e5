import { DtlsServer, type DtlsServerOptions } from '../dtls/dtls-server.ts';
import type { CoapPeer } from './types.ts';
import type { CoapTransport, TransportFactory } from './transport.ts';

export type DtlsTransportOptions = Pick<DtlsServerOptions, 'lookupPsk' | 'maxPeers' | 'handshakeTimeoutMs' | 'cipherSuites' | 'onHandshakeFailed'>;

/**
 * CoAP over DTLS (RFC 7252 section 9, "coaps"): one DTLS server per address family, each CoAP
 * message one record of application data. A peer is only ever heard from once its handshake
 * has authenticated it, so every peer the endpoint sees carries its PSK identity.
 */
export function dtlsTransport(options: DtlsTransportOptions): TransportFactory {
  return async (binding, handlers) => {
    const servers: { IPv4?: DtlsServer; IPv6?: DtlsServer } = {};
    const open = (host: string, port: number, family: CoapPeer['family']): Promise<DtlsServer> =>
      DtlsServer.open({
        ...options,
        host,
        port,
        onApplicationData: (peer, data) => handlers.receive(data, { address: peer.address, port: peer.port, family, identity: peer.identity }),
      });
    try {
      if (binding.host4 !== undefined) servers.IPv4 = await open(binding.host4, binding.port, 'IPv4');
      if (binding.host6 !== undefined) {
        const port = binding.port === 0 && servers.IPv4 !== undefined ? servers.IPv4.address().port : binding.port;
        servers.IPv6 = await open(binding.host6, port, 'IPv6').catch((error: unknown) => {
          if (servers.IPv4 === undefined) throw error;
          handlers.warn(`IPv6 disabled for DTLS: cannot bind [${binding.host6}]:${port}: ${error instanceof Error ? error.message : String(error)}`);
          return undefined;
        });
      }
    } catch (error) {
      await servers.IPv4?.close();
      throw error;
    }
    const transport: CoapTransport = {
      send(peer, datagram, onError) {
        const server = servers[peer.family];
        if (server === undefined || !server.sendApplicationData(peer, datagram)) onError('no DTLS session with the peer');
      },
      address(family) {
        return servers[family]?.address();
      },
      async close() {
        await Promise.all([servers.IPv4?.close(), servers.IPv6?.close()]);
      },
    };
    return transport;
  };
}
