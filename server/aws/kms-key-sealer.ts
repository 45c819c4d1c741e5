import type { EncryptCommand, EncryptCommandInput, EncryptCommandOutput, KMSClient } from '@aws-sdk/client-kms';
import type { KeySealContext, KeySealer } from '../../shared/lifecycle/server-credentials.ts';

/**
 * The environment variable naming the symmetric KMS key minted LwM2M Server keys are sealed with
 * (Data.serverCredentialsKey); plain data, so the stack sets it without loading the handler.
 */
export const SERVER_CREDENTIALS_KEY_ENV = 'SERVER_CREDENTIALS_KEY_ARN';

/**
 * The part of KMS Encrypt the sealer uses, spelled as @aws-sdk/client-kms spells
 * EncryptCommandInput and EncryptCommandOutput (kmsEncrypt below is the SDK's). A port rather
 * than the client itself: the sealer's tests pin requests without mocking the SDK, and the
 * uplink function loads the client only when a profile mints (see kmsEncrypt).
 */
export interface KmsEncryptInput {
  readonly KeyId: string;
  readonly Plaintext: Uint8Array;
  readonly EncryptionContext: Record<string, string>;
}

export interface KmsEncryptOutput {
  readonly CiphertextBlob?: Uint8Array | undefined;
}

export type KmsEncrypt = (input: KmsEncryptInput) => Promise<KmsEncryptOutput>;

// The port stays the SDK's shape: these fail to compile if either side drifts.
const toSdk = (input: KmsEncryptInput): EncryptCommandInput => input;
const fromSdk = (output: EncryptCommandOutput): KmsEncryptOutput => output;

export interface KmsEncryptOptions {
  /** Wraps the client once made (the function's tracer); the identity by default. */
  readonly wrap?: (client: KMSClient) => KMSClient;
}

/**
 * KMS Encrypt through the SDK's KMSClient, which is loaded and made on the first call and kept:
 * an uplink function whose profiles never mint neither evaluates @aws-sdk/client-kms (bundled,
 * but behind a dynamic import) nor resolves a KMS client's configuration at cold start.
 */
export function kmsEncrypt(options: KmsEncryptOptions = {}): KmsEncrypt {
  let ready: Promise<{ client: KMSClient; command: typeof EncryptCommand }> | undefined;
  const load = async () => {
    const sdk = await import('@aws-sdk/client-kms');
    const client = new sdk.KMSClient({});
    return { client: options.wrap?.(client) ?? client, command: sdk.EncryptCommand };
  };
  return async (input) => {
    ready ??= load().catch((error: unknown) => {
      // Not kept: the next seal tries again.
      ready = undefined;
      throw error;
    });
    const { client, command } = await ready;
    return fromSdk(await client.send(new command(toSdk(input))));
  };
}

export interface KmsKeySealerOptions {
  readonly encrypt: KmsEncrypt;
  /** Key id, ARN or alias of the symmetric KMS key the LwM2M server side may decrypt with. */
  readonly keyId: string;
}

/**
 * The encryption context a sealed key is bound to. KMS authenticates it with the ciphertext and
 * Decrypt fails unless it is given the same pairs, so a ciphertext lifted from one account's
 * event cannot be passed off as another's. The decrypting side builds it with this function too.
 * Values are strings because KMS takes only strings. The uplink function's grant requires
 * exactly these keys (infra/constructs/functions.ts).
 */
export function kmsEncryptionContext(context: KeySealContext): Record<string, string> {
  return { endpoint: context.endpoint, shortServerId: String(context.shortServerId) };
}

/** The encryption context's keys, as the IAM condition on kms:EncryptionContextKeys names them. */
export const KMS_ENCRYPTION_CONTEXT_KEYS = Object.keys(kmsEncryptionContext({ endpoint: '', shortServerId: 0 }));

/** LwM2M server keys sealed with KMS for ServerCredentialsIssued events. */
export class KmsKeySealer implements KeySealer {
  readonly #options: KmsKeySealerOptions;

  constructor(options: KmsKeySealerOptions) {
    this.#options = options;
  }

  async seal(plaintext: Uint8Array, context: KeySealContext): Promise<string> {
    const account = `Short Server ID ${context.shortServerId} of ${context.endpoint}`;
    // On failure, the error's name only, and no cause: what a client library puts in a message
    // or keeps beside it is not ours to vouch for, and the request held the key.
    const input: KmsEncryptInput = { KeyId: this.#options.keyId, Plaintext: plaintext, EncryptionContext: kmsEncryptionContext(context) };
    const output = await Promise.resolve(input)
      .then((request) => this.#options.encrypt(request))
      .then(
        (answer) => ({ answer }),
        (error: unknown) => ({ failure: error instanceof Error ? error.name : 'unknown error' }),
      );
    if ('failure' in output) throw new Error(`KMS did not seal the key for ${account}: ${output.failure}`);
    const blob = output.answer.CiphertextBlob;
    if (blob === undefined || blob.length === 0) throw new Error(`KMS returned no ciphertext for the key of ${account}`);
    return Buffer.from(blob).toString('base64');
  }
}
