/**
 * The admin API's routes: the CLI's profile, device, import, status and export commands over HTTP.
 * Plain data, so the stack can declare each route and the OpenAPI document can describe it
 * without loading the handler.
 */
export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface AdminRoute {
  readonly method: HttpMethod;
  /** As API Gateway writes it: `/profiles/{name}`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
}

export const adminApiRoutes = [
  { method: 'GET', path: '/profiles', operationId: 'listProfiles', summary: 'List profiles, one page at a time (secrets hidden unless showSecrets=true)' },
  { method: 'GET', path: '/profiles/{name}', operationId: 'getProfile', summary: 'Read a profile' },
  { method: 'PUT', path: '/profiles/{name}', operationId: 'putProfile', summary: 'Create or replace a profile' },
  { method: 'DELETE', path: '/profiles/{name}', operationId: 'deleteProfile', summary: 'Delete a profile (devices naming it are refused at bootstrap)' },
  { method: 'GET', path: '/devices', operationId: 'listDevices', summary: 'List devices, one page at a time, optionally of one profile' },
  { method: 'GET', path: '/devices/{endpoint}', operationId: 'getDevice', summary: 'Read a device entry' },
  { method: 'PUT', path: '/devices/{endpoint}', operationId: 'putDevice', summary: 'Create or replace a device entry' },
  { method: 'DELETE', path: '/devices/{endpoint}', operationId: 'deleteDevice', summary: 'Delete a device entry' },
  { method: 'POST', path: '/import', operationId: 'importDevices', summary: 'Import devices from a JSON array, JSON Lines or CSV; all or nothing' },
  { method: 'GET', path: '/devices/{endpoint}/status', operationId: 'getDeviceStatus', summary: "A device's last bootstrap as recorded" },
  {
    method: 'GET',
    path: '/devices/{endpoint}/factory',
    operationId: 'getFactoryExport',
    summary: "A device's factory bootstrap information: SenML-CBOR, TLV per object and JSON (secret resources left out unless includeKeys=true)",
  },
  {
    method: 'POST',
    path: '/devices/{endpoint}/smartcard',
    operationId: 'exportSmartcard',
    summary: "A device's UICC bootstrap files (card image, EF LwM2M_Bootstrap, SCP03 keys); keys always included, generated and stored on request",
  },
] as const satisfies readonly AdminRoute[];

export type AdminOperationId = (typeof adminApiRoutes)[number]['operationId'];

/** `GET /profiles/{name}`: API Gateway's route key of a route. */
export function routeKey(route: Pick<AdminRoute, 'method' | 'path'>): string {
  return `${route.method} ${route.path}`;
}

export interface MatchedRoute {
  readonly route: (typeof adminApiRoutes)[number];
  readonly params: Readonly<Record<string, string>>;
}

/** The route a method and a raw (percent-encoded) path name, with its decoded parameters. */
export function matchRoute(method: string, rawPath: string): MatchedRoute | undefined {
  const segments = rawPath.replace(/\/+$/, '').split('/').slice(1);
  for (const route of adminApiRoutes) {
    if (route.method !== method) continue;
    const pattern = route.path.split('/').slice(1);
    if (pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matches = pattern.every((part, index) => {
      const segment = segments[index]!;
      if (!part.startsWith('{')) return part === segment;
      const value = decodeSegment(segment);
      if (value === undefined || value === '') return false;
      params[part.slice(1, -1)] = value;
      return true;
    });
    if (matches) return { route, params };
  }
  return undefined;
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
