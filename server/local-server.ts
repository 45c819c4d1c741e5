import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { BootstrapStore } from '../shared/bootstrap/store.ts';
import { BootstrapGateway, type GatewayLogEvent } from './gateway/bootstrap-gateway.ts';
import { inProcessBackend } from './gateway/backend-channel.ts';
import { startChangeProxy, type RunningChangeProxy } from './store/change-proxy.ts';
import { startDynalite, localDynamoDbClient } from './store/dynalite.ts';
import { DynamoDbBootstrapStore } from './store/dynamodb-store.ts';
import { MirroredStore } from './store/mirrored-store.ts';
import { ensureTable } from './store/table.ts';
import { removeServerInfo, writeServerInfo } from './store/local-store.ts';
import { localKeyFingerprinter } from './store/pepper-file.ts';
import { applySeedConfig, type SeedConfig } from './seed-config.ts';
import { PskCache, storePskSource } from './gateway/psk-cache.ts';
import { logLifecycleEvents } from './lifecycle/lifecycle-event-sink.ts';
import type { BootstrapBackendDeps } from '../shared/bootstrap/backend.ts';
import type { AttachEvent } from '../shared/lifecycle/attach-event.ts';
import type { AttachResult } from '../shared/lifecycle/attach-processing.ts';
import type { LocalPurgeScheduler } from './scheduler/local-purge-scheduler.ts';
import { startAttachIntake, type AttachIntake } from './lifecycle/attach-intake.ts';
import { localAttach, startLocalPurges } from './lifecycle/local-lifecycle.ts';

const GATEWAY_ID = 'local';

export interface LocalServerOptions {
  /** Profiles, devices and outcomes persist here; absent = in memory (tests). */
  readonly dataDir?: string;
  readonly port?: number;
  /** CoAP over DTLS (PSK); false or absent serves plain CoAP only. */
  readonly coapsPort?: number | false;
  /** DTLS cipher suites in preference order (default TLS_PSK_WITH_AES_128_CCM_8, then TLS_PSK_WITH_AES_128_CBC_SHA256). */
  readonly coapsCipherSuites?: readonly number[];
  readonly host4?: string | false;
  readonly host6?: string | false;
  readonly tableName?: string;
  /** Profiles and devices written at start (the quick start's example). */
  readonly seed?: SeedConfig;
  readonly requestTimeoutMs?: number;
  readonly rateLimit?: { perSecond: number; burst: number };
  readonly log?: (event: GatewayLogEvent) => void;
  /** Lifecycle events (`lifecycle AccountPurged {...}`) and purge runs, one line each; never keys. */
  readonly lifecycleLog?: (line: string) => void;
  /**
   * `POST /attach` for carrier attach events on `attachHost` (default 127.0.0.1); 0 picks a free
   * port. Absent or false: no HTTP intake (attach() still works in process).
   */
  readonly attachPort?: number | false;
  readonly attachHost?: string;
  /** Waits before a silent device is tried again by a server-initiated bootstrap (the gateway's default: 5 s, 30 s, 2 min). */
  readonly initiateRetryDelaysMs?: readonly number[];
  /**
   * Run dynalite on a worker thread (the default), so the gateway's thread pays only the client
   * side of each table request; false keeps it on this thread.
   */
  readonly dynaliteThread?: boolean;
}

export interface LocalServer {
  readonly gateway: BootstrapGateway;
  /** The in-memory mirror over the table; writes through it are seen by the next bootstrap. */
  readonly store: BootstrapStore;
  /** Where other processes (CLI commands) reach the table: the change proxy in front of dynalite. */
  readonly dynamodbEndpoint: string;
  /** Pending account-timeout purges; they persist in the table and fire from this process. */
  readonly purges: LocalPurgeScheduler;
  /** `http://127.0.0.1:<port>/attach`, when the intake runs. */
  readonly attachUrl?: string;
  /** Takes one carrier attach event, pushing the bootstrap through the gateway when one is due. */
  attach(event: AttachEvent): Promise<AttachResult>;
  /** Resolves once every outcome recorded so far is in the table. */
  flushOutcomes(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The embedded default: dynalite as the store of record on its own thread, mirrored in memory
 * so a bootstrap reads no table and writes its outcome behind; the backend called in-process;
 * the CoAP gateway on UDP. Everything the AWS deployment runs, minus AWS (which reads DynamoDB directly).
 */
export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const dynalite = await startDynalite({
    ...(options.dataDir !== undefined && { dataDir: options.dataDir }),
    thread: options.dynaliteThread ?? true,
  });
  const client = localDynamoDbClient(dynalite.endpoint);
  const tableName = options.tableName ?? 'lwm2m-bootstrap';
  const warn = (message: string): void => options.log?.({ event: 'error', message });
  let gateway: BootstrapGateway | undefined;
  let mirror: MirroredStore | undefined;
  let proxy: RunningChangeProxy | undefined;
  let purges: LocalPurgeScheduler | undefined;
  let intake: AttachIntake | undefined;
  try {
    await ensureTable(client, tableName);
    const table = new DynamoDbBootstrapStore({ client, tableName, onWarning: warn });
    // The seed's keys fingerprinted as every other writer's: under the data directory's pepper, or one that dies with an in-memory store.
    if (options.seed) await applySeedConfig(table, options.seed, await localKeyFingerprinter(options.dataDir));
    const store = await MirroredStore.open({ store: table, log: warn });
    mirror = store;
    const psk = new PskCache(storePskSource(store));
    proxy = await startChangeProxy({
      target: dynalite.endpoint,
      tableName,
      onChange: async (keys) => {
        await store.refresh(keys);
        // A device written from another process may have a new key or lost its old one.
        psk.clear();
      },
      log: warn,
    });
    const now = (): Date => new Date();
    purges = await startLocalPurges({ client, tableName, store, psk, log: options.lifecycleLog ?? (() => undefined), warn, now });
    // Locally the ServerCredentialsIssued events go to the log without a key (no sealer): the
    // LwM2M server side reads minted keys from the store.
    const events = logLifecycleEvents(options.lifecycleLog ?? (() => undefined));
    const deps: BootstrapBackendDeps = { store, newSessionId: randomUUID, now, purges, events };
    gateway = await BootstrapGateway.start({
      gatewayId: GATEWAY_ID,
      backend: inProcessBackend(deps),
      coap: {
        port: options.port ?? 5683,
        ...(options.host4 !== undefined && { host4: options.host4 }),
        ...(options.host6 !== undefined && { host6: options.host6 }),
        ...(options.rateLimit !== undefined && { rateLimit: options.rateLimit }),
        onWarning: warn,
      },
      ...(options.coapsPort !== undefined && options.coapsPort !== false && {
        coaps: {
          port: options.coapsPort,
          psk,
          ...(options.coapsCipherSuites !== undefined && { cipherSuites: options.coapsCipherSuites }),
          ...(options.host4 !== undefined && { host4: options.host4 }),
          ...(options.host6 !== undefined && { host6: options.host6 }),
          ...(options.rateLimit !== undefined && { rateLimit: options.rateLimit }),
          onWarning: warn,
        },
      }),
      ...(options.requestTimeoutMs !== undefined && { requestTimeoutMs: options.requestTimeoutMs }),
      ...(options.initiateRetryDelaysMs !== undefined && { initiateRetryDelaysMs: options.initiateRetryDelaysMs }),
      ...(options.log !== undefined && { log: options.log }),
    });
    const attach = localAttach(deps, gateway, GATEWAY_ID);
    if (options.attachPort !== undefined && options.attachPort !== false) {
      intake = await startAttachIntake({ port: options.attachPort, ...(options.attachHost !== undefined && { host: options.attachHost }), process: attach });
    }
    if (options.dataDir) {
      await writeServerInfo(options.dataDir, { pid: process.pid, dynamodbEndpoint: proxy.endpoint, ...(intake !== undefined && { attachUrl: intake.url }) });
    }
    const started = gateway;
    const changes = proxy;
    const scheduler = purges;
    const attachIntake = intake;
    return {
      gateway: started,
      store,
      dynamodbEndpoint: changes.endpoint,
      purges: scheduler,
      ...(attachIntake !== undefined && { attachUrl: attachIntake.url }),
      attach,
      flushOutcomes: () => store.flushed(),
      async close() {
        // No new attaches, then no new sessions; a purge due meanwhile runs at the next start.
        await attachIntake?.close();
        await started.close();
        await scheduler.close();
        if (options.dataDir) await removeServerInfo(options.dataDir);
        await changes.close();
        // Session outcomes reported while the gateway closed are in the queue by now.
        await store.close();
        client.destroy();
        await dynalite.close();
      },
    };
  } catch (error) {
    await intake?.close();
    await gateway?.close();
    await purges?.close();
    await proxy?.close();
    await mirror?.close();
    client.destroy();
    await dynalite.close();
    throw error;
  }
}
