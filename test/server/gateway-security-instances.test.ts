import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BootstrapGateway } from '../../server/gateway/bootstrap-gateway.ts';
import type { BackendChannel } from '../../server/gateway/backend-channel.ts';
import { CONTRACT_VERSION, uplinkSchema, type BootstrapEnded, type Downlink, type Uplink } from '../../shared/bootstrap/contract.ts';
import type { BootstrapPlan, PlanWrite } from '../../shared/bootstrap/plan.ts';
import { SimulatedClient } from '../../simulator/client.ts';
import { eventually } from '../e2e/fixtures.ts';

const BS_URI = 'coap://bs.example:5683';

/** A Security instance as the plan writes it; `bootstrap` marks a Bootstrap-Server account. */
function security(id: number, bootstrap: boolean, uri: string, extra: PlanWrite['values'] = {}): PlanWrite {
  return { path: `/0/${id}`, values: { [`/0/${id}/0`]: uri, [`/0/${id}/1`]: bootstrap, [`/0/${id}/2`]: 3, ...extra } };
}

/**
 * The shape of an account-replacement plan: a LwM2M Server at /0/1, the new Bootstrap-Server
 * account at /0/2, and the original account rewritten at /0/0, where the profile expects it.
 */
const PLAN: BootstrapPlan = {
  v: 1,
  discover: true,
  deletes: ['/0', '/1'],
  writes: [
    security(1, false, 'coap://127.0.0.1:5783', { '/0/1/10': 101 }),
    security(2, true, BS_URI, { '/0/2/12': 0 }),
    { path: '/1/0', values: { '/1/0/0': 101, '/1/0/1': 86400, '/1/0/7': 'U' } },
  ],
  bootstrapServerWrite: security(0, true, BS_URI, { '/0/0/12': 3600 }),
  reads: [],
};

// The real gateway and a simulated client over UDP: the gateway's `bootstrap-ended` tells the
// backend where Bootstrap-Discover moved the plan's Security instances.
describe('gateway: bootstrap-ended carries the Security instances as written', () => {
  const uplinks: Uplink[] = [];
  let gateway: BootstrapGateway;
  let port: number;

  before(async () => {
    let sessions = 0;
    const backend: BackendChannel = {
      async exchange(uplink): Promise<Downlink> {
        // As on the wire: the message must pass the contract.
        uplinks.push(uplinkSchema.parse(JSON.parse(JSON.stringify(uplink))));
        if (uplink.type === 'bootstrap-requested') {
          return { v: CONTRACT_VERSION, type: 'bootstrap-planned', requestId: uplink.requestId, sessionId: `s-${++sessions}`, endpoint: uplink.endpoint, plan: PLAN };
        }
        return { v: CONTRACT_VERSION, type: 'bootstrap-recorded', sessionId: uplink.sessionId, endpoint: uplink.endpoint, stored: true };
      },
    };
    gateway = await BootstrapGateway.start({ gatewayId: 'gw-test', backend, coap: { port: 0, host4: '127.0.0.1', host6: false }, requestTimeoutMs: 2000 });
    port = gateway.coap.address('IPv4')!.port;
  });
  after(() => gateway.close());

  const ended = (endpoint: string): Promise<BootstrapEnded> =>
    eventually(async () => uplinks.find((uplink): uplink is BootstrapEnded => uplink.type === 'bootstrap-ended' && uplink.endpoint === endpoint));

  const bootstrap = async (endpoint: string, accountInstance: number) => {
    const client = new SimulatedClient({
      endpoint,
      version: '1.1',
      bootstrapServer: { host: '127.0.0.1', port },
      initialBootstrapAccount: { instanceId: accountInstance, uri: BS_URI },
      useBootstrapPack: false,
      register: false,
    });
    try {
      const result = await client.run();
      assert.equal(result.ok, true, result.error);
      return result;
    } finally {
      await client.close();
    }
  };

  it('a client whose account is on the new account\'s planned id: the two swap, and the success says so', async () => {
    const result = await bootstrap('swapped', 2);
    const accounts = result.security.filter((instance) => instance.bootstrapServer).map((instance) => instance.instanceId);
    assert.deepEqual(accounts, [0, 2], 'the new account went to /0/0, the original was rewritten at /0/2');
    const message = await ended('swapped');
    assert.equal(message.outcome, 'success');
    assert.deepEqual(message.securityInstances, { writes: { 1: 1, 2: 0 }, bootstrapServer: 2 });
  });

  it('a client whose account is where the plan expects it: the planned ids', async () => {
    await bootstrap('in-place', 0);
    assert.deepEqual((await ended('in-place')).securityInstances, { writes: { 1: 1, 2: 2 }, bootstrapServer: 0 });
  });
});
