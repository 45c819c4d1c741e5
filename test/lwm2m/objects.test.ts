import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ResourceDefinition } from '../../shared/lwm2m/model.ts';
import { KNOWN_OBJECTS, objectDefinition, resourceDefinition } from '../../shared/lwm2m/registry.ts';

// Facts pinned from the specifications, one citation per row:
//   E.1-E.4: LwM2M Core 1.1 Appendix E (omadm/omaoriginal TS_Core/Appendix_E.md);
//   registry: the OMA LwM2M registry (OpenMobileAlliance/lwm2m-registry), whose XML is the
//   normative object definition where the 2017 Appendix draft predates a resource or its type.
type Fact = [path: string, name: string, type: ResourceDefinition['type'], multiple: boolean, mandatory: boolean, operations: ResourceDefinition['operations'], source: string];

const FACTS: Fact[] = [
  ['/0/x/0', 'LwM2M Server URI', 'string', false, true, '', 'E.1'],
  ['/0/x/1', 'Bootstrap-Server', 'boolean', false, true, '', 'E.1'],
  ['/0/x/2', 'Security Mode', 'integer', false, true, '', 'E.1 (0-4)'],
  ['/0/x/3', 'Public Key or Identity', 'opaque', false, true, '', 'E.1'],
  ['/0/x/5', 'Secret Key', 'opaque', false, true, '', 'E.1'],
  ['/0/x/10', 'Short Server ID', 'integer', false, false, '', 'E.1 (1-65534)'],
  ['/0/x/12', 'Bootstrap-Server Account Timeout', 'integer', false, false, '', 'E.1'],
  ['/0/x/13', 'Matching Type', 'unsigned', false, false, '', 'registry 0.xml (draft E.1 says Integer)'],
  ['/0/x/15', 'Certificate Usage', 'unsigned', false, false, '', 'registry 0.xml (draft E.1 says Integer)'],
  ['/0/x/16', 'DTLS/TLS Ciphersuite', 'unsigned', true, false, '', 'registry 0.xml; E.1 Multiple'],
  ['/0/x/17', 'OSCORE Security Mode', 'objlnk', false, false, '', 'registry 0.xml'],
  ['/1/x/0', 'Short Server ID', 'integer', false, true, 'R', 'E.2'],
  ['/1/x/1', 'Lifetime', 'integer', false, true, 'RW', 'E.2'],
  ['/1/x/6', 'Notification Storing When Disabled or Offline', 'boolean', false, true, 'RW', 'E.2'],
  ['/1/x/7', 'Binding', 'string', false, true, 'RW', 'E.2'],
  ['/1/x/8', 'Registration Update Trigger', 'none', false, true, 'E', 'E.2'],
  ['/1/x/13', 'Registration Priority Order', 'unsigned', false, false, 'R', 'registry 1.xml'],
  ['/1/x/15', 'Registration Failure Block', 'boolean', false, false, 'R', 'registry 1.xml'],
  ['/1/x/16', 'Bootstrap on Registration Failure', 'boolean', false, false, 'R', 'registry 1.xml'],
  ['/1/x/22', 'Preferred Transport', 'string', false, false, 'RW', 'registry 1.xml'],
  ['/1/x/24', 'Alternate APN Links', 'objlnk', true, false, 'RW', 'registry 1.xml (object 1.2)'],
  ['/1/x/25', 'Supported Server Versions', 'string', true, false, 'RW', 'registry 1.xml (object 1.2)'],
  ['/1/x/27', 'Profile ID Hash Algorithm', 'unsigned', false, false, 'RW', 'registry 1.xml (object 1.2)'],
  ['/2/x/0', 'Object ID', 'integer', false, true, 'R', 'E.3'],
  ['/2/x/2', 'ACL', 'integer', true, false, 'RW', 'E.3'],
  ['/2/x/3', 'Access Control Owner', 'integer', false, true, 'RW', 'E.3'],
  ['/3/x/4', 'Reboot', 'none', false, true, 'E', 'E.4'],
  ['/3/x/11', 'Error Code', 'integer', true, true, 'R', 'E.4'],
  ['/3/x/13', 'Current Time', 'time', false, false, 'RW', 'E.4'],
  ['/3/x/16', 'Supported Binding and Modes', 'string', false, true, 'R', 'E.4'],
  ['/3/x/22', 'ExtDevInfo', 'objlnk', true, false, 'R', 'E.4'],
  ['/21/x/0', 'OSCORE Master Secret', 'opaque', false, true, '', 'registry 21-2_0.xml (String in 21-1_1)'],
  ['/21/x/3', 'OSCORE AEAD Algorithm', 'integer', false, false, '', 'registry 21-2_0.xml'],
  ['/21/x/6', 'OSCORE ID Context', 'opaque', false, false, '', 'registry 21-2_0.xml'],
];

describe('object model: spec facts', () => {
  for (const [path, name, type, multiple, mandatory, operations, source] of FACTS) {
    it(`${path} ${name}: ${multiple ? 'multiple ' : ''}${type} (${source})`, () => {
      const [, objectId, , resourceId] = path.split('/');
      assert.deepStrictEqual(resourceDefinition(Number(objectId), Number(resourceId)), {
        id: Number(resourceId),
        name,
        type,
        multiple,
        mandatory,
        operations,
      });
    });
  }

  it('object ids, versions and instance multiplicity (E.1-E.4 object tables, registry)', () => {
    const summary = KNOWN_OBJECTS.map((object) => [object.id, object.version, object.multipleInstances]);
    assert.deepStrictEqual(summary, [
      [0, '1.1', true],
      [1, '1.2', true],
      [2, '1.1', true],
      [3, '1.1', false],
      [21, '2.0', true],
    ]);
  });

  it('Security and OSCORE resources have no operations: only the bootstrap interface reaches them (E.1)', () => {
    for (const id of [0, 21]) {
      assert.ok(objectDefinition(id)!.resources.every((resource) => resource.operations === ''));
    }
  });

  it('resource ids are unique and ascending, and only executables have type none', () => {
    for (const object of KNOWN_OBJECTS) {
      const ids = object.resources.map((resource) => resource.id);
      assert.deepStrictEqual(ids, [...new Set(ids)].sort((a, b) => a - b), `object ${object.id}`);
      for (const resource of object.resources) {
        assert.equal(resource.type === 'none', resource.operations === 'E', `/${object.id}/x/${resource.id}`);
      }
    }
  });
});
