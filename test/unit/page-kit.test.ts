/**
 * The hosted pages under a public_url with a path (a proxy serving Latchkey
 * at https://id.example/auth): the session cookie's path and the assets'
 * addresses follow the issuer, not the path the proxy forwards.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Catalog } from '../../src/domain/tenant.js';
import { cookieOptions, frame } from '../../src/http/pages/page-kit.js';

const catalogAt = (publicUrl: string) =>
  new Catalog(publicUrl, {
    tenants: [{ id: 't1', name: 'acme', settings: { id_token_signing_alg: 'RS256', id_token_lifetime: 60 } }],
    connections: [],
    apis: [],
    applications: [],
    clientGrants: [],
  }).tenant('acme') ?? assert.fail('no tenant');

describe('page kit: cookies and assets follow the issuer (DESIGN.md §7)', () => {
  it('at the root: cookie path /acme/, assets at /assets/, Secure only on https', () => {
    const tenant = catalogAt('http://127.0.0.1:3000');
    assert.deepEqual(cookieOptions(tenant), { path: '/acme/', httpOnly: true, sameSite: 'lax', secure: false });
    assert.equal(frame(tenant, 'x').assetBase, 'http://127.0.0.1:3000/assets/');
  });

  it('below a path: cookie path /auth/acme/, assets at /auth/assets/', () => {
    const tenant = catalogAt('https://id.example/auth');
    assert.deepEqual(cookieOptions(tenant), { path: '/auth/acme/', httpOnly: true, sameSite: 'lax', secure: true });
    assert.equal(frame(tenant, 'x').assetBase, 'https://id.example/auth/assets/');
  });
});
