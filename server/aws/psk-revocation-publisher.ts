import { PublishCommand, type IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import type { PskRevocation } from '../../shared/bootstrap/psk-revocation.ts';
import type { IotDataEndpoint } from './iot-data-endpoint.ts';
import { lazyDataPlaneClient } from './iot-data-plane.ts';
import { PSK_REVOCATIONS_TOPIC } from './topics.ts';

export interface PskRevocationPublisher {
  publish(revocation: PskRevocation): Promise<void>;
}

/**
 * Revocations go to every gateway on the broadcast topic, QoS 1: IoT Core retries delivery to
 * each connected subscriber until it acknowledges. A gateway that is not connected misses the
 * message (clean sessions), which is why a gateway empties its cache when it reconnects.
 */
export class IotPskRevocationPublisher implements PskRevocationPublisher {
  readonly #client: () => Promise<IoTDataPlaneClient>;

  constructor(endpoint: IotDataEndpoint, instrument?: (client: IoTDataPlaneClient) => IoTDataPlaneClient) {
    this.#client = lazyDataPlaneClient(endpoint, instrument);
  }

  async publish(revocation: PskRevocation): Promise<void> {
    const client = await this.#client();
    await client.send(
      new PublishCommand({
        topic: PSK_REVOCATIONS_TOPIC,
        qos: 1,
        contentType: 'application/json',
        payload: new TextEncoder().encode(JSON.stringify(revocation)),
      }),
    );
  }
}
