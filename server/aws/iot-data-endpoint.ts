import { DescribeEndpointCommand, IoTClient } from '@aws-sdk/client-iot';

/**
 * The account's IoT data-plane endpoint (`xxxx-ats.iot.<region>.amazonaws.com`), as an https
 * URL for an IoTDataPlaneClient. A configured one is used as is; otherwise DescribeEndpoint is
 * asked once per container. A failed lookup is not cached, so the next invocation tries again.
 */
export class IotDataEndpoint {
  readonly #configured: string | undefined;
  readonly #iot: () => IoTClient;
  #lookup: Promise<string> | undefined;

  constructor(options: { readonly configured?: string; readonly iot?: () => IoTClient } = {}) {
    this.#configured = options.configured === undefined || options.configured === '' ? undefined : asUrl(options.configured);
    this.#iot = options.iot ?? (() => new IoTClient({}));
  }

  resolve(): Promise<string> {
    if (this.#configured !== undefined) return Promise.resolve(this.#configured);
    this.#lookup ??= this.#describe().catch((error: unknown) => {
      this.#lookup = undefined;
      throw error;
    });
    return this.#lookup;
  }

  async #describe(): Promise<string> {
    const client = this.#iot();
    try {
      // iot:Data-ATS: the legacy iot:Data endpoint serves a Symantec-signed certificate.
      const output = await client.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
      if (output.endpointAddress === undefined || output.endpointAddress === '') throw new Error('DescribeEndpoint returned no endpointAddress');
      return asUrl(output.endpointAddress);
    } finally {
      client.destroy();
    }
  }
}

function asUrl(address: string): string {
  return /^https?:\/\//.test(address) ? address : `https://${address}`;
}
