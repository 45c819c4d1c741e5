import type { GatewayLogEvent } from '../server/gateway/bootstrap-gateway.ts';
import { UsageError } from './usage.ts';

/** One operator-readable line per gateway event; `serve` and `gateway` print the same way. */
export function describeGatewayEvent(event: GatewayLogEvent): string {
  switch (event.event) {
    case 'bootstrap-started':
      return `bootstrap ${event.kind === 'bspack' ? 'pack' : 'started'}: ${event.endpoint} from ${event.peer} (session ${event.sessionId})`;
    case 'bootstrap-ended':
      return `bootstrap ${event.outcome}: ${event.endpoint} in ${event.ms} ms${event.detail ? ` (${event.detail})` : ''}`;
    case 'bootstrap-rejected':
      return `bootstrap rejected: ${event.endpoint} from ${event.peer}: ${event.reason}`;
    case 'dtls-handshake-failed':
      return `dtls handshake failed: ${event.peer}: ${event.alert}`;
    case 'error':
      return `error: ${event.message}`;
  }
}

/** A port flag: digits only, 0 (any free port) to 65535. */
export function parsePort(text: string, flag: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new UsageError(`${flag} must be a port number, got "${text}"`);
  return port;
}
