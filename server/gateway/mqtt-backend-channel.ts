import { connectAsync, type IClientOptions, type ISubscriptionMap, type MqttClient } from 'mqtt';
import { gatewayDownlinkSchema, type BootstrapInitiate, type Downlink, type Uplink } from '../../shared/bootstrap/contract.ts';
import { parsePskRevocation } from '../../shared/bootstrap/psk-revocation.ts';
import { PSK_REVOCATIONS_TOPIC, downlinkTopic, uplinkTopic } from '../aws/topics.ts';
import type { BackendChannel, InitiateHandler } from './backend-channel.ts';
import type { PskCache } from './psk-cache.ts';

export interface MqttBackendChannelOptions {
  /** `mqtts://<account>-ats.iot.<region>.amazonaws.com:8883` for IoT Core; `mqtt://127.0.0.1:1883` for a local broker. */
  readonly url: string;
  /** Also the MQTT client id unless clientOptions says otherwise (IoT policies tie both to the thing name). */
  readonly gatewayId: string;
  /** Passed to mqtt.js: for IoT Core the gateway's certificate, private key and the Amazon root CA (`cert`, `key`, `ca`). */
  readonly clientOptions?: IClientOptions;
  /** How long an uplink waits for its downlink; the client's CoAP request is waiting too. */
  readonly timeoutMs?: number;
  /** Uplinks waiting for an answer at most; past it an exchange fails at once. */
  readonly maxPending?: number;
  readonly log?: (event: MqttChannelLogEvent) => void;
  /** Takes unsolicited `bootstrap-initiate` downlinks; also settable later with onInitiate(). */
  readonly onInitiate?: InitiateHandler;
  /**
   * The gateway's PSK cache, kept in step with the purges: the channel also subscribes to the
   * broadcast of revoked identities (PSK_REVOCATIONS_TOPIC) and drops each from the cache at
   * once. A reconnection empties the cache, since a clean session does not get what was
   * published while it was away. Without a cache (no coaps) the topic is not subscribed.
   */
  readonly pskCache?: Pick<PskCache, 'invalidate' | 'clear'>;
}

export type MqttChannelLogEvent =
  | { readonly event: 'connected' | 'reconnecting' | 'offline' }
  | { readonly event: 'error'; readonly message: string }
  /** A downlink the contract refuses, or one nobody waits for (it came after its timeout). */
  | { readonly event: 'downlink-dropped'; readonly reason: string }
  /** The identity is not secret: every DTLS handshake carries it in clear. */
  | { readonly event: 'psk-revoked'; readonly identity: string }
  /** A revocation message the schema refuses; the reason names a field, never a value. */
  | { readonly event: 'revocation-dropped'; readonly reason: string }
  /** Reconnected: revocations published meanwhile were missed, so every cached key went. */
  | { readonly event: 'psk-cache-cleared' };

interface Pending {
  readonly expects: readonly Downlink['type'][];
  readonly resolve: (downlink: Downlink) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Thrown by exchange when no answer can come: not connected, too many waiting, timed out, closed. */
export class BackendChannelError extends Error {
  override readonly name = 'BackendChannelError';
}

/**
 * The gateway's side of the contract over MQTT 3.1.1 (AWS IoT Core, or any broker): uplinks are
 * published on the gateway's uplink topic, answers arrive on its downlink topic and are matched
 * by requestId (a Bootstrap-Request's plan or refusal) or sessionId (an outcome's record).
 * A `bootstrap-initiate` answers nothing: it goes to the onInitiate handler (the gateway).
 *
 * While the connection is down an exchange fails at once rather than queueing: the client's
 * CoAP request would time out anyway, and the gateway retries outcomes itself. mqtt.js
 * reconnects and resubscribes on its own.
 */
export class MqttBackendChannel implements BackendChannel {
  readonly #client: MqttClient;
  readonly #gatewayId: string;
  readonly #timeoutMs: number;
  readonly #maxPending: number;
  readonly #log: (event: MqttChannelLogEvent) => void;
  readonly #pending = new Map<string, Pending>();
  readonly #stats = { uplinks: 0, downlinks: 0, timeouts: 0, dropped: 0, refused: 0, revocations: 0, revocationsDropped: 0 };
  readonly #pskCache: Pick<PskCache, 'invalidate' | 'clear'> | undefined;
  #onInitiate: InitiateHandler | undefined;
  #closed = false;

  private constructor(client: MqttClient, options: MqttBackendChannelOptions) {
    this.#client = client;
    this.#gatewayId = options.gatewayId;
    this.#timeoutMs = options.timeoutMs ?? 8_000;
    this.#maxPending = options.maxPending ?? 1024;
    this.#onInitiate = options.onInitiate;
    this.#pskCache = options.pskCache;
    this.#log = (event) => {
      try {
        options.log?.(event);
      } catch {
        // A failing log sink must not take the channel down.
      }
    };
  }

  /**
   * Connects and subscribes to the downlink topic (and, with a PSK cache, the revocations)
   * before resolving; fails if the first connection does.
   */
  static async connect(options: MqttBackendChannelOptions): Promise<MqttBackendChannel> {
    const downlinks = downlinkTopic(options.gatewayId);
    const topics: ISubscriptionMap = { [downlinks]: { qos: 1 }, ...(options.pskCache !== undefined && { [PSK_REVOCATIONS_TOPIC]: { qos: 1 } }) };
    const client = await connectAsync(
      options.url,
      { protocolVersion: 4, clean: true, clientId: options.gatewayId, reconnectPeriod: 1_000, connectTimeout: 10_000, resubscribe: true, ...options.clientOptions },
      false,
    );
    const channel = new MqttBackendChannel(client, options);
    client.on('message', (topic, payload) => {
      if (topic === downlinks) channel.#receive(payload);
      else if (topic === PSK_REVOCATIONS_TOPIC) channel.#revoke(payload);
    });
    client.on('error', (error) => channel.#log({ event: 'error', message: error.message }));
    // The first connection is made by now: every `connect` seen here is a reconnection.
    client.on('connect', () => {
      channel.#log({ event: 'connected' });
      channel.#reconnected();
    });
    client.on('reconnect', () => channel.#log({ event: 'reconnecting' }));
    client.on('offline', () => channel.#log({ event: 'offline' }));
    try {
      // mqtt.js rejects on a SUBACK failure code (a policy refusing the topic) and on a broker
      // that closes the connection instead.
      await client.subscribeAsync(topics);
    } catch (error) {
      await client.endAsync(true);
      throw new BackendChannelError(`subscribing to ${Object.keys(topics).join(' and ')} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    return channel;
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  counters(): Readonly<Record<string, number>> {
    return { ...this.#stats, pending: this.#pending.size };
  }

  /** Where unsolicited `bootstrap-initiate` downlinks go; without a handler they are dropped. */
  onInitiate(handler: InitiateHandler): void {
    this.#onInitiate = handler;
  }

  exchange(uplink: Uplink): Promise<Downlink> {
    if (this.#closed) return Promise.reject(new BackendChannelError('the backend channel is closed'));
    if (!this.#client.connected) return Promise.reject(new BackendChannelError('not connected to the MQTT broker'));
    if (this.#pending.size >= this.#maxPending) {
      this.#stats.refused += 1;
      return Promise.reject(new BackendChannelError(`${this.#pending.size} uplinks already wait for an answer`));
    }
    const key = uplink.type === 'bootstrap-requested' ? requestKey(uplink.requestId) : sessionKey(uplink.sessionId);
    if (this.#pending.has(key)) return Promise.reject(new BackendChannelError(`an uplink for ${key} already waits for its answer`));
    const answer = new Promise<Downlink>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(key);
        this.#stats.timeouts += 1;
        reject(new BackendChannelError(`no answer to ${uplink.type} of ${uplink.endpoint} within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      this.#pending.set(key, {
        expects: uplink.type === 'bootstrap-requested' ? ['bootstrap-planned', 'bootstrap-rejected'] : ['bootstrap-recorded'],
        resolve,
        reject,
        timer,
      });
    });
    this.#stats.uplinks += 1;
    this.#client.publishAsync(uplinkTopic(this.#gatewayId), JSON.stringify(uplink), { qos: 1 }).catch((error: unknown) => {
      this.#settle(key, (pending) => pending.reject(new BackendChannelError(`publishing the uplink failed: ${error instanceof Error ? error.message : String(error)}`)));
    });
    return answer;
  }

  /** Fails every waiting exchange and disconnects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const key of [...this.#pending.keys()]) this.#settle(key, (pending) => pending.reject(new BackendChannelError('the backend channel is closed')));
    await this.#client.endAsync();
  }

  #receive(payload: Buffer): void {
    let message: unknown;
    try {
      message = JSON.parse(payload.toString('utf8'));
    } catch {
      this.#drop('not JSON');
      return;
    }
    const parsed = gatewayDownlinkSchema.safeParse(message);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.#drop(`invalid downlink at ${issue?.path.join('.') || '(message)'}: ${issue?.message ?? 'unknown'}`);
      return;
    }
    const downlink = parsed.data;
    if (downlink.type === 'bootstrap-initiate') {
      this.#initiate(downlink);
      return;
    }
    const key = downlink.type === 'bootstrap-recorded' ? sessionKey(downlink.sessionId) : requestKey(downlink.requestId);
    const pending = this.#pending.get(key);
    if (pending === undefined || !pending.expects.includes(downlink.type)) {
      this.#drop(`${downlink.type} for ${key} that nothing waits for`);
      return;
    }
    this.#stats.downlinks += 1;
    this.#settle(key, (waiting) => waiting.resolve(downlink));
  }

  #revoke(payload: Buffer): void {
    const cache = this.#pskCache;
    if (cache === undefined) return;
    const parsed = parsePskRevocation(payload);
    if (!parsed.ok) {
      this.#stats.revocationsDropped += 1;
      this.#log({ event: 'revocation-dropped', reason: parsed.reason });
      return;
    }
    this.#stats.revocations += 1;
    cache.invalidate(parsed.revocation.identity);
    this.#log({ event: 'psk-revoked', identity: parsed.revocation.identity });
  }

  #reconnected(): void {
    if (this.#pskCache === undefined || this.#closed) return;
    this.#pskCache.clear();
    this.#log({ event: 'psk-cache-cleared' });
  }

  #initiate(downlink: BootstrapInitiate): void {
    const handler = this.#onInitiate;
    if (handler === undefined) {
      this.#drop(`bootstrap-initiate for ${downlink.endpoint} with no handler`);
      return;
    }
    this.#stats.downlinks += 1;
    // The outcome goes back as its own uplink; only a refusal to start is reported here.
    Promise.resolve().then(() => handler(downlink)).catch((error: unknown) => {
      this.#drop(`bootstrap-initiate for ${downlink.endpoint} refused: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  #settle(key: string, done: (pending: Pending) => void): void {
    const pending = this.#pending.get(key);
    if (pending === undefined) return;
    this.#pending.delete(key);
    clearTimeout(pending.timer);
    done(pending);
  }

  #drop(reason: string): void {
    this.#stats.dropped += 1;
    this.#log({ event: 'downlink-dropped', reason });
  }
}

const requestKey = (requestId: string): string => `request ${requestId}`;
const sessionKey = (sessionId: string): string => `session ${sessionId}`;
