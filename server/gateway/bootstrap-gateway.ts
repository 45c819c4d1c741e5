import { randomUUID } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { CoapCode } from '../../shared/coap/code.ts';
import { queryParameters, uriPathString } from '../../shared/coap/uri.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { encodeBootstrapPack, BootstrapPackFormatError } from '../../shared/bootstrap/bspack.ts';
import { CONTRACT_VERSION, bootstrapInitiateSchema, type BootstrapInitiate, type BootstrapRequested, type Downlink } from '../../shared/bootstrap/contract.ts';
import { endpointName } from '../../shared/bootstrap/device.ts';
import type { SessionResult } from '../../shared/bootstrap/session.ts';
import { CoapEndpoint, type CoapEndpointOptions, type CoapPeer, type IncomingRequest, type OutgoingResponse } from '../coap/endpoint.ts';
import { dtlsTransport, type DtlsTransportOptions } from '../coap/dtls-transport.ts';
import { LruMap } from '../coap/lru-map.ts';
import type { TransportFactory } from '../coap/transport.ts';
import { peerKey } from '../coap/types.ts';
import { alertName } from '../dtls/alert.ts';
import type { BackendChannel } from './backend-channel.ts';
import type { PskSource } from './psk-cache.ts';
import { SessionRunner } from './session-runner.ts';

export interface BootstrapGatewayOptions {
  readonly gatewayId: string;
  readonly backend: BackendChannel;
  readonly coap: Omit<CoapEndpointOptions, 'onRequest'>;
  /**
   * CoAP over DTLS with PSK (coaps, port 5684): keys come from `psk`, and a Bootstrap-Request is
   * sent to the backend with the identity the handshake authenticated.
   */
  readonly coaps?: Omit<CoapEndpointOptions, 'onRequest' | 'transport'> & Pick<DtlsTransportOptions, 'handshakeTimeoutMs' | 'cipherSuites'> & { readonly psk: PskSource };
  /** Per request to the client, on top of CoAP retransmission. */
  readonly requestTimeoutMs?: number;
  /**
   * A server-initiated bootstrap the device does not answer at all is tried again after each of
   * these delays, then recorded as `timeout` (default 5 s, 30 s, 2 min).
   */
  readonly initiateRetryDelaysMs?: readonly number[];
  readonly log?: (event: GatewayLogEvent) => void;
}

export type GatewayLogEvent =
  | { readonly event: 'bootstrap-started'; readonly endpoint: string; readonly sessionId: string; readonly peer: string; readonly kind: 'bs' | 'bspack'; readonly initiatedBy?: 'server' }
  | { readonly event: 'bootstrap-ended'; readonly endpoint: string; readonly sessionId: string; readonly outcome: string; readonly detail?: string; readonly ms: number }
  | { readonly event: 'bootstrap-rejected'; readonly endpoint: string; readonly reason: string; readonly peer: string }
  /** An unknown identity and a wrong key both read `decrypt_error`, here as on the wire. */
  | { readonly event: 'dtls-handshake-failed'; readonly peer: string; readonly alert: string }
  | { readonly event: 'error'; readonly message: string };

const DEFAULT_INITIATE_RETRY_DELAYS_MS: readonly number[] = [5_000, 30_000, 120_000];
/** Recorded when the gateway cannot reach a DTLS device: only the device can open a session. */
export const NO_DTLS_SESSION_DETAIL = 'no DTLS session with the device; served at its next Bootstrap-Request';

/** A server-initiated bootstrap in progress: its current session, or the wait before the next try. */
interface Initiation {
  readonly peerKey: string;
  runner: SessionRunner | undefined;
  cancel(reason: string): void;
  /** The attempts' result. */
  readonly done: Promise<SessionResult>;
  /** Settles once the outcome is handed to the backend (close() waits for it). */
  reported?: Promise<SessionResult>;
}

const badRequest = (text: string): OutgoingResponse => ({ code: CoapCode.BAD_REQUEST, contentFormat: ContentFormat.TEXT, payload: new TextEncoder().encode(text) });

/**
 * The CoAP face of the bootstrap server: serves `POST /bs` and `GET /bspack`, asks the backend
 * for a plan, and runs one session per endpoint with the client. Outcomes go back to the
 * backend, which records them.
 */
export class BootstrapGateway {
  private readonly options: BootstrapGatewayOptions;
  private readonly sessions = new Map<string, SessionRunner>();
  /** Server-initiated bootstraps by endpoint, from initiate() until their outcome is reported. */
  private readonly initiations = new Map<string, Initiation>();
  /** The PSK identity each DTLS peer last spoke under; removed when a send finds no session. */
  private readonly dtlsPeers = new LruMap<string, string>(10_000);
  private readonly pendingOutcomes = new Set<Promise<void>>();
  private readonly inFlightRequests = new Set<Promise<OutgoingResponse>>();
  /** Per endpoint, the arrival number of its latest Bootstrap-Request. */
  private readonly latestRequest = new Map<string, number>();
  private arrivals = 0;
  private closing = false;
  private coapEndpoint: CoapEndpoint | undefined;
  private coapsEndpoint: CoapEndpoint | undefined;
  private readonly stats = { bootstrapsStarted: 0, bootstrapsEnded: 0, bootstrapsRejected: 0, bspackServed: 0, sessionsCancelled: 0, requestsSuperseded: 0, bootstrapsInitiated: 0, initiateRetries: 0 };

  private constructor(options: BootstrapGatewayOptions) {
    this.options = options;
  }

  static async start(options: BootstrapGatewayOptions): Promise<BootstrapGateway> {
    const gateway = new BootstrapGateway(options);
    gateway.coapEndpoint = await CoapEndpoint.open({ ...options.coap, onRequest: (request) => gateway.handle(request, gateway.coap) });
    if (options.coaps !== undefined) {
      const { psk, handshakeTimeoutMs, cipherSuites, ...coaps } = options.coaps;
      try {
        const secure = await CoapEndpoint.open({
          ...coaps,
          transport: gateway.watchDtlsPeers(dtlsTransport({
            lookupPsk: async (identity) => (await psk.lookup(identity))?.key,
            // The same bound on DTLS sessions as on the CoAP peers they carry.
            ...(coaps.maxPeers !== undefined && { maxPeers: coaps.maxPeers }),
            ...(handshakeTimeoutMs !== undefined && { handshakeTimeoutMs }),
            ...(cipherSuites !== undefined && { cipherSuites }),
            onHandshakeFailed: (client, alert) => gateway.log({ event: 'dtls-handshake-failed', peer: describe({ ...client, family: client.address.includes(':') ? 'IPv6' : 'IPv4' }), alert: alertName(alert) }),
          })),
          onRequest: (request) => gateway.handle(request, secure),
        });
        gateway.coapsEndpoint = secure;
      } catch (error) {
        await gateway.coap.close();
        throw error;
      }
    }
    // Unsolicited downlinks (MQTT) start server-initiated bootstraps here.
    options.backend.onInitiate?.((downlink) => gateway.initiate(downlink));
    return gateway;
  }

  get coap(): CoapEndpoint {
    if (!this.coapEndpoint) throw new Error('gateway not started');
    return this.coapEndpoint;
  }

  /** The DTLS endpoint, when the gateway serves coaps. */
  get coaps(): CoapEndpoint | undefined {
    return this.coapsEndpoint;
  }

  /** The plain UDP endpoint's counters, the coaps endpoint's prefixed with `coaps.`, and the sessions'. */
  counters(): Readonly<Record<string, number>> {
    const secure = Object.entries(this.coapsEndpoint?.counters() ?? {}).map(([name, value]) => [`coaps.${name}`, value] as const);
    return { ...this.coap.counters(), ...Object.fromEntries(secure), ...this.stats, activeSessions: this.sessions.size };
  }

  /** Sessions still running; outcomes are written before close() resolves. */
  async close(): Promise<void> {
    this.closing = true;
    // Requests already waiting on the backend finish first, so none starts a session on a
    // closed endpoint or records into a closed store.
    await Promise.allSettled([...this.inFlightRequests]);
    const initiations = [...this.initiations.values()];
    for (const initiation of initiations) initiation.cancel('server shutting down');
    for (const session of this.sessions.values()) session.cancel('server shutting down');
    await Promise.allSettled([...this.sessions.values()].map((session) => session.done));
    await Promise.allSettled(initiations.map((initiation) => initiation.reported ?? initiation.done));
    await Promise.allSettled([...this.pendingOutcomes]);
    await Promise.all([this.coap.close(), this.coapsEndpoint?.close()]);
  }

  /**
   * Server Initiated Bootstrap (LwM2M Core §5.2.2.3): runs the plan towards `peer` without a
   * Bootstrap-Request, superseding any session of that endpoint as a new request would. A device
   * that answers nothing is tried again after each of `initiateRetryDelaysMs`; the outcome goes
   * to the backend as `bootstrap-ended` (kind `bs`) like any session's. Over DTLS the gateway
   * cannot open a session to a client, so it runs only inside one the device holds under the
   * downlink's PSK identity; otherwise it records `client-error` at once and does not retry.
   *
   * Resolves with the outcome once it is reported; rejects only for a downlink the contract
   * refuses, one meant for another gateway, or a gateway that is closing.
   */
  async initiate(input: BootstrapInitiate): Promise<SessionResult> {
    const parsed = bootstrapInitiateSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new TypeError(`invalid bootstrap-initiate at ${issue?.path.join('.') || '(message)'}: ${issue?.message ?? 'unknown'}`);
    }
    const downlink = parsed.data;
    if (this.closing) throw new Error('gateway is closing');
    if (downlink.gatewayId !== undefined && downlink.gatewayId !== this.options.gatewayId) {
      throw new Error(`bootstrap-initiate is meant for gateway ${downlink.gatewayId}, this is ${this.options.gatewayId}`);
    }
    const { endpoint, sessionId } = downlink;
    const peer: CoapPeer = {
      address: downlink.peer.address,
      port: downlink.peer.port,
      family: isIPv6(downlink.peer.address) ? 'IPv6' : 'IPv4',
      ...(downlink.pskIdentity !== undefined && { identity: downlink.pskIdentity }),
    };
    const via = downlink.transport === 'dtls' ? this.coapsEndpoint : this.coap;
    const startedAt = new Date();
    this.supersede(endpoint, 'superseded by a server-initiated bootstrap');
    this.stats.bootstrapsInitiated += 1;
    this.log({ event: 'bootstrap-started', endpoint, sessionId, peer: describe(peer), kind: 'bs', initiatedBy: 'server' });

    let cancelled: string | undefined;
    let wake: () => void = () => undefined;
    const initiation: Initiation = {
      peerKey: peerKey(peer),
      runner: undefined,
      cancel: (reason) => {
        cancelled ??= reason;
        initiation.runner?.cancel(reason);
        wake();
      },
      done: Promise.resolve().then(async (): Promise<SessionResult> => {
        const delays = this.options.initiateRetryDelaysMs ?? DEFAULT_INITIATE_RETRY_DELAYS_MS;
        for (let attempt = 0; ; attempt += 1) {
          if (cancelled !== undefined) return { outcome: 'cancelled', detail: cancelled };
          if (via === undefined || (downlink.transport === 'dtls' && !this.holdsDtlsSession(peer))) {
            return { outcome: 'client-error', detail: NO_DTLS_SESSION_DETAIL };
          }
          const runner = new SessionRunner(via, peer, { endpoint, sessionId, startedAt, requestTimeoutMs: this.options.requestTimeoutMs ?? 60_000 });
          initiation.runner = runner;
          this.sessions.set(endpoint, runner);
          runner.start(downlink.plan, undefined);
          const result = await runner.done;
          initiation.runner = undefined;
          if (this.sessions.get(endpoint) === runner) this.sessions.delete(endpoint);
          const delayMs = delays[attempt];
          const silent = result.outcome === 'timeout' && !runner.clientAnswered;
          if (!silent || delayMs === undefined || cancelled !== undefined || this.closing) {
            return silent && attempt > 0 ? { ...result, detail: `${result.detail ?? 'no answer'} (${attempt + 1} attempts)` } : result;
          }
          // Counted, not logged: the CLI's log printers list the event kinds they know.
          this.stats.initiateRetries += 1;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delayMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
      }).catch((error: unknown): SessionResult => ({ outcome: 'cancelled', detail: `gateway error: ${error instanceof Error ? error.message : String(error)}` })),
    };
    this.initiations.set(endpoint, initiation);
    initiation.reported = initiation.done.then((result) => {
      if (this.initiations.get(endpoint) === initiation) this.initiations.delete(endpoint);
      if (result.outcome === 'cancelled') this.stats.sessionsCancelled += 1;
      this.reportOutcome(sessionId, endpoint, 'bs', startedAt, result);
      return result;
    });
    return initiation.reported;
  }

  /** A newer bootstrap of the endpoint, either side's, ends the one running or waiting to retry. */
  private supersede(endpoint: string, reason: string): void {
    this.initiations.get(endpoint)?.cancel(reason);
    this.sessions.get(endpoint)?.cancel(reason);
  }

  /**
   * Whether the device at `peer` holds a DTLS session under the identity the downlink names.
   * The DTLS server is only asked by sending: its peers are learned from what they send, and
   * one whose session has gone is dropped at the first send that finds none.
   */
  private holdsDtlsSession(peer: CoapPeer): boolean {
    const identity = this.dtlsPeers.peek(peerKey(peer));
    return identity !== undefined && identity === peer.identity;
  }

  /** Wraps the coaps transport: notes each peer's identity, and ends an initiation whose session is gone. */
  private watchDtlsPeers(factory: TransportFactory): TransportFactory {
    return async (binding, handlers) => {
      const transport = await factory(binding, {
        receive: (datagram, peer) => {
          if (peer.identity !== undefined) this.dtlsPeers.set(peerKey(peer), peer.identity);
          handlers.receive(datagram, peer);
        },
        warn: (message) => handlers.warn(message),
      });
      return {
        send: (peer, datagram, onError) =>
          transport.send(peer, datagram, (message) => {
            const key = peerKey(peer);
            this.dtlsPeers.delete(key);
            for (const initiation of this.initiations.values()) {
              if (initiation.peerKey === key) initiation.runner?.abandon({ outcome: 'client-error', detail: NO_DTLS_SESSION_DETAIL });
            }
            onError(message);
          }),
        address: (family) => transport.address(family),
        close: () => transport.close(),
      };
    };
  }

  private handle(request: IncomingRequest, via: CoapEndpoint): Promise<OutgoingResponse> {
    if (this.closing) return Promise.resolve({ code: CoapCode.SERVICE_UNAVAILABLE });
    const answer = this.route(request, via);
    this.inFlightRequests.add(answer);
    void answer.finally(() => this.inFlightRequests.delete(answer)).catch(() => undefined);
    return answer;
  }

  private async route(request: IncomingRequest, via: CoapEndpoint): Promise<OutgoingResponse> {
    const path = uriPathString(request.message.options);
    const method = request.message.code;
    if (path === '/bs') {
      return method === CoapCode.POST ? this.bootstrapRequest(request, 'bs', via) : { code: CoapCode.METHOD_NOT_ALLOWED };
    }
    if (path === '/bspack') {
      return method === CoapCode.GET ? this.bootstrapRequest(request, 'bspack', via) : { code: CoapCode.METHOD_NOT_ALLOWED };
    }
    return { code: CoapCode.NOT_FOUND };
  }

  private async bootstrapRequest(request: IncomingRequest, kind: 'bs' | 'bspack', via: CoapEndpoint): Promise<OutgoingResponse> {
    let query: Map<string, string>;
    try {
      query = queryParameters(request.message.options);
    } catch {
      return badRequest('query parameter given twice');
    }
    const { identity } = request.peer;
    const endpoint = endpointName.safeParse(query.get('ep') ?? (identity === undefined ? undefined : await this.endpointOfIdentity(identity)));
    if (!endpoint.success) return badRequest(query.has('ep') ? 'invalid endpoint name' : 'missing ep');
    const pctText = query.get('pct');
    const pct = pctText === undefined ? undefined : Number(pctText);
    if (pct !== undefined && !(Number.isInteger(pct) && pct >= 0 && pct <= 0xffff)) return badRequest('invalid pct');

    const arrival = ++this.arrivals;
    this.latestRequest.set(endpoint.data, arrival);
    const uplink: BootstrapRequested = {
      v: CONTRACT_VERSION,
      type: 'bootstrap-requested',
      requestId: randomUUID(),
      gatewayId: this.options.gatewayId,
      endpoint: endpoint.data,
      peer: { address: request.peer.address, port: request.peer.port },
      transport: identity === undefined ? 'udp' : 'dtls',
      ...(identity !== undefined && { pskIdentity: identity }),
      kind,
      ...(pct !== undefined && { preferredContentFormat: pct }),
      ...(request.message.options.accept !== undefined && { accept: request.message.options.accept }),
      receivedAt: new Date().toISOString(),
    };
    let answer: Downlink;
    try {
      answer = await this.options.backend.exchange(uplink);
    } catch (error) {
      this.log({ event: 'error', message: `backend: ${error instanceof Error ? error.message : String(error)}` });
      return { code: CoapCode.SERVICE_UNAVAILABLE };
    }
    const newest = this.latestRequest.get(endpoint.data) === arrival;
    if (newest) this.latestRequest.delete(endpoint.data);
    if (answer.type === 'bootstrap-rejected') {
      this.stats.bootstrapsRejected += 1;
      this.log({ event: 'bootstrap-rejected', endpoint: endpoint.data, reason: answer.reason, peer: describe(request.peer) });
      // The reason stays in the log and the device status: telling the sender would let anyone
      // learn which endpoint names exist and how they are provisioned.
      if (answer.reason === 'not-acceptable') return { code: CoapCode.NOT_ACCEPTABLE };
      return badRequest('bootstrap refused');
    }
    if (answer.type !== 'bootstrap-planned') return { code: CoapCode.INTERNAL_SERVER_ERROR };
    if (!newest) {
      // A later Bootstrap-Request from this endpoint arrived while the backend was planning this
      // one; the order of arrival, not of backend answers, decides which session runs.
      this.stats.requestsSuperseded += 1;
      return { code: CoapCode.SERVICE_UNAVAILABLE };
    }
    const startedAt = new Date();
    this.log({ event: 'bootstrap-started', endpoint: endpoint.data, sessionId: answer.sessionId, peer: describe(request.peer), kind });
    this.stats.bootstrapsStarted += 1;

    if (kind === 'bspack') return this.bootstrapPack(answer.sessionId, endpoint.data, startedAt, answer.plan, request.message.options.accept, answer.outcomeRecorded === true);

    this.supersede(endpoint.data, 'superseded by a new Bootstrap-Request');
    const runner = new SessionRunner(via, request.peer, {
      endpoint: endpoint.data,
      sessionId: answer.sessionId,
      startedAt,
      requestTimeoutMs: this.options.requestTimeoutMs ?? 60_000,
    });
    this.sessions.set(endpoint.data, runner);
    void runner.done.then((result) => {
      if (this.sessions.get(endpoint.data) === runner) this.sessions.delete(endpoint.data);
      if (result.outcome === 'cancelled') this.stats.sessionsCancelled += 1;
      this.reportOutcome(runner.sessionId, endpoint.data, 'bs', startedAt, result);
    });
    // The client must see 2.04 before our first request: start on the next turn, after the
    // endpoint has sent the piggybacked answer.
    setImmediate(() => runner.start(answer.plan, pct));
    return { code: CoapCode.CHANGED };
  }

  /**
   * A client over DTLS may leave `ep` out: the PSK identity it authenticated with names the
   * device. The handshake has just looked the identity up, so this is the cache's answer.
   */
  private async endpointOfIdentity(identity: string): Promise<string | undefined> {
    try {
      return (await this.options.coaps?.psk.lookup(identity))?.endpoint;
    } catch {
      return undefined;
    }
  }

  private bootstrapPack(
    sessionId: string,
    endpoint: string,
    startedAt: Date,
    plan: Parameters<typeof encodeBootstrapPack>[0],
    accept: number | undefined,
    alreadyRecorded: boolean,
  ): OutgoingResponse {
    try {
      const pack = encodeBootstrapPack(plan, accept);
      this.stats.bspackServed += 1;
      // The client does not confirm a pack; delivery is the success we can observe.
      if (alreadyRecorded) this.logEnded(sessionId, endpoint, startedAt, { outcome: 'success' });
      else this.reportOutcome(sessionId, endpoint, 'bspack', startedAt, { outcome: 'success', contentFormat: pack.contentFormat, clientVersion: '1.2' });
      return { code: CoapCode.CONTENT, contentFormat: pack.contentFormat, payload: pack.payload };
    } catch (error) {
      if (error instanceof BootstrapPackFormatError) {
        this.reportOutcome(sessionId, endpoint, 'bspack', startedAt, { outcome: 'client-error', detail: `bspack: ${error.message}` });
        return { code: CoapCode.NOT_ACCEPTABLE };
      }
      // A plan the encoder cannot pack is ours to fix, but the attempt is still recorded.
      this.reportOutcome(sessionId, endpoint, 'bspack', startedAt, { outcome: 'client-error', detail: `bspack could not be encoded: ${error instanceof Error ? error.message : String(error)}` });
      return { code: CoapCode.INTERNAL_SERVER_ERROR };
    }
  }

  private reportOutcome(sessionId: string, endpoint: string, kind: 'bs' | 'bspack', startedAt: Date, result: SessionResult): void {
    const endedAt = new Date();
    const pending = withRetries(() => this.options.backend.exchange({
        v: CONTRACT_VERSION,
        type: 'bootstrap-ended',
        sessionId,
        gatewayId: this.options.gatewayId,
        endpoint,
        kind,
        outcome: result.outcome,
        ...(result.clientVersion !== undefined && { clientVersion: result.clientVersion }),
        ...(result.contentFormat !== undefined && { contentFormat: result.contentFormat }),
        ...(result.detail !== undefined && { detail: result.detail.slice(0, 1024) }),
        ...(result.reads !== undefined && { reads: result.reads }),
        ...(result.securityInstances !== undefined && { securityInstances: result.securityInstances }),
        startedAt: startedAt.toISOString(),
        endedAt: endedAt.toISOString(),
      }))
      .then(
        () => undefined,
        (error: unknown) => this.log({ event: 'error', message: `recording outcome of ${endpoint}: ${error instanceof Error ? error.message : String(error)}` }),
      )
      .finally(() => this.pendingOutcomes.delete(pending));
    this.pendingOutcomes.add(pending);
    this.logEnded(sessionId, endpoint, startedAt, result, endedAt);
  }

  private logEnded(sessionId: string, endpoint: string, startedAt: Date, result: Pick<SessionResult, 'outcome' | 'detail'>, endedAt = new Date()): void {
    this.stats.bootstrapsEnded += 1;
    this.log({
      event: 'bootstrap-ended',
      endpoint,
      sessionId,
      outcome: result.outcome,
      ...(result.detail !== undefined && { detail: result.detail }),
      ms: endedAt.getTime() - startedAt.getTime(),
    });
  }

  /** A failing log sink must not take an outcome or a session down with it. */
  private log(event: GatewayLogEvent): void {
    try {
      this.options.log?.(event);
    } catch {
      // Nothing sensible to do: the sink is the place errors would be reported.
    }
  }
}

/**
 * An outcome must not be lost to a passing store or network fault: retry with backoff. Past
 * the last attempt the error is logged with the endpoint (never the plan's keys).
 */
async function withRetries<T>(attempt: () => Promise<T>, delaysMs: readonly number[] = [200, 1000, 5000]): Promise<T> {
  for (let index = 0; ; index += 1) {
    try {
      return await attempt();
    } catch (error) {
      const delay = delaysMs[index];
      if (delay === undefined) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

function describe(peer: CoapPeer): string {
  return peer.family === 'IPv6' ? `[${peer.address}]:${peer.port}` : `${peer.address}:${peer.port}`;
}
