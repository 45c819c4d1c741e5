import { PublishCommand, type IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import type { GatewayDownlink } from '../../shared/bootstrap/contract.ts';
import type { IotDataEndpoint } from './iot-data-endpoint.ts';
import { lazyDataPlaneClient } from './iot-data-plane.ts';
import { downlinkTopic } from './topics.ts';

/**
 * Anything a gateway's downlink topic carries: the answers to its uplinks (`Downlink`) and the
 * unprompted `bootstrap-initiate` of a Server Initiated Bootstrap.
 */
export interface DownlinkPublisher {
  publish(gatewayId: string, downlink: GatewayDownlink): Promise<void>;
}

/**
 * Downlinks go back through the IoT data plane on the gateway's own topic, QoS 1 so IoT Core
 * keeps retrying delivery to a connected gateway until it acknowledges.
 */
export class IotDownlinkPublisher implements DownlinkPublisher {
  readonly #dataPlane: () => Promise<IoTDataPlaneClient>;

  constructor(endpoint: IotDataEndpoint, instrument?: (client: IoTDataPlaneClient) => IoTDataPlaneClient) {
    this.#dataPlane = lazyDataPlaneClient(endpoint, instrument);
  }

  async publish(gatewayId: string, downlink: GatewayDownlink): Promise<void> {
    const client = await this.#dataPlane();
    await client.send(
      new PublishCommand({
        topic: downlinkTopic(gatewayId),
        qos: 1,
        contentType: 'application/json',
        payload: new TextEncoder().encode(JSON.stringify(downlink)),
      }),
    );
  }
}
