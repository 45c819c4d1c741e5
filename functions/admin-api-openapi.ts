import { z } from 'zod';
import { deviceEntrySchema, deviceStatusSchema } from '../shared/bootstrap/device.ts';
import { profileSchema } from '../shared/bootstrap/profile.ts';
import { IMPORT_MEDIA_TYPES } from './admin/import.ts';
import { adminApiRoutes, type AdminOperationId } from './admin/routes.ts';

/**
 * The admin API as an OpenAPI 3.1 document. Bodies and answers are the zod schemas the handler
 * validates with, converted by z.toJSONSchema (draft 2020-12, the dialect OpenAPI 3.1 uses), so
 * the document cannot drift from what the API accepts.
 */
export type OpenApiDocument = Record<string, unknown> & { readonly openapi: '3.1.0'; readonly paths: Record<string, Record<string, unknown>> };

const issueSchema = z.looseObject({ field: z.string(), message: z.string(), row: z.number().int().optional(), line: z.number().int().optional(), endpoint: z.string().optional() });
const errorSchema = z.strictObject({
  error: z.looseObject({
    code: z.string().meta({ description: 'bad-request, invalid-document, not-found, conflict, invalid-configuration, unknown-profile, import-rejected, unsupported-media-type, store-failed, internal' }),
    message: z.string(),
    issues: z.array(issueSchema).optional(),
    notRestored: z.array(z.string()).optional(),
  }),
});
const statusViewSchema = z.strictObject({
  endpoint: z.string(),
  status: z.union([deviceStatusSchema.extend({ contentFormatName: z.string().optional() }), z.null()]),
});
const importResultSchema = z.strictObject({ format: z.enum(['json', 'jsonl', 'csv']), dryRun: z.boolean(), rows: z.number().int(), written: z.number().int() });
const factoryExportSchema = z.strictObject({
  endpoint: z.string(),
  keysIncluded: z.boolean(),
  omittedSecrets: z.array(z.string()).meta({ description: 'Secret resources left out (/0/x/5, /0/x/8, /21/x/0, /21/x/5): whoever loads the files injects them' }),
  warnings: z.array(z.string()),
  files: z.array(
    z.strictObject({
      name: z.string().meta({ description: 'bootstrap.senml.cbor (every instance at /), object-<id>-<name>.tlv (one per object), bootstrap.json' }),
      mediaType: z.string(),
      base64: z.string(),
    }),
  ),
});
const storedSchema = z.looseObject({ stored: z.enum(['profile', 'device']), name: z.string().optional(), endpoint: z.string().optional(), profile: z.string().optional() });
const deletedSchema = z.looseObject({ deleted: z.enum(['profile', 'device']), name: z.string().optional(), endpoint: z.string().optional() });
const pageOf = (item: string) => ({
  type: 'object',
  required: ['items'],
  properties: { items: { type: 'array', items: ref(item) }, cursor: { type: 'string', description: 'Pass back as ?cursor= for the next page; absent on the last page' } },
});

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  // Transforms (a content format given by name) have no JSON Schema: they come out as {} there.
  const converted = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
  // The document names the dialect once (jsonSchemaDialect); components carry none.
  delete converted['$schema'];
  return converted;
}

function ref(name: string): { $ref: string } {
  return { $ref: `#/components/schemas/${name}` };
}

const jsonContent = (schema: unknown) => ({ 'application/json': { schema } });
const errorResponse = (description: string) => ({ description, content: jsonContent(ref('Error')) });

const PARAMETERS = {
  name: { name: 'name', in: 'path', required: true, schema: { type: 'string' }, description: 'Profile name' },
  endpoint: { name: 'endpoint', in: 'path', required: true, schema: { type: 'string' }, description: 'Endpoint Client Name, percent-encoded' },
  showSecrets: { name: 'showSecrets', in: 'query', required: false, schema: { type: 'string', enum: ['true', 'false'] }, description: 'Include keys; hidden as "(hidden: N bytes)" otherwise' },
  cursor: { name: 'cursor', in: 'query', required: false, schema: { type: 'string' } },
  profile: { name: 'profile', in: 'query', required: false, schema: { type: 'string' }, description: 'Only devices of this profile (filters one page)' },
  includeKeys: { name: 'includeKeys', in: 'query', required: false, schema: { type: 'string', enum: ['true', 'false'] }, description: 'Put secret keys in the files; left out (and named in omittedSecrets) otherwise' },
  dryRun: { name: 'dryRun', in: 'query', required: false, schema: { type: 'string', enum: ['true', 'false'] }, description: 'Validate only' },
} as const;

const OPERATIONS: Readonly<Record<AdminOperationId, Record<string, unknown>>> = {
  listProfiles: { parameters: [PARAMETERS.cursor, PARAMETERS.showSecrets], responses: { 200: { description: 'A page of profiles', content: jsonContent(pageOf('Profile')) }, 400: errorResponse('Bad query') } },
  getProfile: { parameters: [PARAMETERS.name, PARAMETERS.showSecrets], responses: { 200: { description: 'The profile', content: jsonContent(ref('Profile')) }, 404: errorResponse('No such profile') } },
  putProfile: {
    parameters: [PARAMETERS.name],
    requestBody: { required: true, content: jsonContent(ref('ProfileInput')) },
    responses: { 200: { description: 'Stored', content: jsonContent(ref('Stored')) }, 400: errorResponse('Not a valid profile document'), 422: errorResponse('The profile would not bootstrap') },
  },
  deleteProfile: { parameters: [PARAMETERS.name], responses: { 200: { description: 'Deleted', content: jsonContent(ref('Deleted')) }, 404: errorResponse('No such profile') } },
  listDevices: {
    parameters: [PARAMETERS.cursor, PARAMETERS.profile, PARAMETERS.showSecrets],
    responses: { 200: { description: 'A page of device entries', content: jsonContent(pageOf('DeviceEntry')) }, 400: errorResponse('Bad query or cursor') },
  },
  getDevice: { parameters: [PARAMETERS.endpoint, PARAMETERS.showSecrets], responses: { 200: { description: 'The device entry', content: jsonContent(ref('DeviceEntry')) }, 404: errorResponse('No such device') } },
  putDevice: {
    parameters: [PARAMETERS.endpoint],
    requestBody: { required: true, content: jsonContent(ref('DeviceEntryInput')) },
    responses: {
      200: { description: 'Stored', content: jsonContent(ref('Stored')) },
      400: errorResponse('Not a valid device entry'),
      409: errorResponse('Another device holds its bootstrap PSK identity'),
      422: errorResponse('Unknown profile, or the entry would not bootstrap'),
    },
  },
  deleteDevice: { parameters: [PARAMETERS.endpoint], responses: { 200: { description: 'Deleted', content: jsonContent(ref('Deleted')) }, 404: errorResponse('No such device') } },
  importDevices: {
    parameters: [PARAMETERS.dryRun],
    requestBody: {
      required: true,
      content: Object.fromEntries(
        Object.entries(IMPORT_MEDIA_TYPES).map(([type, format]) => [type, { schema: format === 'json' ? { type: 'array', items: ref('DeviceEntryInput') } : { type: 'string' } }]),
      ),
    },
    responses: {
      200: { description: 'Every row written (or, with dryRun, valid)', content: jsonContent(ref('ImportResult')) },
      400: errorResponse('The body as a whole is unreadable'),
      415: errorResponse('Unsupported content type'),
      422: errorResponse('Rows rejected, each problem in issues; nothing written'),
      503: errorResponse('The store failed while writing; the import was rolled back'),
    },
  },
  getDeviceStatus: { parameters: [PARAMETERS.endpoint], responses: { 200: { description: 'The last recorded bootstrap, or null', content: jsonContent(ref('DeviceStatusView')) }, 404: errorResponse('No such device') } },
  getFactoryExport: {
    parameters: [PARAMETERS.endpoint, PARAMETERS.includeKeys],
    responses: {
      200: { description: 'The files a client loads at manufacture', content: jsonContent(ref('FactoryExport')) },
      400: errorResponse('Bad query'),
      404: errorResponse('No such device'),
      422: errorResponse("The device's profile is gone, or the device would not bootstrap (issues name the fields)"),
    },
  },
};

export function openApiDocument(): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of adminApiRoutes) {
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      security: [{ sigv4: [] }],
      ...OPERATIONS[route.operationId],
      responses: { ...(OPERATIONS[route.operationId]['responses'] as object), 500: errorResponse('Internal error') },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'LwM2M Bootstrap Server admin API',
      version: '1',
      description: 'The operations of the lwm2m-bs CLI (profiles, devices, import, status, factory export) over an API Gateway HTTP API with IAM (SigV4) authorization.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: {
      securitySchemes: {
        sigv4: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'AWS Signature Version 4 (IAM authorization), service execute-api' },
      },
      schemas: {
        Profile: jsonSchema(profileSchema, 'output'),
        ProfileInput: jsonSchema(profileSchema, 'input'),
        DeviceEntry: jsonSchema(deviceEntrySchema, 'output'),
        DeviceEntryInput: jsonSchema(deviceEntrySchema, 'input'),
        DeviceStatusView: jsonSchema(statusViewSchema, 'output'),
        ImportResult: jsonSchema(importResultSchema, 'output'),
        FactoryExport: jsonSchema(factoryExportSchema, 'output'),
        Stored: jsonSchema(storedSchema, 'output'),
        Deleted: jsonSchema(deletedSchema, 'output'),
        Error: jsonSchema(errorSchema, 'output'),
      },
    },
  };
}
