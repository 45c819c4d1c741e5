import { CoapCode, describeCode } from '../shared/coap/index.ts';
import { ContentFormat } from '../shared/content/format.ts';
import { serializeLinkFormat } from '../shared/content/link-format.ts';
import { OSCORE, SECURITY, type ClientObjectStore, type ServerAccount } from './client-state.ts';
import { CoapTransport, type PeerAddress, type TransmissionParameters } from './transport.ts';
import type { ClientVersion } from './versions.ts';

/**
 * Register (LwM2M Core 1.1 §5.3.1, Transport 1.1 §6.2.1): `POST /rd?ep=..&lt=..&lwm2m=..&b=..`
 * with the client's objects in link-format, sent from a fresh socket as a client does after
 * Bootstrap-Finish, to the Server Account the bootstrap left it.
 */
export interface RegistrationOutcome {
  readonly uri: string;
  /** The Location-Path the server gave, e.g. `rd/5`. */
  readonly location: string;
  /** The Server Account registered with. */
  readonly shortServerId: number;
}

const DEFAULT_LIFETIME = 86_400;
const DEFAULT_COAP_PORT = 5683;

export async function register(
  store: ClientObjectStore,
  endpoint: string,
  version: ClientVersion,
  transmission: Partial<TransmissionParameters>,
): Promise<RegistrationOutcome> {
  const account = store.serverAccounts()[0];
  if (account === undefined) throw new Error('no Server Account to register with');
  const peer = serverAddress(account);
  const transport = await CoapTransport.forPeer(peer, transmission);
  try {
    const response = await transport.request(peer, {
      code: CoapCode.POST,
      options: {
        uriPath: ['rd'],
        uriQuery: [`ep=${endpoint}`, `lt=${account.lifetime ?? DEFAULT_LIFETIME}`, `lwm2m=${version}`, `b=${account.binding ?? 'U'}`],
        contentFormat: ContentFormat.LINK_FORMAT,
      },
      payload: new TextEncoder().encode(objectLinks(store)),
    });
    if (response.code !== CoapCode.CREATED) throw new Error(`Register answered ${describeCode(response.code)}`);
    const location = response.options.locationPath ?? [];
    if (location.length === 0) throw new Error('Register answered 2.01 without a Location-Path');
    return { uri: account.uri!, location: location.join('/'), shortServerId: account.shortServerId };
  } finally {
    await transport.close();
  }
}

/**
 * Update (Core 1.1 §5.3.2): `POST /{location}` with nothing changed, so no query and no payload,
 * to the Server Account registered with; that account must still be there.
 */
export async function updateRegistration(
  store: ClientObjectStore,
  registration: RegistrationOutcome,
  transmission: Partial<TransmissionParameters>,
): Promise<RegistrationOutcome> {
  const account = store.serverAccounts().find((candidate) => candidate.shortServerId === registration.shortServerId);
  if (account === undefined) throw new Error(`no Server Account with Short Server ID ${registration.shortServerId} to update`);
  const peer = serverAddress(account);
  const transport = await CoapTransport.forPeer(peer, transmission);
  try {
    const response = await transport.request(peer, { code: CoapCode.POST, options: { uriPath: registration.location.split('/') } });
    if (response.code !== CoapCode.CHANGED) throw new Error(`Update answered ${describeCode(response.code)}`);
    return registration;
  } finally {
    await transport.close();
  }
}

/** `</1/0>,</2/0>,</3/0>`: every object and instance except Security and OSCORE, which Register never lists. */
export function objectLinks(store: ClientObjectStore): string {
  const tree = store.tree();
  const entries = store
    .objectIds()
    .filter((id) => id !== SECURITY && id !== OSCORE)
    .flatMap((id) => {
      const instances = tree.find((object) => object.id === id)?.instances ?? [];
      if (instances.length === 0) return [`/${id}`];
      return instances.map((instance) => `/${id}/${instance.id}`);
    });
  return serializeLinkFormat(entries.map((target) => ({ target, attributes: [] })));
}

/** The host and port of a `coap://` Server URI; the simulator speaks no DTLS, so `coaps://` is an error. */
export function serverAddress(account: ServerAccount): PeerAddress {
  const uri = account.uri;
  if (uri === undefined) throw new Error(`Security instance ${account.securityInstanceId} has no Server URI`);
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`Server URI of Security instance ${account.securityInstanceId} is not a URI`);
  }
  if (url.protocol === 'coaps:') {
    throw new Error(`cannot register at ${url.host}: the simulator speaks plain CoAP only, not coaps:// (DTLS)`);
  }
  if (url.protocol !== 'coap:') throw new Error(`cannot register at a ${url.protocol}// Server URI`);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port === '' ? DEFAULT_COAP_PORT : Number(url.port) };
}
