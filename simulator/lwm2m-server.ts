import { CoapCode, queryParameters } from '../shared/coap/index.ts';
import { ContentFormat } from '../shared/content/format.ts';
import { parseLinkFormat } from '../shared/content/link-format.ts';
import { CoapTransport, formatPeer, type IncomingRequest, type OutgoingResponse } from './transport.ts';

/**
 * A test LwM2M server: just the Registration interface (LwM2M Core 1.1 §5.3), enough to see
 * that a bootstrapped client reached the server it was given. Register gets 2.01 with
 * Location-Path `rd/<n>`; Update (POST /rd/<n>) 2.04; De-register (DELETE /rd/<n>) 2.02.
 */
export interface Registration {
  readonly endpoint: string;
  readonly lifetime?: number;
  readonly version?: string;
  readonly binding?: string;
  /** The link targets of the Register payload, e.g. ['/1/0', '/3/0']. */
  readonly objectLinks: readonly string[];
  /** `rd/<n>`, without a leading slash. */
  readonly location: string;
  /** `host:port` the Register came from. */
  readonly peer: string;
}

interface Waiter {
  readonly endpoint: string;
  readonly resolve: (registration: Registration) => void;
}

export class TestLwm2mServer {
  readonly #transport: CoapTransport;
  /** By location; a new Register of the same endpoint replaces the old registration. */
  readonly #registrations = new Map<string, Registration>();
  readonly #waiters = new Set<Waiter>();
  #next = 1;

  private constructor(transport: CoapTransport) {
    this.#transport = transport;
    transport.onRequest((request) => this.#handle(request));
  }

  static async start(options: { port?: number; host?: string } = {}): Promise<TestLwm2mServer> {
    const transport = await CoapTransport.open({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
    return new TestLwm2mServer(transport);
  }

  get port(): number {
    return this.#transport.port;
  }

  registrations(): Registration[] {
    return [...this.#registrations.values()];
  }

  /** Resolves with the endpoint's registration, now or when it arrives; rejects after `timeoutMs`. */
  waitFor(endpoint: string, timeoutMs = 5000): Promise<Registration> {
    const existing = this.registrations().find((registration) => registration.endpoint === endpoint);
    if (existing !== undefined) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        endpoint,
        resolve: (registration) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(registration);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`${endpoint} did not register within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  async close(): Promise<void> {
    await this.#transport.close();
  }

  #handle(request: IncomingRequest): OutgoingResponse {
    const { message } = request;
    const path = message.options.uriPath ?? [];
    if (path[0] !== 'rd') return { code: CoapCode.NOT_FOUND };
    if (path.length === 1) {
      return message.code === CoapCode.POST ? this.#register(request) : { code: CoapCode.METHOD_NOT_ALLOWED };
    }
    const location = path.join('/');
    if (path.length !== 2 || !this.#registrations.has(location)) return { code: CoapCode.NOT_FOUND };
    if (message.code === CoapCode.POST) return { code: CoapCode.CHANGED };
    if (message.code === CoapCode.DELETE) {
      this.#registrations.delete(location);
      return { code: CoapCode.DELETED };
    }
    return { code: CoapCode.METHOD_NOT_ALLOWED };
  }

  #register(request: IncomingRequest): OutgoingResponse {
    let query: Map<string, string>;
    let links: string[];
    try {
      query = queryParameters(request.message.options);
      const format = request.message.options.contentFormat;
      if (format !== undefined && format !== ContentFormat.LINK_FORMAT) return { code: CoapCode.UNSUPPORTED_CONTENT_FORMAT };
      links = parseLinkFormat(request.payload).map((link) => link.target);
    } catch {
      return { code: CoapCode.BAD_REQUEST };
    }
    const endpoint = query.get('ep');
    if (endpoint === undefined || endpoint === '') return { code: CoapCode.BAD_REQUEST };
    const lifetimeText = query.get('lt');
    const lifetime = lifetimeText === undefined ? undefined : Number(lifetimeText);
    if (lifetime !== undefined && (!Number.isInteger(lifetime) || lifetime <= 0)) return { code: CoapCode.BAD_REQUEST };
    for (const [location, old] of this.#registrations) {
      if (old.endpoint === endpoint) this.#registrations.delete(location);
    }
    const location = `rd/${this.#next++}`;
    const version = query.get('lwm2m');
    const binding = query.get('b');
    const registration: Registration = {
      endpoint,
      ...(lifetime === undefined ? {} : { lifetime }),
      ...(version === undefined ? {} : { version }),
      ...(binding === undefined ? {} : { binding }),
      objectLinks: links,
      location,
      peer: formatPeer(request.peer),
    };
    this.#registrations.set(location, registration);
    for (const waiter of [...this.#waiters]) {
      if (waiter.endpoint === endpoint) waiter.resolve(registration);
    }
    return { code: CoapCode.CREATED, options: { locationPath: location.split('/') } };
  }
}
