import { ContentFormat, contentFormatName } from '../content/format.ts';
import { treeFromJsonView } from '../content/json-view.ts';
import { encodeContent } from '../content/registry.ts';
import { flattenTree, treeFromPathValues } from '../content/tree.ts';
import { parsePath, ROOT_PATH } from '../lwm2m/path.ts';
import type { BootstrapPlan } from './plan.ts';

/**
 * Formats a Bootstrap-Pack (LwM2M Core 1.2, Bootstrap-Pack-Request) can come in: the ones whose
 * codecs carry several objects under the root path. TLV cannot address `/` at all; LwM2M-JSON
 * (11543) could, but it is the LwM2M 1.0 format that 1.2, the only version with Bootstrap-Pack,
 * no longer lists.
 */
export const BOOTSTRAP_PACK_FORMATS: readonly number[] = [ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON, ContentFormat.LWM2M_CBOR];

/** The client's Accept names no format a Bootstrap-Pack can be sent in: the gateway answers 4.06. */
export class BootstrapPackFormatError extends Error {
  override readonly name = 'BootstrapPackFormatError';
  readonly format: number;

  constructor(format: number) {
    super(`a Bootstrap-Pack cannot be sent as ${contentFormatName(format)}; accept one of ${BOOTSTRAP_PACK_FORMATS.join(', ')}`);
    this.format = format;
  }
}

/**
 * The whole configuration of a plan as one payload at `/`: every Security, Server, ACL and
 * OSCORE write. A Bootstrap-Pack replaces deletes and Finish, so only writes go in. The
 * Bootstrap-Server account rewrite stays out: a pack is fetched without a Discover, so we do not
 * know which instance holds the client's account, and writing it at a guessed id could leave the
 * client with two Bootstrap-Server accounts. Profiles that set the account's options reach
 * those clients through `POST /bs`. Two writes to the same resource are a plan error and throw a
 * CodecError naming the path.
 */
export function encodeBootstrapPack(plan: BootstrapPlan, accept: number = ContentFormat.SENML_CBOR): { contentFormat: number; payload: Uint8Array } {
  if (!BOOTSTRAP_PACK_FORMATS.includes(accept)) throw new BootstrapPackFormatError(accept);
  const records = plan.writes.flatMap((write) => flattenTree(treeFromJsonView(write.values, parsePath(write.path))));
  return { contentFormat: accept, payload: encodeContent(accept, treeFromPathValues(records, ROOT_PATH), ROOT_PATH) };
}
