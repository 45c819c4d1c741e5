import { parseLifecycleEvent, type LifecycleEvent, type LifecycleEventSink } from '../../shared/lifecycle/lifecycle-events.ts';

/**
 * The local server's lifecycle events: one log line each, `lifecycle <type> <detail as JSON>`
 * (JSON keeps an endpoint's odd characters, and any line break, on the one line). Events hold
 * identifiers only; the one member that could interest an attacker, an encrypted key, is
 * written as whether it is there (`keyEncrypted`).
 */
export function logLifecycleEvents(log: (line: string) => void): LifecycleEventSink {
  return {
    emit(event: LifecycleEvent): Promise<void> {
      try {
        log(describeLifecycleEvent(parseLifecycleEvent(event)));
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    },
  };
}

export function describeLifecycleEvent(event: LifecycleEvent): string {
  if (event.type === 'ServerCredentialsIssued') {
    const { type, secretKeyCiphertext, ...detail } = event;
    return `lifecycle ${type} ${JSON.stringify({ ...detail, keyEncrypted: secretKeyCiphertext !== undefined })}`;
  }
  const { type, ...detail } = event;
  return `lifecycle ${type} ${JSON.stringify(detail)}`;
}
