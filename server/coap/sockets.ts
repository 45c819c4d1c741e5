import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';

export interface EndpointSockets {
  readonly udp4: Socket | undefined;
  readonly udp6: Socket | undefined;
}

export interface SocketOptions {
  readonly port: number;
  readonly host4: string | undefined;
  readonly host6: string | undefined;
  onMessage(datagram: Buffer, remote: RemoteInfo): void;
  onWarning(message: string): void;
}

/**
 * One udp4 and one udp6 (ipv6Only) socket rather than a dual-stack one, so every peer address
 * is in its native form and a host without IPv6 still serves IPv4. With port 0 the IPv6 socket
 * tries the port the IPv4 one got, so both families reach the server at the same port.
 */
/**
 * Datagrams queue here while the event loop is busy; the default (about 200 KiB) overflows when
 * hundreds of clients send at once, and each drop costs a client a 2 s retransmission. The
 * kernel caps it at net.core.rmem_max.
 */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

export async function openSockets(options: SocketOptions): Promise<EndpointSockets> {
  let udp4: Socket | undefined;
  if (options.host4 !== undefined) {
    udp4 = await bind(createSocket({ type: 'udp4', recvBufferSize: RECEIVE_BUFFER_BYTES }), options.host4, options.port);
  }
  let udp6: Socket | undefined;
  if (options.host6 !== undefined) {
    const preferred = options.port === 0 && udp4 !== undefined ? udp4.address().port : options.port;
    try {
      udp6 = await bind(createSocket({ type: 'udp6', ipv6Only: true, recvBufferSize: RECEIVE_BUFFER_BYTES }), options.host6, preferred);
    } catch (error) {
      if (preferred !== options.port && errorCode(error) === 'EADDRINUSE') {
        udp6 = await bind(createSocket({ type: 'udp6', ipv6Only: true, recvBufferSize: RECEIVE_BUFFER_BYTES }), options.host6, 0).catch((retry: unknown) => {
          options.onWarning(`IPv6 disabled: cannot bind [${options.host6}]: ${describe(retry)}`);
          return undefined;
        });
      } else if (udp4 === undefined) {
        throw error;
      } else {
        options.onWarning(`IPv6 disabled: cannot bind [${options.host6}]:${preferred}: ${describe(error)}`);
      }
    }
  }
  for (const socket of [udp4, udp6]) {
    socket?.on('message', options.onMessage);
    // After bind, errors are per datagram (ICMP unreachable and the like): log, keep serving.
    socket?.on('error', (error) => options.onWarning(`UDP socket error: ${describe(error)}`));
  }
  return { udp4, udp6 };
}

function bind(socket: Socket, address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      try {
        socket.close();
      } catch {
        // never bound: nothing to close
      }
      reject(error);
    };
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

export function closeSocket(socket: Socket | undefined): Promise<void> {
  if (socket === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
