import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import type { IotDataEndpoint } from './iot-data-endpoint.ts';

/**
 * One IoT data-plane client per container, made once the endpoint is known. A failed endpoint
 * lookup is not kept, so the next publish asks again.
 */
export function lazyDataPlaneClient(
  endpoint: IotDataEndpoint,
  instrument: (client: IoTDataPlaneClient) => IoTDataPlaneClient = (client) => client,
): () => Promise<IoTDataPlaneClient> {
  let client: Promise<IoTDataPlaneClient> | undefined;
  return () => {
    client ??= endpoint.resolve().then(
      (resolved) => instrument(new IoTDataPlaneClient({ endpoint: resolved })),
      (error: unknown) => {
        client = undefined;
        throw error;
      },
    );
    return client;
  };
}
