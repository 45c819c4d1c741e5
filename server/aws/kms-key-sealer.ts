import type { KeySealContext, KeySealer } from '../../shared/lifecycle/server-credentials.ts';

/**
 * The part of KMS Encrypt the sealer uses, spelled as @aws-sdk/client-kms spells
 * EncryptCommandInput and EncryptCommandOutput, so that with the SDK client it is
 * `(input) => client.send(new EncryptCommand(input))`. A port rather than the client itself
 * because @aws-sdk/client-kms is not among the project's packages yet.
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

export interface KmsKeySealerOptions {
  readonly encrypt: KmsEncrypt;
  /** Key id, ARN or alias of the symmetric KMS key the LwM2M server side may decrypt with. */
  readonly keyId: string;
}

/**
 * The encryption context a sealed key is bound to. KMS authenticates it with the ciphertext and
 * Decrypt fails unless it is given the same pairs, so a ciphertext lifted from one account's
 * event cannot be passed off as another's. The decrypting side builds it with this function too.
 * Values are strings because KMS takes only strings.
 */
export function kmsEncryptionContext(context: KeySealContext): Record<string, string> {
  return { endpoint: context.endpoint, shortServerId: String(context.shortServerId) };
}

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
