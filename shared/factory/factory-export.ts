import { withoutSecrets } from '../bootstrap/plan-secrets.ts';
import type { BootstrapPlan, PlanWrite } from '../bootstrap/plan.ts';
import { ContentFormat } from '../content/format.ts';
import { treeFromJsonView, type JsonView } from '../content/json-view.ts';
import { encodeContent } from '../content/registry.ts';
import { flattenTree, treeFromPathValues } from '../content/tree.ts';
import { parsePath, ROOT_PATH } from '../lwm2m/path.ts';
import { factoryInstances } from './factory-instances.ts';

/** One file of a device's factory bootstrap information. */
export interface FactoryFile {
  readonly name: string;
  readonly mediaType: string;
  readonly bytes: Uint8Array;
}

export interface FactoryExport {
  readonly endpoint: string;
  readonly keysIncluded: boolean;
  /** Resources left out because keys were not asked for: whoever loads the file injects them. */
  readonly omittedSecrets: readonly string[];
  /** What an operator should know before sending the files to a factory line. */
  readonly warnings: readonly string[];
  readonly files: readonly FactoryFile[];
}

export interface FactoryExportRequest {
  readonly endpoint: string;
  readonly profile: string;
  readonly plan: BootstrapPlan;
  /** Secret keys go into the files only when the caller asked for them explicitly. */
  readonly includeKeys: boolean;
  readonly generatedAt: string;
}

const OBJECT_NAMES: Readonly<Record<number, string>> = { 0: 'security', 1: 'server', 2: 'access-control', 21: 'oscore' };
const encoder = new TextEncoder();

/**
 * A device's factory bootstrap information in three forms: SenML-CBOR of every instance at `/`
 * (the form client SDKs load at manufacture), TLV per object (what LwM2M 1.0 clients and their
 * provisioning tools take), and a JSON document for people and scripts (the JSON view, keyed by
 * path). All three hold the same instances.
 */
export function factoryExport(request: FactoryExportRequest): FactoryExport {
  const stripped = factoryInstances(request.plan).map((write) => (request.includeKeys ? { write, omitted: [] } : withoutSecrets(write)));
  const instances = stripped.map(({ write }) => write);
  const omittedSecrets = stripped.flatMap(({ omitted }) => omitted);
  const warnings = request.plan.bootstrapServerWrite === undefined
    ? ['the profile has no bootstrapServer: the device leaves the factory without a Bootstrap-Server account and can never be bootstrapped again']
    : [];
  const records = instances.flatMap((write) => flattenTree(treeFromJsonView(write.values, parsePath(write.path))));
  const files: FactoryFile[] = [
    { name: 'bootstrap.senml.cbor', mediaType: 'application/senml+cbor', bytes: encodeContent(ContentFormat.SENML_CBOR, treeFromPathValues(records, ROOT_PATH), ROOT_PATH) },
  ];
  for (const objectId of [...new Set(instances.map((write) => objectIdOf(write)))].sort((a, b) => a - b)) {
    const path = { objectId };
    const ofObject = records.filter((record) => record.path.objectId === objectId);
    files.push({
      name: `object-${objectId}-${OBJECT_NAMES[objectId] ?? 'object'}.tlv`,
      mediaType: 'application/vnd.oma.lwm2m+tlv',
      bytes: encodeContent(ContentFormat.TLV, treeFromPathValues(ofObject, path), path),
    });
  }
  const document = {
    endpoint: request.endpoint,
    profile: request.profile,
    generatedAt: request.generatedAt,
    keysIncluded: request.includeKeys,
    omittedSecrets,
    warnings,
    instances: Object.fromEntries(instances.map((write) => [write.path, write.values])) as Record<string, JsonView>,
  };
  files.push({ name: 'bootstrap.json', mediaType: 'application/json', bytes: encoder.encode(`${JSON.stringify(document, null, 2)}\n`) });
  return { endpoint: request.endpoint, keysIncluded: request.includeKeys, omittedSecrets, warnings, files };
}

function objectIdOf(write: PlanWrite): number {
  return Number(write.path.split('/')[1]);
}
