import { downlinkSchema, type Downlink, type Uplink } from '../../shared/bootstrap/contract.ts';
import { handleUplink, type BootstrapBackendDeps } from '../../shared/bootstrap/backend.ts';

/**
 * How a gateway reaches the backend. Locally it is a function call; on AWS it is a publish on
 * the gateway's IoT Core topic and the reply on its downlink topic. Either way both ends
 * validate with the contract schemas.
 */
export interface BackendChannel {
  exchange(uplink: Uplink): Promise<Downlink>;
}

/**
 * The in-process channel. Messages go through a JSON round trip so the local server exercises
 * exactly what the wire carries (no Uint8Array or bigint sneaking through).
 */
export function inProcessBackend(deps: BootstrapBackendDeps): BackendChannel {
  return {
    async exchange(uplink) {
      const answer = await handleUplink(JSON.parse(JSON.stringify(uplink)), deps);
      return downlinkSchema.parse(JSON.parse(JSON.stringify(answer)));
    },
  };
}
