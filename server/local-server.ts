import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { BootstrapStore } from '../shared/bootstrap/store.ts';
import { BootstrapGateway, type GatewayLogEvent } from './gateway/bootstrap-gateway.ts';
import { inProcessBackend } from './gateway/backend-channel.ts';
import { startDynalite, localDynamoDbClient } from './store/dynalite.ts';
import { DynamoDbBootstrapStore } from './store/dynamodb-store.ts';
import { ensureTable } from './store/table.ts';
import { removeServerInfo, writeServerInfo } from './store/local-store.ts';
import { applySeedConfig, type SeedConfig } from './seed-config.ts';

export interface LocalServerOptions {
  /** Profiles, devices and outcomes persist here; absent = in memory (tests). */
  readonly dataDir?: string;
  readonly port?: number;
  readonly host4?: string | false;
  readonly host6?: string | false;
  readonly tableName?: string;
  /** Profiles and devices written at start (the quick start's example). */
  readonly seed?: SeedConfig;
  readonly requestTimeoutMs?: number;
  readonly rateLimit?: { perSecond: number; burst: number };
  readonly log?: (event: GatewayLogEvent) => void;
}

export interface LocalServer {
  readonly gateway: BootstrapGateway;
  readonly store: BootstrapStore;
  readonly dynamodbEndpoint: string;
  close(): Promise<void>;
}

/**
 * The embedded default: dynalite as the store, the backend called in-process, and the CoAP
 * gateway on UDP. Everything the AWS deployment runs, minus AWS.
 */
export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const dynalite = await startDynalite({ ...(options.dataDir !== undefined && { dataDir: options.dataDir }) });
  const client = localDynamoDbClient(dynalite.endpoint);
  const tableName = options.tableName ?? 'lwm2m-bootstrap';
  let gateway: BootstrapGateway | undefined;
  try {
    await ensureTable(client, tableName);
    const store = new DynamoDbBootstrapStore({ client, tableName });
    if (options.seed) await applySeedConfig(store, options.seed);
    gateway = await BootstrapGateway.start({
      gatewayId: 'local',
      backend: inProcessBackend({ store, newSessionId: randomUUID, now: () => new Date() }),
      coap: {
        port: options.port ?? 5683,
        ...(options.host4 !== undefined && { host4: options.host4 }),
        ...(options.host6 !== undefined && { host6: options.host6 }),
        ...(options.rateLimit !== undefined && { rateLimit: options.rateLimit }),
        onWarning: (message) => options.log?.({ event: 'error', message }),
      },
      ...(options.requestTimeoutMs !== undefined && { requestTimeoutMs: options.requestTimeoutMs }),
      ...(options.log !== undefined && { log: options.log }),
    });
    if (options.dataDir) await writeServerInfo(options.dataDir, { pid: process.pid, dynamodbEndpoint: dynalite.endpoint });
    const started = gateway;
    return {
      gateway: started,
      store,
      dynamodbEndpoint: dynalite.endpoint,
      async close() {
        await started.close();
        if (options.dataDir) await removeServerInfo(options.dataDir);
        client.destroy();
        await dynalite.close();
      },
    };
  } catch (error) {
    await gateway?.close();
    client.destroy();
    await dynalite.close();
    throw error;
  }
}
