/**
 * The DtlsServer's UDP socket: bound before the server exists so a port in use fails `open`, and
 * records sent through it packed into as few datagrams as fit (datagram-packing.ts). The IPv6 socket is IPv6 only, so an IPv4 server can hold the same port (the CoAP endpoint opens
 * one of each), and the receive buffer is large, because a burst of handshakes otherwise
 * overflows the default.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { ClientAddress } from './cookie.ts';
import { packDatagrams } from './datagram-packing.ts';
import type { DtlsRecord } from './record.ts';

const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

export async function bindUdpSocket(host: string, port: number): Promise<Socket> {
  const socket = host.includes(':')
    ? createSocket({ type: 'udp6', ipv6Only: true, recvBufferSize: RECEIVE_BUFFER_BYTES })
    : createSocket({ type: 'udp4', recvBufferSize: RECEIVE_BUFFER_BYTES });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

/** Best effort, as UDP is: a socket that is closing sends nothing, and that is not an error. */
export function sendRecords(socket: Socket, client: ClientAddress, records: readonly DtlsRecord[], datagramLimit: number): void {
  for (const datagram of packDatagrams(records, datagramLimit)) {
    try {
      socket.send(datagram, client.port, client.address);
    } catch {
      // The socket is closing: nothing more goes out.
    }
  }
}
