/**
 * DESIGN.md §9, issue #15 points 2 and 3: `resource-servers` in Auth0's
 * shape. The built-in Management API is listed as `is_system` and is
 * read-only; the built-in MFA API is not listed; neither identifier can be
 * taken. An API created here takes tokens from the next request; one the
 * file declares is read-only (409 managed_by_config); deleting one removes
 * its client grants.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { API } from '../helpers/fixtures.js';
import type { HttpsTestServer } from '../helpers/tls.js';
import { tlsUnavailableReason } from '../helpers/tls.js';
import { assertManagementError, managementToken, mgmt, startManagementServer } from './helpers.js';

const ORDERS = 'https://orders.acme.test/';
const INITECH_MGMT = { client_id: 'initech-mgmt', client_secret: 'initech-mgmt-secret-01234567' };

describe('Management API resource servers (DESIGN.md §9)', { skip: tlsUnavailableReason() }, () => {
  let server: HttpsTestServer;
  let api: ReturnType<typeof mgmt>;
  let machine: { client_id: string; client_secret: string };

  before(async () => {
    server = await startManagementServer({
      tenant: { management_api: { rate_limit: { requests: 10_000, per_seconds: 60 } } },
      // A tenant that signs with RS256 only: an API created with another algorithm needs a key made for it.
      otherTenants: (url) => [
        {
          name: 'initech',
          connections: [{ name: 'db', type: 'database' }],
          applications: [{ ...INITECH_MGMT, token_endpoint_auth_method: 'client_secret_post', grant_types: ['client_credentials'] }],
          client_grants: [
            {
              client_id: INITECH_MGMT.client_id,
              audience: `${url}/initech/api/v2/`,
              scope: ['create:resource_servers', 'create:client_grants'],
            },
          ],
        },
      ],
    });
    api = mgmt(server, await managementToken(server));
    const created = await api.post('/clients', { name: 'Orders worker', app_type: 'non_interactive' });
    assert.equal(created.status, 201, created.text);
    machine = { client_id: String(created.body.client_id), client_secret: String(created.body.client_secret) };
  });
  after(() => server?.close());

  const token = (audience: string) =>
    server.postForm(server.at('/oauth/token'), { grant_type: 'client_credentials', ...machine, audience });

  it('lists the built-in Management API first (is_system, its scopes), then the file’s APIs; never the MFA API', async () => {
    const listed = await api.get('/resource-servers?include_totals=true');
    assert.equal(listed.status, 200, listed.text);
    const servers = listed.body.resource_servers as Array<Record<string, unknown>>;
    assert.equal(listed.body.total, servers.length);
    const [first] = servers;
    assert.equal(first?.identifier, `${server.issuer()}api/v2/`);
    assert.equal(first?.is_system, true);
    assert.ok(((first?.scopes ?? []) as Array<{ value: string }>).some((s) => s.value === 'read:users'));
    const fileApi = servers.find((s) => s.identifier === API);
    assert.ok(fileApi, listed.text);
    assert.equal(fileApi.is_system, false);
    assert.deepEqual(fileApi.scopes, [{ value: 'read:sample' }, { value: 'write:sample' }, { value: 'edit' }]);
    assert.ok(!servers.some((s) => String(s.identifier).endsWith('/mfa/')), 'the MFA API is not listed');
    const filtered = await api.get(`/resource-servers?identifiers=${encodeURIComponent(API)}`);
    assert.deepEqual(
      (filtered.body as unknown as Array<{ identifier: string }>).map((s) => s.identifier),
      [API],
    );
  });

  it('POST an API: 201 in Auth0’s shape; tokens for it at once through a client grant; GET by id and by identifier', async () => {
    const created = await api.post('/resource-servers', {
      name: 'Orders',
      identifier: ORDERS,
      scopes: [{ value: 'read:orders', description: 'Read orders' }, { value: 'write:orders' }],
      signing_alg: 'ES256',
      token_lifetime: 600,
      skip_consent_for_verifiable_first_party_clients: true,
    });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(
      { ...created.body, id: undefined },
      {
        id: undefined,
        name: 'Orders',
        identifier: ORDERS,
        scopes: [{ value: 'read:orders', description: 'Read orders' }, { value: 'write:orders' }],
        signing_alg: 'ES256',
        token_lifetime: 600,
        allow_offline_access: false,
        skip_consent_for_verifiable_first_party_clients: true,
        is_system: false,
      },
    );
    const id = String(created.body.id);
    assert.equal((await api.get(`/resource-servers/${id}`)).body.identifier, ORDERS);
    assert.equal((await api.get(`/resource-servers/${encodeURIComponent(ORDERS)}`)).body.id, id);

    assert.equal(
      (await api.post('/client-grants', { client_id: machine.client_id, audience: ORDERS, scope: ['read:orders'] })).status,
      201,
    );
    const issued = await token(ORDERS);
    assert.equal(issued.status, 200, issued.text);
    const accessToken = String(issued.body.access_token);
    assert.equal(decodeJwt(accessToken).aud, ORDERS);
    assert.equal(decodeJwt(accessToken).scope, 'read:orders');
    assert.equal(decodeProtectedHeader(accessToken).alg, 'ES256');
    assert.equal(issued.body.expires_in, 600);
  });

  it('an API signing with an algorithm the tenant had no key for gets one at once: its tokens verify against the JWKS', async () => {
    const initech = mgmt(server, await managementToken(server, INITECH_MGMT, 'initech'), 'initech');
    const before = await server.get(server.at('/.well-known/jwks.json', 'initech'));
    assert.ok(!(before.body.keys as Array<{ alg: string }>).some((k) => k.alg === 'EdDSA'), before.text);
    const created = await initech.post('/resource-servers', { identifier: 'https://edge.initech.test/', signing_alg: 'EdDSA' });
    assert.equal(created.status, 201, created.text);
    const granted = await initech.post('/client-grants', {
      client_id: INITECH_MGMT.client_id,
      audience: 'https://edge.initech.test/',
      scope: [],
    });
    assert.equal(granted.status, 201, granted.text);
    const issued = await server.postForm(server.at('/oauth/token', 'initech'), {
      grant_type: 'client_credentials',
      ...INITECH_MGMT,
      audience: 'https://edge.initech.test/',
    });
    assert.equal(issued.status, 200, issued.text);
    const accessToken = String(issued.body.access_token);
    const jwks = createLocalJWKSet((await server.get(server.at('/.well-known/jwks.json', 'initech'))).body as unknown as JSONWebKeySet);
    const verified = await jwtVerify(accessToken, jwks, { audience: 'https://edge.initech.test/' });
    assert.equal(verified.protectedHeader.alg, 'EdDSA');

    // Another tenant's API is not acme's: by id or by identifier, 404.
    for (const id of [String(created.body.id), encodeURIComponent('https://edge.initech.test/')]) {
      assertManagementError(await api.get(`/resource-servers/${id}`), 404, 'inexistent_resource_server');
      assertManagementError(await api.patch(`/resource-servers/${id}`, { name: 'mine' }), 404, 'inexistent_resource_server');
      assertManagementError(await api.del(`/resource-servers/${id}`), 404, 'inexistent_resource_server');
    }
  });

  it('PATCH changes only the fields sent, never the identifier; DELETE removes the API and its client grants', async () => {
    const created = await api.post('/resource-servers', { identifier: 'https://billing.acme.test/', scopes: [{ value: 'read:bills' }] });
    assert.equal(created.status, 201, created.text);
    const id = String(created.body.id);
    assert.equal(created.body.name, 'https://billing.acme.test/', 'no name: the identifier, as Auth0 does');
    const patched = await api.patch(`/resource-servers/${id}`, {
      token_lifetime: 120,
      scopes: [{ value: 'read:bills' }, { value: 'pay' }],
    });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.token_lifetime, 120);
    assert.deepEqual(patched.body.scopes, [{ value: 'read:bills' }, { value: 'pay' }]);
    assertManagementError(await api.patch(`/resource-servers/${id}`, { identifier: 'https://other.test/' }), 400, 'invalid_body');

    assert.equal(
      (await api.post('/client-grants', { client_id: machine.client_id, audience: 'https://billing.acme.test/', scope: ['pay'] })).status,
      201,
    );
    assert.equal((await token('https://billing.acme.test/')).status, 200);
    assert.equal((await api.del(`/resource-servers/${id}`)).status, 204);
    assertManagementError(await api.get(`/resource-servers/${id}`), 404, 'inexistent_resource_server');
    assert.deepEqual((await api.get(`/client-grants?audience=${encodeURIComponent('https://billing.acme.test/')}`)).body, []);
    assert.notEqual((await token('https://billing.acme.test/')).status, 200, 'no tokens for a deleted API');
  });

  it('the built-in Management API is read-only (403 operation_not_supported); a file-declared API is 409 managed_by_config', async () => {
    const system = await api.get(`/resource-servers/${encodeURIComponent(`${server.issuer()}api/v2/`)}`);
    assert.equal(system.status, 200, system.text);
    assertManagementError(await api.patch(`/resource-servers/${system.body.id}`, { token_lifetime: 60 }), 403, 'operation_not_supported');
    assertManagementError(await api.del(`/resource-servers/${system.body.id}`), 403, 'operation_not_supported');
    const fileApi = await api.get(`/resource-servers/${encodeURIComponent(API)}`);
    assertManagementError(await api.patch(`/resource-servers/${fileApi.body.id}`, { token_lifetime: 60 }), 409, 'managed_by_config');
    assertManagementError(await api.del(`/resource-servers/${encodeURIComponent(API)}`), 409, 'managed_by_config');
  });

  it('identifiers taken or reserved by a built-in API: 409 resource_server_conflict; bad fields: 400 invalid_body', async () => {
    for (const identifier of [API, `${server.issuer()}api/v2/`, `${server.issuer()}mfa/`]) {
      assertManagementError(await api.post('/resource-servers', { identifier }), 409, 'resource_server_conflict');
    }
    assertManagementError(await api.post('/resource-servers', { identifier: 'https://x.test/', token_lifetime: 0 }), 400, 'invalid_body');
    assertManagementError(
      await api.post('/resource-servers', { identifier: 'https://x.test/', signing_alg: 'HS256' }),
      400,
      'invalid_body',
    );
    assertManagementError(
      await api.post('/resource-servers', { identifier: 'https://x.test/', scopes: [{ value: 'a' }, { value: 'a' }] }),
      400,
      'invalid_body',
    );
    assertManagementError(
      await api.post('/resource-servers', { identifier: 'https://x.test/', scopes: [{ value: 'has space' }] }),
      400,
      'invalid_body',
    );
    assertManagementError(
      await api.post('/resource-servers', { identifier: 'https://x.test/', enforce_policies: true }),
      400,
      'invalid_body',
    );
    assertManagementError(await api.get('/resource-servers/no-such-api'), 404, 'inexistent_resource_server');
  });
});
