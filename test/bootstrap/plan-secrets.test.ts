import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planCarriesSecrets } from '../../shared/bootstrap/plan-secrets.ts';
import type { BootstrapPlan } from '../../shared/bootstrap/plan.ts';

const base: BootstrapPlan = { v: 1, discover: true, deletes: [], reads: [], writes: [] };
const nosecSecurity = { '/0/1/0': 'coap://a.example', '/0/1/2': 3, '/0/1/3': { opaque: '' }, '/0/1/5': { opaque: '' }, '/0/1/10': 101 };

describe('planCarriesSecrets', () => {
  it('is false for NoSec accounts, whose key resources are empty', () => {
    assert.equal(planCarriesSecrets({ ...base, writes: [{ path: '/0/1', values: nosecSecurity }, { path: '/1/0', values: { '/1/0/0': 101 } }] }), false);
  });

  it('is true for a PSK secret key, absolute or relative', () => {
    assert.equal(planCarriesSecrets({ ...base, writes: [{ path: '/0/1', values: { ...nosecSecurity, '/0/1/5': { opaque: '00112233445566778899aabbccddeeff' } } }] }), true);
    assert.equal(planCarriesSecrets({ ...base, writes: [{ path: '/0/2', values: { '5': { opaque: '0011' } } }] }), true);
  });

  it('is true for an OSCORE master secret, and for keys in the Bootstrap-Server account rewrite', () => {
    assert.equal(planCarriesSecrets({ ...base, writes: [{ path: '/21/0', values: { '/21/0/0': { opaque: 'aabb' } } }] }), true);
    assert.equal(planCarriesSecrets({ ...base, bootstrapServerWrite: { path: '/0/0', values: { '/0/0/5': { opaque: 'aa' } } } }), true);
  });

  it('does not count identities or public keys as secrets', () => {
    assert.equal(planCarriesSecrets({ ...base, writes: [{ path: '/0/1', values: { '/0/1/3': { opaque: '6964' }, '/0/1/4': { opaque: '3059' } } }] }), false);
  });
});
