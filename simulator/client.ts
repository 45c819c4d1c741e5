import { isIPv6 } from 'node:net';
import { CoapCode, describeCode, uriPathString } from '../shared/coap/index.ts';
import { decodeContent } from '../shared/content/registry.ts';
import type { ContentTree } from '../shared/content/tree.ts';
import { ROOT_PATH } from '../shared/lwm2m/path.ts';
import { SecurityMode } from '../shared/lwm2m/objects/security.ts';
import { booleanValue, integerValue, opaqueValue, stringValue } from '../shared/lwm2m/value.ts';
import { AccountTimeout, requireBootstrapAccount } from './account-timeout.ts';
import { BootstrapResponder } from './bootstrap-responder.ts';
import { ClientObjectStore, DEVICE, SECURITY, type SecurityAccountSummary } from './client-state.ts';
import { register, updateRegistration, type RegistrationOutcome } from './registration.ts';
import { checkSmartcard, type SmartcardError, type SmartcardOptions } from './smartcard/smartcard-bootstrap.ts';
import { CoapTransport, type DtlsCipherSuiteName, type PeerAddress, type TransmissionParameters } from './transport.ts';
import { defaultPreferredFormat, defaultSupportedFormats, supportedObjects, type ClientVersion } from './versions.ts';

export type { ClientVersion } from './versions.ts';
export type { SmartcardOptions } from './smartcard/smartcard-bootstrap.ts';

/**
 * A simulated LwM2M client that bootstraps (client-initiated: Bootstrap-Request, or for 1.2 the
 * Bootstrap-Pack) and then registers at the LwM2M server its new configuration names.
 */
export interface ClientTimeouts {
  /** CoAP ACK_TIMEOUT, ACK_RANDOM_FACTOR, MAX_RETRANSMIT (2 s, 1.5, 4). */
  readonly ackTimeoutMs?: number;
  readonly ackRandomFactor?: number;
  readonly maxRetransmit?: number;
  /** After an empty ACK, how long to wait for the separate response (30 s). */
  readonly separateResponseTimeoutMs?: number;
  /** A bootstrap session with no request from the server for this long fails (30 s). */
  readonly bootstrapIdleMs?: number;
  /** The DTLS handshake with the Bootstrap-Server must finish within this (5 s). */
  readonly dtlsHandshakeMs?: number;
}

/** A factory-installed PSK for the Bootstrap-Server (Security Mode 0: Pre-Shared Key). */
export interface BootstrapPsk {
  /** PSK Identity (Security resource 3), sent as its UTF-8 bytes. */
  readonly identity: string;
  /** Secret Key (Security resource 5). */
  readonly key: Uint8Array;
  /** The suites offered, in order; node-dtls-client's whole list when absent. */
  readonly ciphers?: readonly DtlsCipherSuiteName[];
}

export interface SimulatedClientOptions {
  readonly endpoint: string;
  readonly version: ClientVersion;
  readonly bootstrapServer: PeerAddress;
  /**
   * Bootstrap over DTLS with this PSK (coaps://): the factory Bootstrap-Server Account then says
   * coaps://, Security Mode 0 and this identity and key. Plain CoAP when absent.
   */
  readonly bootstrapPsk?: BootstrapPsk;
  /**
   * Leave `ep` out of the Bootstrap-Request (and the Bootstrap-Pack request), for a server that
   * knows the client by its DTLS PSK identity instead. Default false.
   */
  readonly omitEndpointName?: boolean;
  /** `pct` for 1.1 and 1.2 (default 110 for 1.1, 112 for 1.2); 1.0 sends none. Also the Accept of a Bootstrap-Pack request. */
  readonly preferredFormat?: number;
  /** Formats a Bootstrap-Write may use; defaults per version (see versions.ts). */
  readonly supportedFormats?: readonly number[];
  /** Ask for a Bootstrap-Pack first (1.2 only; default true for 1.2). */
  readonly useBootstrapPack?: boolean;
  /** The factory-installed Bootstrap-Server Account; default /0/0 with coap://bootstrapServer. */
  readonly initialBootstrapAccount?: { readonly instanceId: number; readonly uri: string };
  /** Register after the bootstrap (default true). */
  readonly register?: boolean;
  readonly timeouts?: ClientTimeouts;
  /** How an unsupported Content-Format is refused (default 4.15; some clients answer 4.06). */
  readonly rejectFormatWith?: '4.06' | '4.15';
  /**
   * A smartcard in the device (Bootstrap from Smartcard, Core §5.2.2.3): run() reads it first and,
   * when it holds Bootstrap Information, applies it and registers without asking the
   * Bootstrap-Server. A card without LwM2M data (or none in the slot) leaves the client to
   * bootstrap as it would without one; a card that fails the secure channel or holds a file that
   * does not parse ends the run with nothing applied.
   */
  readonly smartcard?: SmartcardOptions;
  /**
   * How listen() takes a Server Initiated Bootstrap (Core §5.2.2.3): 'always' accepts the
   * Bootstrap-Server's operations at any time on its listening port; 'while-connected' only
   * within `connectedWindowMs` of its own last message to the Bootstrap-Server (or of the
   * server's last accepted request), and answers 4.01 Unauthorized otherwise. Default 'always'.
   */
  readonly serverInitiated?: 'always' | 'while-connected';
  /** The port listen() binds (default 0, any free port). */
  readonly listenPort?: number;
  /** The 'while-connected' window (default 30 s). */
  readonly connectedWindowMs?: number;
  /** Multiplies Bootstrap-Server Account Timeouts (/0/x/12) so tests can run them fast (default 1). See account-timeout.ts. */
  readonly accountTimeoutScale?: number;
  /** Entropy of the factory Bootstrap-Server key (default 'high'); 'low' purges an unreplaced account without /0/x/12 at once. */
  readonly bootstrapKeyEntropy?: 'high' | 'low';
}

/** A client waiting for its Bootstrap-Server (listen()). */
export interface BootstrapListener {
  /** The local port the server must send to. */
  readonly port: number;
  /** Settles after Bootstrap-Finish and registration, a failure, or stop(). */
  readonly result: Promise<BootstrapRunResult>;
  /** A CoAP ping to the Bootstrap-Server: the client's own message, which opens a 'while-connected' window. */
  ping(): Promise<void>;
  /** Stops waiting; `result` then says so unless the bootstrap already ended. */
  stop(): void;
}

export interface BootstrapRunResult {
  readonly endpoint: string;
  readonly version: ClientVersion;
  readonly ok: boolean;
  readonly method: 'bs' | 'bspack' | 'smartcard' | 'server-initiated';
  readonly error?: string;
  /** Why the smartcard could not be used, when that ended the run or an update. */
  readonly smartcardError?: SmartcardError;
  /** What happened, in order: 'bootstrap-request', 'discover', 'delete /0/1', 'write /0/1 (112)', 'finish', 'register'. */
  readonly steps: string[];
  /** The Content-Format of each Bootstrap-Write (or of the pack) received. */
  readonly formatsReceived: number[];
  /** The Security instances held at the end, without keys. */
  readonly security: SecurityAccountSummary[];
  readonly registeredAt?: RegistrationOutcome;
  readonly bootstrapMs: number;
  readonly registerMs?: number;
}

export interface UpdateRunResult {
  readonly endpoint: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly smartcardError?: SmartcardError;
  /**
   * In order: with a server provisioned from the smartcard, 'smartcard-read' and what the check
   * found ('smartcard-unchanged', 'smartcard-changed', 'smartcard-removed', 'smartcard-unreadable',
   * 'smartcard-accounts-deleted', 'smartcard-applied'); then 'update', or 'register' when the
   * registration's account is gone and another one is held.
   */
  readonly steps: string[];
  readonly security: SecurityAccountSummary[];
  /** Where the client is registered after the update; absent when it no longer is. */
  readonly registeredAt?: RegistrationOutcome;
}

const DEFAULT_BOOTSTRAP_IDLE_MS = 30_000;
const DEFAULT_CONNECTED_WINDOW_MS = 30_000;
/** Answers to a Bootstrap-Pack request that mean "use /bs instead". */
const PACK_FALLBACK_CODES: ReadonlySet<number> = new Set([CoapCode.BAD_REQUEST, CoapCode.NOT_FOUND, CoapCode.NOT_ACCEPTABLE]);

export class SimulatedClient {
  readonly #options: SimulatedClientOptions;
  readonly #store: ClientObjectStore;
  readonly #supportedFormats: ReadonlySet<number>;
  readonly #preferredFormat: number;
  readonly #transmission: Partial<TransmissionParameters>;
  readonly #transports = new Set<CoapTransport>();
  #registration: RegistrationOutcome | undefined;
  readonly #accountTimeout: AccountTimeout;

  constructor(options: SimulatedClientOptions) {
    this.#options = options;
    this.#supportedFormats = new Set(options.supportedFormats ?? defaultSupportedFormats(options.version));
    this.#preferredFormat = options.preferredFormat ?? defaultPreferredFormat(options.version);
    const { ackTimeoutMs, ackRandomFactor, maxRetransmit, separateResponseTimeoutMs } = options.timeouts ?? {};
    this.#transmission = {
      ...(ackTimeoutMs === undefined ? {} : { ackTimeoutMs }),
      ...(ackRandomFactor === undefined ? {} : { ackRandomFactor }),
      ...(maxRetransmit === undefined ? {} : { maxRetransmit }),
      ...(separateResponseTimeoutMs === undefined ? {} : { separateResponseTimeoutMs }),
    };
    this.#store = new ClientObjectStore(factoryState(options), supportedObjects(options.version));
    this.#accountTimeout = new AccountTimeout(this.#store, {
      ...(options.accountTimeoutScale === undefined ? {} : { scale: options.accountTimeoutScale }),
      ...(options.bootstrapKeyEntropy === undefined ? {} : { bootstrapKeyEntropy: options.bootstrapKeyEntropy }),
    });
  }

  /** What the client holds now. */
  state(): ContentTree {
    return this.#store.tree();
  }

  async run(): Promise<BootstrapRunResult> {
    const { endpoint, version } = this.#options;
    const started = performance.now();
    let method: BootstrapRunResult['method'] = 'bs';
    let smartcardError: SmartcardError | undefined;
    let bootstrapMs: number | undefined;
    let registerMs: number | undefined;
    let registeredAt: BootstrapRunResult['registeredAt'];
    const responder = this.#responder();
    const result = (error?: string): BootstrapRunResult => ({
      endpoint,
      version,
      ok: error === undefined,
      method,
      ...(error === undefined ? {} : { error }),
      ...(smartcardError === undefined ? {} : { smartcardError }),
      steps: responder.steps,
      formatsReceived: responder.formatsReceived,
      security: this.#store.securitySummary(),
      ...(registeredAt === undefined ? {} : { registeredAt }),
      bootstrapMs: bootstrapMs ?? performance.now() - started,
      ...(registerMs === undefined ? {} : { registerMs }),
    });
    let transport: CoapTransport | undefined;
    const registerNow = async (): Promise<void> => {
      if (!(this.#options.register ?? true)) return;
      const registerStarted = performance.now();
      responder.steps.push('register');
      registeredAt = await register(this.#store, endpoint, version, this.#transmission);
      this.#registration = registeredAt;
      registerMs = performance.now() - registerStarted;
    };
    try {
      const smartcard = this.#options.smartcard;
      if (smartcard !== undefined) {
        const check = await checkSmartcard(this.#store, smartcard);
        responder.steps.push(...check.steps);
        if (check.error !== undefined) {
          smartcardError = check.error;
          return result(`smartcard: ${check.error.message}`);
        }
        if (check.outcome === 'applied' || check.outcome === 'unchanged') {
          method = 'smartcard';
          bootstrapMs = performance.now() - started;
          this.#accountTimeout.afterBootstrap(responder.steps);
          await registerNow();
          return result();
        }
      }
      requireBootstrapAccount(this.#store);
      transport = await this.#openBootstrap(responder);
      transport.onRequest((request) => responder.handle(request));
      if (this.#options.useBootstrapPack ?? version === '1.2') {
        if (await this.#bootstrapPack(transport, responder)) method = 'bspack';
      }
      if (method === 'bs') await this.#bootstrapRequest(transport, responder);
      bootstrapMs = performance.now() - started;
      this.#accountTimeout.afterBootstrap(responder.steps);
      await registerNow();
      return result();
    } catch (error) {
      return result(error instanceof Error ? error.message : String(error));
    } finally {
      if (transport !== undefined) await this.#close(transport);
    }
  }

  /**
   * Registration Update (Core 1.1 §5.3.2) to the server run() registered with. With a server
   * provisioned from the smartcard the card is checked first (§5.2.2.3: at every Register and
   * Update); when it changed, was removed or cannot be read, the old card's accounts are deleted,
   * the new card's data applied if there is any, and the client registers anew with the Server
   * Account it then holds, if any.
   */
  async update(): Promise<UpdateRunResult> {
    const { endpoint, version } = this.#options;
    const steps: string[] = [];
    let smartcardError: SmartcardError | undefined;
    const result = (error?: string): UpdateRunResult => ({
      endpoint,
      ok: error === undefined,
      ...(error === undefined ? {} : { error }),
      ...(smartcardError === undefined ? {} : { smartcardError }),
      steps,
      security: this.#store.securitySummary(),
      ...(this.#registration === undefined ? {} : { registeredAt: this.#registration }),
    });
    const registration = this.#registration;
    if (registration === undefined) return result('not registered: run() has not registered with a server');
    try {
      const smartcard = this.#options.smartcard;
      if (smartcard !== undefined && this.#fromSmartcard(registration)) {
        const check = await checkSmartcard(this.#store, smartcard);
        steps.push(...check.steps);
        smartcardError = check.error;
        if (check.outcome !== 'unchanged') {
          this.#registration = undefined;
          if (this.#store.serverAccounts().length === 0) {
            return result(`the smartcard's Bootstrap Information is gone (${check.outcome}) and no Server Account is left to register with`);
          }
          steps.push('register');
          this.#registration = await register(this.#store, endpoint, version, this.#transmission);
          return result();
        }
      }
      steps.push('update');
      await updateRegistration(this.#store, registration, this.#transmission);
      return result();
    } catch (error) {
      return result(error instanceof Error ? error.message : String(error));
    }
  }

  /**
   * Server Initiated Bootstrap: opens the bootstrap socket (plain UDP on `listenPort`, or the
   * DTLS session with the Bootstrap-Server the factory account names) and serves the server's
   * Bootstrap-Discover/-Read/-Write/-Delete/-Finish without sending a Bootstrap-Request; after
   * Finish it registers as run() does. Only the Bootstrap-Server (the address of its account)
   * is served; anything else, and anything outside a 'while-connected' window, gets 4.01.
   */
  async listen(options: { timeoutMs?: number } = {}): Promise<BootstrapListener> {
    const { endpoint, version } = this.#options;
    const server = this.#options.bootstrapServer;
    const mode = this.#options.serverInitiated ?? 'always';
    const windowMs = this.#options.connectedWindowMs ?? DEFAULT_CONNECTED_WINDOW_MS;
    const idleMs = this.#options.timeouts?.bootstrapIdleMs ?? DEFAULT_BOOTSTRAP_IDLE_MS;
    const responder = this.#responder();
    responder.steps.push('listen');
    if (this.#options.bootstrapPsk === undefined) this.#store.beginBootstrapSession();
    const transport = this.#options.bootstrapPsk === undefined
      ? await CoapTransport.open({ host: isIPv6(server.host) ? '::' : '0.0.0.0', port: this.#options.listenPort ?? 0, transmission: this.#transmission })
      : await this.#openBootstrap(responder);
    this.#transports.add(transport);
    const started = performance.now();
    // A DTLS handshake is the client's own doing: the connection is open from there.
    let lastContact = this.#options.bootstrapPsk === undefined ? Number.NEGATIVE_INFINITY : performance.now();
    let stop: (reason: string) => void = () => undefined;
    const stopped = new Promise<never>((_resolve, reject) => {
      stop = (reason) => reject(new Error(reason));
    });
    stopped.catch(() => undefined);
    let idle: NodeJS.Timeout | undefined;
    let wait: NodeJS.Timeout | undefined;
    if (options.timeoutMs !== undefined) {
      const limit = options.timeoutMs;
      wait = setTimeout(() => stop(`the Bootstrap-Server sent nothing within ${limit} ms`), limit);
    }

    transport.onRequest((request) => {
      const fromServer = request.peer.port === server.port && request.peer.host === server.host;
      const open = mode === 'always' || performance.now() - lastContact <= windowMs;
      if (!fromServer || !open) {
        const why = fromServer ? 'outside the bootstrap connection' : `not the Bootstrap-Server (${request.peer.host}:${request.peer.port})`;
        responder.steps.push(`${describeCode(request.message.code)} ${uriPathString(request.message.options)} refused 4.01 (${why})`);
        return { code: CoapCode.UNAUTHORIZED };
      }
      lastContact = performance.now();
      clearTimeout(wait);
      clearTimeout(idle);
      idle = setTimeout(() => stop(`bootstrap server sent nothing for ${idleMs} ms after ${responder.steps.at(-1) ?? 'start'}`), idleMs);
      return responder.handle(request);
    });

    let bootstrapMs: number | undefined;
    let registerMs: number | undefined;
    let registeredAt: RegistrationOutcome | undefined;
    const result = (error?: string): BootstrapRunResult => ({
      endpoint,
      version,
      ok: error === undefined,
      method: 'server-initiated',
      ...(error === undefined ? {} : { error }),
      steps: responder.steps,
      formatsReceived: responder.formatsReceived,
      security: this.#store.securitySummary(),
      ...(registeredAt === undefined ? {} : { registeredAt }),
      bootstrapMs: bootstrapMs ?? performance.now() - started,
      ...(registerMs === undefined ? {} : { registerMs }),
    });
    const run = async (): Promise<BootstrapRunResult> => {
      try {
        await Promise.race([responder.finished, stopped]);
        bootstrapMs = performance.now() - started;
        this.#accountTimeout.afterBootstrap(responder.steps);
      } catch (error) {
        return result(error instanceof Error ? error.message : String(error));
      } finally {
        clearTimeout(wait);
        clearTimeout(idle);
        // Let the 2.04 to Bootstrap-Finish go out before the socket closes.
        await this.#close(transport);
      }
      try {
        if (this.#options.register ?? true) {
          const registerStarted = performance.now();
          responder.steps.push('register');
          registeredAt = await register(this.#store, endpoint, version, this.#transmission);
          this.#registration = registeredAt;
          registerMs = performance.now() - registerStarted;
        }
        return result();
      } catch (error) {
        return result(error instanceof Error ? error.message : String(error));
      }
    };
    return {
      port: transport.port,
      result: run(),
      ping: async () => {
        lastContact = performance.now();
        await transport.ping(server);
      },
      stop: () => stop('stopped listening'),
    };
  }

  /** Whether the account registered with is (still) the smartcard's. */
  #fromSmartcard(registration: RegistrationOutcome): boolean {
    const account = this.#store.serverAccounts().find((candidate) => candidate.shortServerId === registration.shortServerId);
    return account !== undefined && this.#store.isFromSmartcard(SECURITY, account.securityInstanceId);
  }

  async close(): Promise<void> {
    this.#accountTimeout.stop();
    await Promise.all([...this.#transports].map((transport) => this.#close(transport)));
  }

  /** GET /bspack?ep= (Core 1.2): true when the pack was applied, false when the server says use /bs. */
  async #bootstrapPack(transport: CoapTransport, responder: BootstrapResponder): Promise<boolean> {
    const accept = this.#preferredFormat;
    const response = await transport.request(this.#options.bootstrapServer, {
      code: CoapCode.GET,
      options: { uriPath: ['bspack'], uriQuery: this.#endpointQuery(), accept },
    });
    if (PACK_FALLBACK_CODES.has(response.code)) {
      responder.steps.push(`bspack ${describeCode(response.code)}: falling back to /bs`);
      return false;
    }
    if (response.code !== CoapCode.CONTENT) throw new Error(`Bootstrap-Pack request answered ${describeCode(response.code)}`);
    const format = response.options.contentFormat ?? accept;
    if (!this.#supportedFormats.has(format)) throw new Error(`Bootstrap-Pack came in unsupported content format ${format}`);
    const tree = decodeContent(format, response.payload, ROOT_PATH);
    this.#store.applyBootstrapPack(tree);
    responder.steps.push(`bspack (${format})`);
    responder.formatsReceived.push(format);
    const problem = this.#store.finishDiagnostic();
    if (problem !== undefined) throw new Error(`Bootstrap-Pack is not usable: ${problem}`);
    return true;
  }

  /** POST /bs?ep=[&pct=], then serve the server's requests until Bootstrap-Finish or the idle timeout. */
  async #bootstrapRequest(transport: CoapTransport, responder: BootstrapResponder): Promise<void> {
    const { version } = this.#options;
    const idleMs = this.#options.timeouts?.bootstrapIdleMs ?? DEFAULT_BOOTSTRAP_IDLE_MS;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<never>((_resolve, reject) => {
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          const refused = responder.lastFinishDiagnostic === undefined ? '' : `; Bootstrap-Finish was refused: ${responder.lastFinishDiagnostic}`;
          reject(new Error(`bootstrap server sent nothing for ${idleMs} ms after ${responder.steps.at(-1) ?? 'start'}${refused}`));
        }, idleMs);
      };
      arm();
      responder.onActivity(arm);
    });
    // A rejection of `idle` after the run ended must not surface as unhandled.
    idle.catch(() => undefined);
    try {
      responder.steps.push('bootstrap-request');
      const query = [...this.#endpointQuery(), ...(version === '1.0' ? [] : [`pct=${this.#preferredFormat}`])];
      const response = await Promise.race([
        transport.request(this.#options.bootstrapServer, { code: CoapCode.POST, options: { uriPath: ['bs'], uriQuery: query } }),
        idle,
      ]);
      if (response.code !== CoapCode.CHANGED) throw new Error(`Bootstrap-Request answered ${describeCode(response.code)}`);
      await Promise.race([responder.finished, idle]);
    } finally {
      clearTimeout(timer);
      responder.onActivity(() => undefined);
    }
  }

  #responder(): BootstrapResponder {
    return new BootstrapResponder(this.#store, {
      version: this.#options.version,
      supportedFormats: this.#supportedFormats,
      preferredFormat: this.#preferredFormat,
      rejectFormatWith: this.#options.rejectFormatWith ?? '4.15',
    });
  }

  #endpointQuery(): string[] {
    return this.#options.omitEndpointName === true ? [] : [`ep=${this.#options.endpoint}`];
  }

  /** Plain UDP, or a DTLS session (its handshake a step of its own) when a PSK is configured. */
  async #openBootstrap(responder: BootstrapResponder): Promise<CoapTransport> {
    const server = this.#options.bootstrapServer;
    const psk = this.#sessionPsk();
    let transport: CoapTransport;
    if (psk === undefined) {
      transport = await CoapTransport.forPeer(server, this.#transmission);
    } else {
      responder.steps.push('dtls-handshake');
      const handshakeTimeoutMs = this.#options.timeouts?.dtlsHandshakeMs;
      transport = await CoapTransport.overDtls({
        server,
        identity: psk.identity,
        key: psk.key,
        ...(psk.ciphers === undefined ? {} : { ciphers: psk.ciphers }),
        ...(handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs }),
        transmission: this.#transmission,
      });
    }
    this.#transports.add(transport);
    return transport;
  }

  /**
   * The PSK of the Bootstrap-Server Account this session runs over: the newest one the client
   * holds (a replacement written by the last bootstrap), else the factory one; none for NoSec.
   * The server address stays the configured one: a replacement names the same Bootstrap-Server.
   */
  #sessionPsk(): BootstrapPsk | undefined {
    const factory = this.#options.bootstrapPsk;
    const accountId = this.#store.beginBootstrapSession();
    // A client set up for NoSec (its address a coap:// port) keeps to it.
    if (factory === undefined || accountId === undefined) return factory;
    const psk = this.#store.pskOf(accountId);
    if (psk === undefined) return factory;
    return { identity: new TextDecoder().decode(psk.identity), key: psk.key, ...(factory?.ciphers === undefined ? {} : { ciphers: factory.ciphers }) };
  }

  async #close(transport: CoapTransport): Promise<void> {
    this.#transports.delete(transport);
    await transport.close();
  }
}

/** What the device ships with: the Bootstrap-Server Account (NoSec, or PSK over coaps) and the Device object. */
function factoryState(options: SimulatedClientOptions): ContentTree {
  const { host, port } = options.bootstrapServer;
  const psk = options.bootstrapPsk;
  const scheme = psk === undefined ? 'coap' : 'coaps';
  const account = options.initialBootstrapAccount ?? { instanceId: 0, uri: `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}` };
  const empty = new Uint8Array(0);
  return [
    {
      id: SECURITY,
      instances: [
        {
          id: account.instanceId,
          resources: [
            { kind: 'single', id: 0, value: stringValue(account.uri) },
            { kind: 'single', id: 1, value: booleanValue(true) },
            { kind: 'single', id: 2, value: integerValue(psk === undefined ? SecurityMode.NO_SEC : SecurityMode.PSK) },
            { kind: 'single', id: 3, value: opaqueValue(psk === undefined ? empty : new TextEncoder().encode(psk.identity)) },
            { kind: 'single', id: 4, value: opaqueValue(empty) },
            { kind: 'single', id: 5, value: opaqueValue(psk === undefined ? empty : psk.key) },
          ],
        },
      ],
    },
    {
      id: DEVICE,
      instances: [
        {
          id: 0,
          resources: [
            { kind: 'single', id: 0, value: stringValue('lwm2m-bs simulator') },
            { kind: 'single', id: 1, value: stringValue(`sim-${options.version}`) },
            { kind: 'single', id: 2, value: stringValue(options.endpoint) },
            { kind: 'single', id: 3, value: stringValue('1.0.0') },
            { kind: 'single', id: 16, value: stringValue('U') },
          ],
        },
      ],
    },
  ];
}
