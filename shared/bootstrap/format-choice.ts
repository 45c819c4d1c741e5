import { ContentFormat } from '../content/format.ts';
import { TREE_FORMATS } from '../content/registry.ts';

/**
 * The formats a Bootstrap-Write can fall back to when a client answers 4.06 or 4.15, in the
 * order tried: TLV (every 1.0 client and most 1.1 clients), then the two SenML formats that
 * LwM2M 1.1 and 1.2 clients are required to or commonly do support.
 */
export const WRITE_FALLBACK_CHAIN: readonly number[] = [ContentFormat.TLV, ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON];

// text/plain, opaque and plain CBOR carry one resource value: they cannot hold an instance,
// so a `pct` naming one of them says nothing useful about how to write an instance.
const SINGLE_VALUE_FORMATS: readonly number[] = [ContentFormat.TEXT, ContentFormat.OPAQUE, ContentFormat.CBOR];

/** Formats able to carry one whole object instance, as a Bootstrap-Write sends it. */
export const INSTANCE_FORMATS: readonly number[] = TREE_FORMATS.filter((format) => !SINGLE_VALUE_FORMATS.includes(format));

/**
 * The format of the first Bootstrap-Write: the profile's if it forces one; else the client's
 * `pct` (LwM2M 1.1 Bootstrap-Request) when it can carry an instance; else TLV, which every
 * LwM2M 1.0 client speaks and which the fallback chain starts from anyway.
 */
export function initialContentFormat(planFormat: number | undefined, preferredContentFormat: number | undefined): number {
  if (planFormat !== undefined) return planFormat;
  if (preferredContentFormat !== undefined && INSTANCE_FORMATS.includes(preferredContentFormat)) return preferredContentFormat;
  return ContentFormat.TLV;
}

/**
 * The next format to try for one write after `tried` were refused: the first untried format of
 * the chain, wherever the refused one stood in it (a client refusing `pct` 112 may still take
 * TLV), or undefined when the chain is exhausted.
 */
export function nextFallbackFormat(tried: readonly number[]): number | undefined {
  return WRITE_FALLBACK_CHAIN.find((format) => !tried.includes(format));
}
