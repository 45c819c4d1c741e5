import { z } from 'zod';

/**
 * The broadcast that makes every gateway forget a Bootstrap-Server PSK identity the purge has
 * just revoked, instead of trusting its cached key until the cache's TTL (issue 5).
 *
 * It names the identity only. A PSK identity is no secret (the client sends it in clear in
 * every DTLS ClientKeyExchange), but a key is: the object is strict, so a key added by mistake
 * is refused on both sides rather than carried along.
 */
export const PSK_REVOCATION_VERSION = 1;

export const pskRevocationSchema = z.strictObject({
  v: z.literal(PSK_REVOCATION_VERSION),
  type: z.literal('psk-revoked'),
  /** The same bounds as the identity of a stored credential and of a purge. */
  identity: z.string().min(1).max(128),
  /** When the purge revoked it; a repeated purge that announces it again gives its own time. */
  revokedAt: z.iso.datetime(),
});
export type PskRevocation = z.infer<typeof pskRevocationSchema>;

export function pskRevocation(identity: string, revokedAt: Date): PskRevocation {
  return pskRevocationSchema.parse({ v: PSK_REVOCATION_VERSION, type: 'psk-revoked', identity, revokedAt: revokedAt.toISOString() });
}

export type ParsedPskRevocation = { readonly ok: true; readonly revocation: PskRevocation } | { readonly ok: false; readonly reason: string };

/**
 * A received payload (UTF-8 JSON). The reason names the field at fault, never a value: a
 * malformed message may hold anything, a key included.
 */
export function parsePskRevocation(payload: Uint8Array | string): ParsedPskRevocation {
  let message: unknown;
  try {
    message = JSON.parse(typeof payload === 'string' ? payload : new TextDecoder().decode(payload));
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const parsed = pskRevocationSchema.safeParse(message);
  if (parsed.success) return { ok: true, revocation: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, reason: `invalid psk-revoked at ${issue?.path.map(String).join('.') || '(message)'}: ${issue?.code ?? 'unknown'}` };
}
