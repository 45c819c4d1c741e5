import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CoapCode } from '../../shared/coap/code.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { treeFromJsonView, treeToJsonView, type JsonView } from '../../shared/content/json-view.ts';
import { decodeContent, encodeContent } from '../../shared/content/registry.ts';
import type { ContentTree } from '../../shared/content/tree.ts';
import { encodeBootstrapDiscover, type DiscoveredObject } from '../../shared/lwm2m/bootstrap-discover.ts';
import { parsePath } from '../../shared/lwm2m/path.ts';
import type { BootstrapPlan, PlanWrite } from '../../shared/bootstrap/plan.ts';
import {
  initialSessionState,
  stepSession,
  type SessionAction,
  type SessionEvent,
  type SessionRequest,
  type SessionResult,
  type SessionState,
} from '../../shared/bootstrap/session.ts';

const { TLV, SENML_CBOR, SENML_JSON, LINK_FORMAT } = ContentFormat;

const security = (instanceId: number, shortServerId: number, extra: JsonView = {}): PlanWrite => ({
  path: `/0/${instanceId}`,
  values: {
    [`/0/${instanceId}/0`]: `coap://server-${shortServerId}.example.com:5683`,
    [`/0/${instanceId}/1`]: false,
    [`/0/${instanceId}/2`]: 3,
    [`/0/${instanceId}/10`]: shortServerId,
    ...extra,
  },
});
const server = (instanceId: number, shortServerId: number): PlanWrite => ({
  path: `/1/${instanceId}`,
  values: { [`/1/${instanceId}/0`]: shortServerId, [`/1/${instanceId}/1`]: 86400, [`/1/${instanceId}/7`]: 'U' },
});

function plan(overrides: Partial<BootstrapPlan> = {}): BootstrapPlan {
  return { v: 1, discover: true, deletes: ['/0', '/1'], writes: [security(1, 101), server(0, 101)], reads: [], ...overrides };
}

type Reply = { code: number; payload?: Uint8Array; contentFormat?: number } | 'timeout';

interface Run {
  readonly requests: SessionRequest[];
  readonly result: SessionResult;
  readonly state: SessionState;
}

/** Feeds one event and checks the one-action-at-most contract. */
function step(state: SessionState, event: SessionEvent): { state: SessionState; action: SessionAction | undefined } {
  const next = stepSession(state, event);
  assert.ok(next.actions.length <= 1, `more than one action: ${JSON.stringify(next.actions.map((a) => a.type))}`);
  return { state: next.state, action: next.actions[0] };
}

/** Drives a whole session, answering each request with `reply`. */
function drive(bootstrapPlan: BootstrapPlan, reply: (request: SessionRequest, index: number) => Reply, pct?: number): Run {
  const requests: SessionRequest[] = [];
  let { state, action } = step(initialSessionState(), { type: 'start', plan: bootstrapPlan, ...(pct === undefined ? {} : { preferredContentFormat: pct }) });
  for (let guard = 0; guard < 200; guard += 1) {
    assert.ok(action !== undefined, 'the machine stalled');
    if (action.type === 'end') return { requests, result: action.result, state };
    requests.push(action.request);
    const answer = reply(action.request, requests.length - 1);
    const event: SessionEvent =
      answer === 'timeout'
        ? { type: 'timeout', requestId: action.request.id }
        : { type: 'response', requestId: action.request.id, code: answer.code, payload: answer.payload ?? new Uint8Array(), ...(answer.contentFormat === undefined ? {} : { contentFormat: answer.contentFormat }) };
    ({ state, action } = step(state, event));
  }
  assert.fail('no end within 200 requests');
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** What a well-behaved client answers, with Discover answered by `discover`. */
function happyClient(discover: Reply): (request: SessionRequest) => Reply {
  return (request) => {
    switch (request.purpose) {
      case 'discover':
        return discover;
      case 'delete':
        return { code: CoapCode.DELETED };
      case 'write':
        return { code: CoapCode.CHANGED };
      case 'read':
        return { code: CoapCode.CONTENT, contentFormat: request.accept!, payload: encodeContent(request.accept!, readTree(request.path), parsePath(request.path)) };
      case 'finish':
        return { code: CoapCode.CHANGED };
    }
  };
}

const SERVER_READ: JsonView = { '/1/0/0': 101, '/1/0/1': 86400, '/1/0/7': 'U' };
function readTree(path: string): ContentTree {
  return treeFromJsonView(SERVER_READ, parsePath(path));
}

function discoverPayload(lwm2mVersion: string | undefined, objects: DiscoveredObject[]): Reply {
  return { code: CoapCode.CONTENT, contentFormat: LINK_FORMAT, payload: encodeBootstrapDiscover({ ...(lwm2mVersion === undefined ? {} : { lwm2mVersion }), objects }) };
}

/** A client whose Bootstrap-Server account is /0/`bsInstance`, and one server 101 at /0/1, /1/0. */
function accountsOf(bsInstance: number, extra: DiscoveredObject[] = []): DiscoveredObject[] {
  return [
    {
      objectId: 0,
      instances: [{ instanceId: bsInstance, uri: 'coap://bs.example.com' }, ...(bsInstance === 1 ? [] : [{ instanceId: 1, ssid: 101 }])].sort(
        (a, b) => a.instanceId - b.instanceId,
      ),
    },
    { objectId: 1, instances: [{ instanceId: 0, ssid: 101 }] },
    { objectId: 3, instances: [{ instanceId: 0 }] },
    ...extra,
  ];
}

const lines = (requests: readonly SessionRequest[]): string[] => requests.map((request) => `${request.method} ${request.path}`);

/** The write's payload decodes, in the format it was sent in, to the values at `path`. */
function assertWritePayload(request: SessionRequest, values: JsonView): void {
  assert.equal(request.method, 'PUT');
  const path = parsePath(request.path);
  assert.deepStrictEqual(decodeContent(request.contentFormat!, request.payload!, path), treeFromJsonView(values, path));
}

describe('bootstrap session: complete runs', () => {
  it('LwM2M 1.0 client: Discover refused with 4.05, object deletes as planned, TLV writes, finish', () => {
    const run = drive(plan(), happyClient({ code: CoapCode.METHOD_NOT_ALLOWED }));
    assert.deepStrictEqual(lines(run.requests), ['GET /', 'DELETE /0', 'DELETE /1', 'PUT /0/1', 'PUT /1/0', 'POST /bs']);
    assert.equal(run.requests[0]!.accept, LINK_FORMAT);
    assert.deepStrictEqual(run.requests.map((request) => request.purpose), ['discover', 'delete', 'delete', 'write', 'write', 'finish']);
    assert.ok(run.requests.filter((request) => request.method === 'PUT').every((request) => request.contentFormat === TLV));
    assertWritePayload(run.requests[3]!, security(1, 101).values);
    assertWritePayload(run.requests[4]!, server(0, 101).values);
    assert.deepStrictEqual(run.result, { outcome: 'success', contentFormat: TLV, clientVersion: '1.0', securityInstances: { writes: { 1: 1 } } });
    assert.equal(new Set(run.requests.map((request) => request.id)).size, run.requests.length, 'request ids are unique');
  });

  it('an unparsable Discover answer is tolerated like a refusal', () => {
    const run = drive(plan(), happyClient({ code: CoapCode.CONTENT, payload: utf8('this is not <link-format') }));
    assert.deepStrictEqual(lines(run.requests), ['GET /', 'DELETE /0', 'DELETE /1', 'PUT /0/1', 'PUT /1/0', 'POST /bs']);
    assert.equal(run.result.outcome, 'success');
    assert.equal(run.result.clientVersion, '1.0', 'no Discover answer and no pct: a 1.0 client');
  });

  it('a refused Discover after a pct names no version, and reads still go out', () => {
    const run = drive(plan({ reads: ['/1'] }), happyClient({ code: CoapCode.NOT_FOUND }), SENML_JSON);
    assert.equal(run.result.clientVersion, undefined);
    assert.ok(lines(run.requests).includes('GET /1'));
  });

  it('a 1.0 client is not sent Bootstrap-Read, which it does not know, and still finishes', () => {
    const run = drive(plan({ reads: ['/1', '/2'] }), happyClient({ code: CoapCode.METHOD_NOT_ALLOWED }));
    assert.deepStrictEqual(lines(run.requests), ['GET /', 'DELETE /0', 'DELETE /1', 'PUT /0/1', 'PUT /1/0', 'POST /bs']);
    assert.equal(run.result.outcome, 'success');
  });

  it("a request the client broke (Reset, a failed block transfer) ends with client-error naming the step", () => {
    let { state } = stepSession(initialSessionState(), { type: 'start', plan: plan() });
    const discover = state.inFlight!.requestId;
    const ended = stepSession(state, { type: 'failed', requestId: discover, reason: 'the client answered with Reset' });
    state = ended.state;
    assert.deepStrictEqual(ended.actions, [{ type: 'end', result: { outcome: 'client-error', detail: 'Bootstrap-Discover /: the client answered with Reset' } }]);
    assert.deepStrictEqual(stepSession(state, { type: 'failed', requestId: discover, reason: 'again' }).actions, []);
  });

  it('without plan.discover the session starts with the deletes', () => {
    const run = drive(plan({ discover: false }), happyClient('timeout'));
    assert.deepStrictEqual(lines(run.requests), ['DELETE /0', 'DELETE /1', 'PUT /0/1', 'PUT /1/0', 'POST /bs']);
  });

  it('LwM2M 1.1 client with pct 110: writes in SenML-JSON, version from Discover, /0 expanded around the account', () => {
    const run = drive(plan(), happyClient(discoverPayload('1.1', accountsOf(0))), SENML_JSON);
    assert.deepStrictEqual(lines(run.requests), ['GET /', 'DELETE /0/1', 'DELETE /1', 'PUT /0/1', 'PUT /1/0', 'POST /bs']);
    for (const request of run.requests.filter((candidate) => candidate.method === 'PUT')) assert.equal(request.contentFormat, SENML_JSON);
    assertWritePayload(run.requests[3]!, security(1, 101).values);
    assert.deepStrictEqual(run.result, { outcome: 'success', clientVersion: '1.1', contentFormat: SENML_JSON, securityInstances: { writes: { 1: 1 } } });
  });

  it('LwM2M 1.2 client with pct 112: writes in SenML-CBOR', () => {
    const run = drive(plan(), happyClient(discoverPayload('1.2', accountsOf(0))), SENML_CBOR);
    const writes = run.requests.filter((request) => request.method === 'PUT');
    assert.equal(writes.length, 2);
    for (const request of writes) assert.equal(request.contentFormat, SENML_CBOR);
    assertWritePayload(writes[1]!, server(0, 101).values);
    assert.deepStrictEqual(run.result, { outcome: 'success', clientVersion: '1.2', contentFormat: SENML_CBOR, securityInstances: { writes: { 1: 1 } } });
  });

  it('a pct that cannot carry an instance (text/plain) falls back to TLV; a forced plan format wins over pct', () => {
    assert.equal(drive(plan(), happyClient({ code: CoapCode.NOT_FOUND }), ContentFormat.TEXT).result.contentFormat, TLV);
    const forced = drive(plan({ contentFormat: ContentFormat.LWM2M_CBOR }), happyClient({ code: CoapCode.NOT_FOUND }), SENML_JSON);
    assert.equal(forced.result.contentFormat, ContentFormat.LWM2M_CBOR);
    assertWritePayload(forced.requests.find((request) => request.method === 'PUT')!, security(1, 101).values);
  });
});

describe('bootstrap session: content format fallback', () => {
  it('4.06 to SenML-CBOR, then TLV works and is kept for later writes', () => {
    const run = drive(
      plan(),
      (request) => (request.method === 'PUT' && request.contentFormat === SENML_CBOR ? { code: CoapCode.NOT_ACCEPTABLE } : happyClient({ code: CoapCode.NOT_FOUND })(request)),
      SENML_CBOR,
    );
    const writes = run.requests.filter((request) => request.method === 'PUT');
    assert.deepStrictEqual(writes.map((request) => [request.path, request.contentFormat]), [
      ['/0/1', SENML_CBOR],
      ['/0/1', TLV],
      ['/1/0', TLV],
    ]);
    assertWritePayload(writes[1]!, security(1, 101).values);
    assert.deepStrictEqual(run.result, { outcome: 'success', contentFormat: TLV, securityInstances: { writes: { 1: 1 } } });
  });

  it('4.15 in every format of the chain ends with client-error naming the write', () => {
    const run = drive(plan({ discover: false }), (request) =>
      request.method === 'PUT' ? { code: CoapCode.UNSUPPORTED_CONTENT_FORMAT } : happyClient('timeout')(request),
    );
    const writes = run.requests.filter((request) => request.method === 'PUT');
    assert.deepStrictEqual(writes.map((request) => request.contentFormat), [TLV, SENML_CBOR, SENML_JSON]);
    assert.equal(run.result.outcome, 'client-error');
    assert.match(run.result.detail!, /\/0\/1/);
    assert.match(run.result.detail!, /4\.15/);
    assert.equal(run.result.contentFormat, undefined, 'no format was proven');
  });

  it('a write refused with another error ends the session at once', () => {
    const run = drive(plan({ discover: false }), (request) => (request.path === '/1/0' ? { code: CoapCode.BAD_REQUEST } : happyClient('timeout')(request)));
    assert.equal(run.requests.at(-1)!.path, '/1/0');
    assert.equal(run.result.outcome, 'client-error');
    assert.match(run.result.detail!, /Bootstrap-Write \/1\/0 answered 4\.00/);
    assert.equal(run.result.contentFormat, TLV, 'the first write was taken in TLV');
  });

  it('a forced format the encoder cannot use for an instance moves on to the chain', () => {
    const run = drive(plan({ discover: false, contentFormat: ContentFormat.TEXT }), happyClient('timeout'));
    const writes = run.requests.filter((request) => request.method === 'PUT');
    assert.ok(writes.every((request) => request.contentFormat === TLV));
    assert.equal(run.result.outcome, 'success');
  });
});

describe('bootstrap session: deletes', () => {
  it('a delete answered 4.04 is tolerated', () => {
    const run = drive(plan(), (request) => (request.method === 'DELETE' ? { code: CoapCode.NOT_FOUND } : happyClient({ code: CoapCode.NOT_FOUND })(request)));
    assert.equal(run.result.outcome, 'success');
  });

  it('a delete answered 4.00 ends with client-error naming path and code', () => {
    const run = drive(plan(), (request) => (request.path === '/1' ? { code: CoapCode.BAD_REQUEST } : happyClient({ code: CoapCode.NOT_FOUND })(request)));
    assert.deepStrictEqual(lines(run.requests), ['GET /', 'DELETE /0', 'DELETE /1']);
    assert.equal(run.result.outcome, 'client-error');
    assert.match(run.result.detail!, /\/1 answered 4\.00/);
  });

  const RICH: DiscoveredObject[] = [
    { objectId: 0, instances: [{ instanceId: 0, ssid: 101 }, { instanceId: 1, uri: 'coaps://bs.example.com' }, { instanceId: 2, ssid: 102 }] },
    { objectId: 1, instances: [{ instanceId: 0, ssid: 101 }, { instanceId: 1, ssid: 102 }] },
    { objectId: 2, instances: [{ instanceId: 0 }] },
    { objectId: 3, instances: [{ instanceId: 0 }] },
    { objectId: 5, instances: [] },
    { objectId: 21, instances: [{ instanceId: 0 }, { instanceId: 1, ssid: 101 }] },
  ];
  const deletesFor = (deletes: string[], objects: DiscoveredObject[]): string[] =>
    drive(plan({ deletes, writes: [] }), happyClient(discoverPayload('1.2', objects)))
      .requests.filter((request) => request.method === 'DELETE')
      .map((request) => request.path);

  it('/ expands to the listed objects, skipping the Bootstrap-Server account, its OSCORE instance and the Device object', () => {
    assert.deepStrictEqual(deletesFor(['/'], RICH), ['/0/0', '/0/2', '/1', '/2', '/21/1']);
  });

  it('/0 and /21 expand around the account; other paths go as planned; duplicates go once', () => {
    assert.deepStrictEqual(deletesFor(['/0', '/21', '/2', '/1/1', '/0'], RICH), ['/0/0', '/0/2', '/21/1', '/2', '/1/1']);
  });

  it('a Discover that names no Bootstrap-Server account leaves / and /0 as they are', () => {
    const noAccount: DiscoveredObject[] = [{ objectId: 0, instances: [{ instanceId: 0, ssid: 101 }] }, { objectId: 1, instances: [{ instanceId: 0, ssid: 101 }] }];
    assert.deepStrictEqual(deletesFor(['/', '/0'], noAccount), ['/', '/0']);
  });

  it("an instance delete naming the client's own account or its OSCORE context is dropped", () => {
    assert.deepStrictEqual(deletesFor(['/0/1', '/21/0', '/0/2'], RICH), ['/0/2']);
  });

  it('several Security instances without ssid name no account: nothing is expanded or dropped', () => {
    const bare: DiscoveredObject[] = [{ objectId: 0, instances: [{ instanceId: 0 }, { instanceId: 1 }] }, { objectId: 1, instances: [{ instanceId: 0 }] }];
    assert.deepStrictEqual(deletesFor(['/0', '/0/1'], bare), ['/0', '/0/1']);
  });

  it('without Discover, / goes as /', () => {
    const run = drive(plan({ discover: false, deletes: ['/'] }), happyClient('timeout'));
    assert.deepStrictEqual(lines(run.requests).slice(0, 1), ['DELETE /']);
  });
});

describe('bootstrap session: instance ids', () => {
  it('a Security write on the account instance moves to the lowest free id, OSCORE and its link with it', () => {
    const bootstrapPlan = plan({
      deletes: [],
      writes: [
        security(0, 101, { '/0/0/17': '21:0' }),
        security(1, 102),
        server(0, 101),
        { path: '/21/0', values: { '/21/0/0': { opaque: '0102' }, '/21/0/1': { opaque: '0304' } } },
      ],
    });
    const objects: DiscoveredObject[] = [
      { objectId: 0, instances: [{ instanceId: 0 }, { instanceId: 3, ssid: 7 }] },
      { objectId: 21, instances: [{ instanceId: 0 }] },
    ];
    const run = drive(bootstrapPlan, happyClient(discoverPayload('1.2', objects)));
    const writes = run.requests.filter((request) => request.method === 'PUT');
    assert.deepStrictEqual(writes.map((request) => request.path), ['/0/2', '/0/1', '/1/0', '/21/1']);
    assertWritePayload(writes[0]!, security(2, 101, { '/0/2/17': '21:1' }).values);
    assertWritePayload(writes[3]!, { '/21/1/0': { opaque: '0102' }, '/21/1/1': { opaque: '0304' } });
    assert.deepStrictEqual(run.result.securityInstances, { writes: { 0: 2, 1: 1 } }, 'bootstrap-ended says where the plan\'s /0/0 went');
  });

  it('bootstrapServerWrite goes to the discovered account instance, after the other Security writes', () => {
    const bootstrapServerWrite: PlanWrite = { path: '/0/0', values: { '0': 'coaps://bs.example.com', '1': true, '2': 3, '11': 30 } };
    const bootstrapPlan = plan({ deletes: [], writes: [security(0, 101), security(1, 102), server(0, 101)], bootstrapServerWrite });
    const run = drive(bootstrapPlan, happyClient(discoverPayload('1.1', accountsOf(4))));
    const writes = run.requests.filter((request) => request.method === 'PUT');
    // /0/1 is the plan's, not the discovered server's; the account is /0/4.
    assert.deepStrictEqual(writes.map((request) => request.path), ['/0/0', '/0/1', '/0/4', '/1/0']);
    assertWritePayload(writes[2]!, { '/0/4/0': 'coaps://bs.example.com', '/0/4/1': true, '/0/4/2': 3, '/0/4/11': 30 });
    assert.deepStrictEqual(run.result.securityInstances, { writes: { 0: 0, 1: 1 }, bootstrapServer: 4 });
  });

  it('without Discover bootstrapServerWrite keeps its planned instance, still after the Security writes', () => {
    const bootstrapServerWrite: PlanWrite = { path: '/0/0', values: { '/0/0/0': 'coaps://bs.example.com', '/0/0/1': true, '/0/0/2': 3 } };
    const run = drive(plan({ discover: false, deletes: [], writes: [security(1, 101), server(0, 101)], bootstrapServerWrite }), happyClient('timeout'));
    assert.deepStrictEqual(lines(run.requests), ['PUT /0/1', 'PUT /0/0', 'PUT /1/0', 'POST /bs']);
    assert.deepStrictEqual(run.result.securityInstances, { writes: { 1: 1 }, bootstrapServer: 0 }, 'the planned ids, as sent');
  });

  // The account replacement (seeds 000, 002): the plan adds a second Bootstrap-Server account at
  // /0/2 and rewrites the original at /0/0; this client holds its account at /0/2.
  const replacementPlan = (): BootstrapPlan => {
    const account = (id: number, identity: string): PlanWrite => ({
      path: `/0/${id}`,
      values: { [`/0/${id}/0`]: 'coaps://bs.example.com', [`/0/${id}/1`]: true, [`/0/${id}/2`]: 0, [`/0/${id}/3`]: { opaque: Buffer.from(identity).toString('hex') } },
    });
    return plan({ deletes: [], writes: [security(1, 101), account(2, 'fresh'), server(0, 101)], bootstrapServerWrite: account(0, 'original') });
  };

  it('a replacement remapped by Discover: the new account and the original swap ids, and the success says so', () => {
    const run = drive(replacementPlan(), happyClient(discoverPayload('1.1', accountsOf(2))));
    const writes = run.requests.filter((request) => request.method === 'PUT');
    assert.deepStrictEqual(writes.map((request) => request.path), ['/0/1', '/0/0', '/0/2', '/1/0']);
    assertWritePayload(writes[1]!, { '/0/0/0': 'coaps://bs.example.com', '/0/0/1': true, '/0/0/2': 0, '/0/0/3': { opaque: Buffer.from('fresh').toString('hex') } });
    assertWritePayload(writes[2]!, { '/0/2/0': 'coaps://bs.example.com', '/0/2/1': true, '/0/2/2': 0, '/0/2/3': { opaque: Buffer.from('original').toString('hex') } });
    assert.deepStrictEqual(run.result.securityInstances, { writes: { 1: 1, 2: 0 }, bootstrapServer: 2 });
  });

  it('a replacement whose original Discover finds elsewhere keeps the new account where planned', () => {
    const run = drive(replacementPlan(), happyClient(discoverPayload('1.1', accountsOf(5))));
    assert.deepStrictEqual(run.result.securityInstances, { writes: { 1: 1, 2: 2 }, bootstrapServer: 5 });
  });

  it('only a success reports securityInstances: a failed session may not have written them all', () => {
    const refused = drive(replacementPlan(), (request) =>
      request.method === 'PUT' && request.path === '/0/2' ? { code: CoapCode.BAD_REQUEST } : happyClient(discoverPayload('1.1', accountsOf(2)))(request),
    );
    assert.equal(refused.result.outcome, 'client-error');
    assert.equal(refused.result.securityInstances, undefined);
    const finishRefused = drive(replacementPlan(), (request) =>
      request.purpose === 'finish' ? { code: CoapCode.NOT_ACCEPTABLE } : happyClient(discoverPayload('1.1', accountsOf(2)))(request),
    );
    assert.equal(finishRefused.result.outcome, 'finish-failed');
    assert.equal(finishRefused.result.securityInstances, undefined);
  });

  it('a plan without Security writes reports none', () => {
    const run = drive(plan({ deletes: [], writes: [server(0, 101)] }), happyClient({ code: CoapCode.NOT_FOUND }));
    assert.equal(run.result.outcome, 'success');
    assert.equal(run.result.securityInstances, undefined);
  });
});

describe('bootstrap session: reads and finish', () => {
  it('reads are recorded as the JSON view; a 4.00 read is recorded as an error and the session goes on', () => {
    const run = drive(
      plan({ reads: ['/1', '/2'] }),
      (request) => (request.path === '/2' ? { code: CoapCode.BAD_REQUEST } : happyClient(discoverPayload('1.1', accountsOf(0)))(request)),
      SENML_CBOR,
    );
    const reads = run.requests.filter((request) => request.purpose === 'read');
    assert.deepStrictEqual(reads.map((request) => [request.method, request.path, request.accept]), [
      ['GET', '/1', SENML_CBOR],
      ['GET', '/2', SENML_CBOR],
    ]);
    assert.equal(run.requests.at(-1)!.path, '/bs');
    assert.equal(run.result.outcome, 'success');
    assert.deepStrictEqual(run.result.reads, { '/1': treeToJsonView(readTree('/1')), '/2': { error: '4.00' } });
  });

  it('an undecodable read is recorded as an error', () => {
    const run = drive(plan({ discover: false, reads: ['/1'] }), (request) =>
      request.purpose === 'read' ? { code: CoapCode.CONTENT, contentFormat: TLV, payload: Uint8Array.of(0xff) } : happyClient('timeout')(request),
    );
    assert.equal(run.result.outcome, 'success');
    assert.match(String((run.result.reads!['/1'] as { error: string }).error), /^undecodable/);
  });

  it('a read too large for a device status is recorded as too large, not stored', () => {
    const huge = encodeContent(TLV, treeFromJsonView({ '/1/0/0': 101, '/1/0/7': 'U'.repeat(20_000) }, parsePath('/1')), parsePath('/1'));
    const run = drive(plan({ discover: false, reads: ['/1'] }), (request) =>
      request.purpose === 'read' ? { code: CoapCode.CONTENT, contentFormat: TLV, payload: huge } : happyClient('timeout')(request),
    );
    assert.equal(run.result.outcome, 'success');
    assert.match(String((run.result.reads!['/1'] as { error: string }).error), /^too large to record/);
  });

  it('Finish 4.06 ends finish-failed with the diagnostic, control characters replaced, cut to 1024', () => {
    const finishWith = (payload: Uint8Array): SessionResult =>
      drive(plan({ discover: false }), (request) => (request.purpose === 'finish' ? { code: CoapCode.NOT_ACCEPTABLE, payload } : happyClient('timeout')(request))).result;
    assert.deepStrictEqual(finishWith(utf8('no Server account\r\nfor 101\u0000')), { outcome: 'finish-failed', detail: 'no Server account  for 101 ', contentFormat: TLV });
    const long = finishWith(utf8('x'.repeat(5000)));
    assert.equal(long.detail!.length, 1024);
    assert.match(finishWith(new Uint8Array()).detail!, /4\.06/);
  });

  it('Finish answered with something else is a client-error', () => {
    const run = drive(plan({ discover: false }), (request) => (request.purpose === 'finish' ? { code: CoapCode.INTERNAL_SERVER_ERROR } : happyClient('timeout')(request)));
    assert.equal(run.result.outcome, 'client-error');
    assert.match(run.result.detail!, /Bootstrap-Finish \/bs answered 5\.00/);
  });

  it('a plan whose values make no tree ends before anything is sent', () => {
    const run = drive(plan({ writes: [{ path: '/0/1', values: { '/0/1/1': 'not a boolean' } }] }), happyClient('timeout'));
    assert.deepStrictEqual(run.requests, []);
    assert.equal(run.result.outcome, 'client-error');
    assert.match(run.result.detail!, /\/0\/1/);
  });
});

describe('bootstrap session: timeouts, cancel and stray events', () => {
  it('a timeout ends the session naming the step', () => {
    const run = drive(plan(), (request) => (request.path === '/1/0' ? 'timeout' : happyClient({ code: CoapCode.NOT_FOUND })(request)));
    assert.equal(run.result.outcome, 'timeout');
    assert.match(run.result.detail!, /Bootstrap-Write \/1\/0/);
    assert.equal(run.result.contentFormat, TLV);
  });

  it('a timeout of the Discover is a timeout too, not a 1.0 client', () => {
    const run = drive(plan(), happyClient('timeout'));
    assert.deepStrictEqual(run.result, { outcome: 'timeout', detail: 'no answer to Bootstrap-Discover /' });
  });

  it('cancel ends the session with the reason; every later event yields nothing', () => {
    let { state, actions } = stepSession(initialSessionState(), { type: 'start', plan: plan() });
    const discover = actions[0];
    assert.ok(discover?.type === 'send');
    ({ state, actions } = stepSession(state, { type: 'cancel', reason: 'superseded by a newer Bootstrap-Request' }));
    assert.deepStrictEqual(actions, [{ type: 'end', result: { outcome: 'cancelled', detail: 'superseded by a newer Bootstrap-Request' } }]);
    const late: SessionEvent[] = [
      { type: 'response', requestId: discover.request.id, code: CoapCode.CONTENT, payload: new Uint8Array() },
      { type: 'timeout', requestId: discover.request.id },
      { type: 'cancel', reason: 'again' },
      { type: 'start', plan: plan() },
    ];
    for (const event of late) {
      const next = stepSession(state, event);
      assert.deepStrictEqual(next.actions, []);
      assert.equal(next.state.phase, 'ended');
    }
  });

  it('responses and timeouts for an unknown or old request id are ignored', () => {
    let { state, actions } = stepSession(initialSessionState(), { type: 'start', plan: plan({ discover: false }) });
    const first = actions[0];
    assert.ok(first?.type === 'send');
    ({ state, actions } = stepSession(state, { type: 'response', requestId: first.request.id, code: CoapCode.DELETED, payload: new Uint8Array() }));
    const second = actions[0];
    assert.ok(second?.type === 'send' && second.request.id !== first.request.id);
    for (const event of [
      { type: 'response', requestId: first.request.id, code: CoapCode.BAD_REQUEST, payload: new Uint8Array() },
      { type: 'response', requestId: 999, code: CoapCode.BAD_REQUEST, payload: new Uint8Array() },
      { type: 'timeout', requestId: first.request.id },
      { type: 'start', plan: plan() },
    ] satisfies SessionEvent[]) {
      const next = stepSession(state, event);
      assert.deepStrictEqual(next.actions, []);
      assert.deepStrictEqual(next.state, state);
    }
    ({ actions } = stepSession(state, { type: 'response', requestId: second.request.id, code: CoapCode.DELETED, payload: new Uint8Array() }));
    assert.ok(actions[0]?.type === 'send' && actions[0].request.path === '/0/1');
  });

  it('events before start: only cancel ends the session', () => {
    const state = initialSessionState();
    assert.deepStrictEqual(stepSession(state, { type: 'timeout', requestId: 1 }).actions, []);
    assert.deepStrictEqual(stepSession(state, { type: 'response', requestId: 1, code: CoapCode.CHANGED, payload: new Uint8Array() }).actions, []);
    assert.equal(stepSession(state, { type: 'cancel', reason: 'gone' }).actions[0]?.type, 'end');
  });
});

describe('bootstrap session: termination property', () => {
  const CODES = [
    CoapCode.CREATED, CoapCode.DELETED, CoapCode.CHANGED, CoapCode.CONTENT, CoapCode.BAD_REQUEST, CoapCode.NOT_FOUND,
    CoapCode.METHOD_NOT_ALLOWED, CoapCode.NOT_ACCEPTABLE, CoapCode.UNSUPPORTED_CONTENT_FORMAT, CoapCode.INTERNAL_SERVER_ERROR,
  ];
  const reply = fc.oneof(
    { weight: 6, arbitrary: fc.record({ code: fc.constantFrom(...CODES), payload: fc.uint8Array({ maxLength: 8 }) }) },
    { weight: 1, arbitrary: fc.record({ code: fc.integer({ min: 0, max: 255 }), payload: fc.uint8Array({ maxLength: 8 }) }) },
    { weight: 1, arbitrary: fc.constant<'timeout'>('timeout') },
  );
  const planArbitrary = fc.record({
    discover: fc.boolean(),
    deletes: fc.subarray(['/', '/0', '/1', '/21', '/2/0']),
    writes: fc.subarray([security(0, 101), security(1, 102), server(0, 101), server(1, 102)]),
    reads: fc.subarray<'/1' | '/2'>(['/1', '/2']),
    withAccount: fc.boolean(),
  });

  it('random answers always end within a bounded number of requests, with exactly one end', () => {
    fc.assert(
      fc.property(planArbitrary, fc.array(reply, { minLength: 60, maxLength: 60 }), fc.constantFrom(undefined, 0, 110, 112, 11542, 11544), fc.boolean(), (p, replies, pct, validDiscover) => {
        const bootstrapPlan: BootstrapPlan = {
          v: 1,
          discover: p.discover,
          deletes: p.deletes,
          writes: p.writes,
          reads: p.reads,
          ...(p.withAccount ? { bootstrapServerWrite: { path: '/0/5', values: { '/0/5/0': 'coaps://bs', '/0/5/1': true } } } : {}),
        };
        // Discover lists at most 5 deletable instances; each write has at most 3 formats.
        const bound = 1 + p.deletes.length * 5 + (p.writes.length + 1) * 3 + p.reads.length + 1;
        let { state, actions } = stepSession(initialSessionState(), { type: 'start', plan: bootstrapPlan, ...(pct === undefined ? {} : { preferredContentFormat: pct }) });
        let ends = 0;
        let sends = 0;
        for (let index = 0; ; index += 1) {
          assert.ok(actions.length === 1, 'a running session always has one next action');
          const action = actions[0]!;
          if (action.type === 'end') {
            ends += 1;
            break;
          }
          sends += 1;
          assert.ok(sends <= bound, `more than ${bound} requests`);
          let answer: Reply = replies[index % replies.length]!;
          if (action.request.purpose === 'discover' && validDiscover && answer !== 'timeout') {
            answer = discoverPayload('1.1', accountsOf(0, [{ objectId: 21, instances: [{ instanceId: 0 }, { instanceId: 1, ssid: 101 }] }]));
          }
          const event: SessionEvent =
            answer === 'timeout'
              ? { type: 'timeout', requestId: action.request.id }
              : { type: 'response', requestId: action.request.id, code: answer.code, payload: answer.payload ?? new Uint8Array() };
          ({ state, actions } = stepSession(state, event));
        }
        assert.equal(ends, 1);
        assert.deepStrictEqual(stepSession(state, { type: 'cancel', reason: 'late' }).actions, []);
      }),
      { numRuns: 300 },
    );
  });
});
