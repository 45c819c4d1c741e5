import type { LwM2MPath } from '../lwm2m/path.ts';
import type { ResourceTypeLookup } from '../lwm2m/model.ts';
import type { ContentTree } from './tree.ts';

/**
 * The contract each tree format implements (TLV, SenML-JSON, SenML-CBOR, LwM2M-CBOR, text,
 * opaque, LwM2M-JSON). `path` is the CoAP request's LwM2M path: formats that write relative
 * ids (TLV, text) need it; `types` tells the value types that the bytes do not carry.
 */
export interface TreeCodec {
  readonly encode: (tree: ContentTree, path: LwM2MPath, types?: ResourceTypeLookup) => Uint8Array;
  readonly decode: (bytes: Uint8Array, path: LwM2MPath, types?: ResourceTypeLookup) => ContentTree;
}

/** Upper bounds shared by every decoder so that no input allocates without bound. */
export const DecodeLimits = {
  /** Largest payload any decoder accepts; bootstrap payloads are a few KiB. */
  maxPayloadBytes: 1024 * 1024,
  /** Most values (resources plus resource instances) in one payload. */
  maxValues: 65536,
  /** Deepest nesting of CBOR or JSON containers. */
  maxDepth: 16,
} as const;
