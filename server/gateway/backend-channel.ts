import { downlinkSchema, type BootstrapInitiate, type Downlink, type Uplink } from '../../shared/bootstrap/contract.ts';
import { handleUplink, type BootstrapBackendDeps } from '../../shared/bootstrap/backend.ts';

/**
 * How a gateway reaches the backend. Locally it is a function call; on AWS it is a publish on
 * the gateway's IoT Core topic and the reply on its downlink topic. Either way both ends
 * validate with the contract schemas.
 */
export interface BackendChannel {
  exchange(uplink: Uplink): Promise<Downlink>;
  /**
   * Where `bootstrap-initiate` downlinks go, for a channel the backend can send to unprompted
   * (MQTT). The gateway registers itself when it starts; in-process, the caller invokes
   * `BootstrapGateway.initiate` directly and the channel has no such member.
   */
  onInitiate?(handler: InitiateHandler): void;
}

/** Takes a validated `bootstrap-initiate`; what it returns is not awaited by the channel. */
export type InitiateHandler = (downlink: BootstrapInitiate) => Promise<unknown>;

/**
 * The in-process channel. Both directions are validated with the contract schemas, as on the
 * wire: `handleUplink` parses the uplink, and the downlink is parsed here. The schemas admit
 * only JSON values (strings, finite numbers, booleans, arrays, objects), so no Uint8Array or
 * bigint can cross unnoticed; the one free-form field, the reads of a `bootstrap-ended`, takes
 * the JSON round trip the wire would give it.
 */
export function inProcessBackend(deps: BootstrapBackendDeps): BackendChannel {
  return {
    async exchange(uplink) {
      const sent = uplink.type === 'bootstrap-ended' && uplink.reads !== undefined ? { ...uplink, reads: asOnTheWire(uplink.reads) } : uplink;
      return downlinkSchema.parse(await handleUplink(sent, deps));
    },
  };
}

function asOnTheWire<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
