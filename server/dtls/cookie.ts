/**
 * Stateless HelloVerifyRequest cookies (RFC 6347 section 4.2.1). The server keeps no state for a
 * ClientHello until the client echoes a cookie only the server could have made for that address,
 * so a spoofed source gets neither state nor an amplified answer:
 *
 *   cookie = HMAC-SHA256(secret, client address | port | ClientHello without its cookie)
 *
 * The secret rotates; a cookie made with the previous secret still verifies, so a rotation
 * between the HelloVerifyRequest and the second ClientHello does not fail the handshake.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { concatBytes, uintBytes, vectorBytes } from './bytes.ts';
import { clientHelloSuitesAndExtensions, type ClientHello } from './handshake.ts';

export const COOKIE_LENGTH = 32;
const SECRET_LENGTH = 32;

export interface ClientAddress {
  readonly address: string;
  readonly port: number;
}

export class HelloCookies {
  #current: Uint8Array;
  #previous: Uint8Array | undefined;

  constructor(secret: Uint8Array = randomBytes(SECRET_LENGTH)) {
    this.#current = secret.slice();
  }

  /** Makes `next` current; the current secret becomes previous and the older one is forgotten. */
  rotate(next: Uint8Array = randomBytes(SECRET_LENGTH)): void {
    this.#previous = this.#current;
    this.#current = next.slice();
  }

  /** The cookie to send in a HelloVerifyRequest to this client for this hello. */
  issue(client: ClientAddress, hello: ClientHello): Uint8Array {
    return compute(this.#current, client, hello);
  }

  /** Whether the hello's cookie is one issued to this client under the current or previous secret. */
  verify(client: ClientAddress, hello: ClientHello): boolean {
    if (hello.cookie.length !== COOKIE_LENGTH) return false;
    // Both comparisons always run, so timing does not reveal which secret matched.
    const current = timingSafeEqual(hello.cookie, compute(this.#current, client, hello));
    const previous = this.#previous !== undefined && timingSafeEqual(hello.cookie, compute(this.#previous, client, hello));
    return current || previous;
  }
}

function compute(secret: Uint8Array, client: ClientAddress, hello: ClientHello): Uint8Array {
  // Every variable-length part is length-prefixed so two different inputs never concatenate alike.
  const input = concatBytes(
    vectorBytes(new TextEncoder().encode(client.address), 1),
    uintBytes(client.port, 2),
    uintBytes(hello.clientVersion, 2),
    hello.random,
    vectorBytes(hello.sessionId, 1),
    clientHelloSuitesAndExtensions(hello),
  );
  return new Uint8Array(createHmac('sha256', secret).update(input).digest()).subarray(0, COOKIE_LENGTH);
}
