import { closeSocket, openSockets } from './sockets.ts';
import type { CoapTransport, TransportFactory } from './transport.ts';

/** CoAP over plain UDP (NoSec): one socket per address family. */
export const udpTransport: TransportFactory = async (binding, handlers) => {
  const { udp4, udp6 } = await openSockets({
    ...binding,
    onMessage: (datagram, remote) =>
      handlers.receive(new Uint8Array(datagram.buffer, datagram.byteOffset, datagram.byteLength), {
        address: remote.address,
        port: remote.port,
        family: remote.family === 'IPv6' ? 'IPv6' : 'IPv4',
      }),
    onWarning: handlers.warn,
  });
  const transport: CoapTransport = {
    send(peer, datagram, onError) {
      const socket = peer.family === 'IPv6' ? udp6 : udp4;
      if (socket === undefined) {
        onError(`no ${peer.family} socket`);
        return;
      }
      socket.send(datagram, peer.port, peer.address, (error) => {
        if (error !== null && error !== undefined) onError(error.message);
      });
    },
    address(family) {
      const socket = family === 'IPv4' ? udp4 : udp6;
      if (socket === undefined) return undefined;
      const { address, port } = socket.address();
      return { address, port };
    },
    async close() {
      await Promise.all([closeSocket(udp4), closeSocket(udp6)]);
    },
  };
  return transport;
};
