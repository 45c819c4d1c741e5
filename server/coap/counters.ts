/**
 * What the endpoint saw and did, above all what it dropped: a datagram the server ignores
 * leaves no other trace.
 */
export const COUNTER_NAMES = [
  'received', // datagrams
  'malformed', // unparsable or not allowed by RFC 7252 (ACK carrying a request, reserved code class)
  'resetSent',
  'resetReceived',
  'pings', // Empty CON, answered with a Reset
  'duplicates', // CON/NON seen again within EXCHANGE_LIFETIME
  'rateLimited',
  'overloaded', // request dropped: too many of the peer's requests already being handled
  'badOption', // 4.02 for an unrecognized critical option (or a dropped NON carrying one)
  'requestsHandled', // calls to onRequest
  'handlerErrors', // onRequest threw: answered 5.00
  'piggybacked', // CON request answered in the ACK
  'nonResponses', // NON request answered with NON
  'block1Continue', // 2.31 sent while reassembling a Block1 request
  'block1Rejected', // 4.08 / 4.13 / 4.00 during Block1 reassembly
  'block2Served', // Block2 blocks sent
  'requestsSent', // our requests (each block counts)
  'retransmissions',
  'timeouts',
  'separateResponses', // answers to our requests that came after an empty ACK
  'unknownResponses', // responses matching none of our requests
  'peerEvictions', // peer state dropped by the LRU bound
  'sendErrors',
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];

export class Counters {
  readonly #values = new Map<CounterName, number>(COUNTER_NAMES.map((name) => [name, 0]));

  increment(name: CounterName, by = 1): void {
    this.#values.set(name, (this.#values.get(name) ?? 0) + by);
  }

  snapshot(): Readonly<Record<CounterName, number>> {
    return Object.freeze(Object.fromEntries(this.#values) as Record<CounterName, number>);
  }
}
