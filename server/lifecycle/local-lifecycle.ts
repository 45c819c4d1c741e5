import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { BootstrapBackendDeps } from '../../shared/bootstrap/backend.ts';
import { planServerInitiated } from '../../shared/bootstrap/server-initiated.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';
import { makePurgeHandler } from '../../shared/lifecycle/account-purge.ts';
import type { AttachEvent } from '../../shared/lifecycle/attach-event.ts';
import { processAttach, type AttachResult, type InitiateBootstrap } from '../../shared/lifecycle/attach-processing.ts';
import type { BootstrapGateway } from '../gateway/bootstrap-gateway.ts';
import type { PskCache } from '../gateway/psk-cache.ts';
import { LocalPurgeScheduler } from '../scheduler/local-purge-scheduler.ts';
import { DynamoDbScheduleStore } from '../scheduler/schedule-store.ts';
import { logLifecycleEvents } from './lifecycle-event-sink.ts';

/**
 * The credential lifecycle of the local server (issue 5): account-timeout purges from a
 * scheduler whose schedules live in the table, and carrier attaches pushed through the
 * in-process gateway. On AWS the same pieces are the purge and attach Lambdas.
 */

export interface LocalPurgesOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** What a purge writes (the device entry) goes through here, so the gateway's lookups see it. */
  readonly store: BootstrapStore;
  /** Forgets a purged identity at once instead of at the cache's TTL. */
  readonly psk: Pick<PskCache, 'invalidate'>;
  /** One line per lifecycle event (`lifecycle AccountPurged {...}`) and per purge run. */
  readonly log: (line: string) => void;
  readonly warn?: (message: string) => void;
  readonly now?: () => Date;
}

/** Loads the pending purges from the table (overdue ones run at once) and arms the timer. */
export function startLocalPurges(options: LocalPurgesOptions): Promise<LocalPurgeScheduler> {
  const now = options.now ?? (() => new Date());
  return LocalPurgeScheduler.start({
    store: new DynamoDbScheduleStore({ client: options.client, tableName: options.tableName, ...(options.warn !== undefined && { onWarning: options.warn }) }),
    handler: makePurgeHandler(options.store, logLifecycleEvents(options.log), (identity) => options.psk.invalidate(identity), now),
    now: () => now().getTime(),
    log: options.log,
  });
}

/**
 * Plans the device's bootstrap as a Bootstrap-Request would and hands it to the gateway. It
 * resolves once the gateway took the downlink, not when the session ends: a device that does
 * not answer is retried for minutes, and the outcome is recorded by the backend either way.
 * A refused plan rejects, so processAttach reports the device as marked with the reason.
 */
export function gatewayInitiator(deps: BootstrapBackendDeps, gateway: Pick<BootstrapGateway, 'initiate'>, gatewayId: string): InitiateBootstrap {
  return async (endpoint, peer, reasons) => {
    const planned = await planServerInitiated(deps, endpoint, peer, reasons[0] ?? 'operator', { gatewayId });
    if (!planned.ok) throw new Error(`${planned.reason}: ${planned.detail}`);
    let refused: { error: unknown } | undefined;
    gateway.initiate(planned.downlink).catch((error: unknown) => {
      refused = { error };
    });
    // The gateway refuses a downlink (closing, invalid) before it starts anything: one turn of
    // the event loop is enough to see it.
    await new Promise((resolve) => setImmediate(resolve));
    if (refused !== undefined) throw refused.error instanceof Error ? refused.error : new Error('the gateway refused the bootstrap');
  };
}

/** Takes one parsed attach event with the gateway as the initiator. */
export function localAttach(deps: BootstrapBackendDeps, gateway: Pick<BootstrapGateway, 'initiate'>, gatewayId: string): (event: AttachEvent) => Promise<AttachResult> {
  const initiate = gatewayInitiator(deps, gateway, gatewayId);
  return (event) => processAttach({ store: deps.store, now: deps.now, initiate }, event);
}
