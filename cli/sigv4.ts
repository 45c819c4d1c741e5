import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';

type SourceData = string | ArrayBuffer | ArrayBufferView;

/**
 * SHA-256 as SignatureV4 wants it (`new Sha256(key?)`, `update`, async `digest`): a plain hash
 * for the payload and canonical request, an HMAC when SignatureV4 derives the signing key.
 * node:crypto instead of a browser-first hash package the CLI would otherwise pull in.
 */
export class NodeSha256 {
  readonly #hash: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }

  update(data: SourceData): void {
    this.#hash.update(bytes(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
}

function bytes(data: SourceData): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** What the default credential chain resolves to; the secret never leaves the signer. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

export type CredentialSource = () => Promise<AwsCredentials>;

/** One HTTP request before signing: `url` carries the already percent-encoded path and the query. */
export interface UnsignedRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface SigningContext {
  readonly region: string;
  readonly credentials: CredentialSource;
  /** `execute-api` for an API Gateway API with IAM authorization. */
  readonly service?: string;
  readonly signingDate?: Date;
}

/**
 * The headers to send: the request's own plus `host`, `x-amz-date`, `x-amz-content-sha256`,
 * `x-amz-security-token` (temporary credentials) and `authorization`. SignatureV4 is loaded on
 * first use so local commands never load it.
 */
export async function signRequest(request: UnsignedRequest, context: SigningContext): Promise<Record<string, string>> {
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const signer = new SignatureV4({ service: context.service ?? 'execute-api', region: context.region, credentials: context.credentials, sha256: NodeSha256 });
  const query: Record<string, string> = {};
  for (const [name, value] of request.url.searchParams) query[name] = value;
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: request.url.protocol,
      hostname: request.url.hostname,
      ...(request.url.port !== '' && { port: Number(request.url.port) }),
      path: request.url.pathname,
      query,
      headers: { ...request.headers, host: request.url.host },
      ...(request.body !== undefined && { body: request.body }),
    },
    context.signingDate === undefined ? {} : { signingDate: context.signingDate },
  );
  return signed.headers;
}

/** The default AWS credential chain (environment, shared config and SSO profiles, container and instance roles), resolved once. */
export async function defaultCredentials(): Promise<CredentialSource> {
  const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
  const provider = defaultProvider();
  return () => provider();
}
