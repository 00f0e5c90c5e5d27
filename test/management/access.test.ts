/**
 * DESIGN.md §9, issue #15 point 2: who may call the Management API, and how
 * every refusal looks (Auth0's `{statusCode, error, message, errorCode}`).
 * Tokens come from client_credentials with a client grant for
 * `{issuer}api/v2/`; user tokens only from an administrator's browser sign-in
 * (test/management/admin-sign-in.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { decodeJwt } from 'jose';
import { MANAGEMENT_API_SCOPES } from '../../src/domain/management-api.js';
import { ALICE, API, WEB } from '../helpers/fixtures.js';
import type { HttpsTestServer } from '../helpers/tls.js';
import { tlsUnavailableReason } from '../helpers/tls.js';
import { assertManagementError, MGMT_CLIENT, managementToken, mgmt, startManagementServer, GLOBEX_MGMT, globexTenant } from './helpers.js';

const NO_GRANT = { client_id: 'acme-no-grant', client_secret: 'acme-no-grant-secret-0123456' };

describe('Management API access (DESIGN.md §9)', { skip: tlsUnavailableReason() }, () => {
  let server: HttpsTestServer;
  let token: string;

  before(async () => {
    server = await startManagementServer({
      tenant: {
        administrators: [ALICE.username],
        management_api: { rate_limit: { requests: 1000, per_seconds: 60 } },
        applications: [
          {
            client_id: NO_GRANT.client_id,
            client_secret: NO_GRANT.client_secret,
            token_endpoint_auth_method: 'client_secret_post',
            grant_types: ['client_credentials'],
          },
        ],
        client_grants: [],
      },
      otherTenants: (url) => [globexTenant(url, ['read:connections'])],
    });
    token = await managementToken(server);
  });
  after(() => server?.close());

  describe('tokens for {issuer}api/v2/', () => {
    it('client_credentials without scope gets every scope of the client grant, with no entry in apis', async () => {
      const claims = decodeJwt(token);
      assert.equal(claims.aud, `${server.issuer()}api/v2/`);
      assert.deepEqual(String(claims.scope).split(' ').sort(), [...MANAGEMENT_API_SCOPES].sort());
    });

    it('a scope asked narrows the token', async () => {
      const narrow = await managementToken(server, MGMT_CLIENT, 'acme', 'read:users');
      assert.equal(decodeJwt(narrow).scope, 'read:users');
    });

    it('an application without a client grant for the API gets 403 access_denied', async () => {
      const response = await server.postForm(server.at('/oauth/token'), {
        grant_type: 'client_credentials',
        ...NO_GRANT,
        audience: `${server.issuer()}api/v2/`,
      });
      assert.equal(response.status, 403);
      assert.equal(response.body.error, 'access_denied');
    });

    it('the password grant never gets one, and says so before checking the password', async () => {
      for (const password of [ALICE.password, 'wrong password']) {
        const response = await server.postForm(server.at('/oauth/token'), {
          grant_type: 'password',
          ...WEB,
          username: ALICE.username,
          password,
          audience: `${server.issuer()}api/v2/`,
        });
        assert.equal(response.status, 403, response.text);
        assert.equal(response.body.error, 'access_denied');
        assert.match(String(response.body.error_description), /browser sign-in/);
      }
    });
  });

  describe('refusals', () => {
    it('no token: 401 missing_authentication', async () => {
      assertManagementError(await mgmt(server, undefined).get('/connections'), 401, 'missing_authentication');
    });

    it('a token that is not one of ours: 401 invalid_token', async () => {
      assertManagementError(await mgmt(server, 'not-a-jwt').get('/connections'), 401, 'invalid_token');
    });

    it('a token for another API of the tenant: 401 invalid_token (bad audience)', async () => {
      const other = await server.postForm(server.at('/oauth/token'), { grant_type: 'password', ...WEB, ...ALICE, audience: API });
      assert.equal(other.status, 200, other.text);
      const response = await mgmt(server, other.body.access_token as string).get('/connections');
      assertManagementError(response, 401, 'invalid_token');
      assert.match(String(response.body.message), /Bad audience/);
    });

    it("another tenant's Management API token: 401 at this tenant", async () => {
      const globex = await managementToken(server, GLOBEX_MGMT, 'globex');
      assert.equal((await mgmt(server, globex, 'globex').get('/connections')).status, 200);
      assertManagementError(await mgmt(server, globex).get('/connections'), 401, 'invalid_token');
    });

    it('a token without the scope: 403 insufficient_scope naming the scope', async () => {
      const narrow = await managementToken(server, MGMT_CLIENT, 'acme', 'read:users');
      const response = await mgmt(server, narrow).get('/connections');
      assertManagementError(response, 403, 'insufficient_scope');
      assert.match(String(response.body.message), /read:connections/);
    });

    it('an unknown path below the base: 404 in the same shape', async () => {
      assertManagementError(await mgmt(server, token).get('/no-such-thing'), 404, 'not_found');
    });

    it('a page larger than 100: 400 invalid_query_string', async () => {
      assertManagementError(await mgmt(server, token).get('/connections?per_page=10000'), 400, 'invalid_query_string');
    });
  });

  describe('connections (read)', () => {
    it('lists them in Auth0 shape, with the totals envelope when asked', async () => {
      const bare = await mgmt(server, token).get('/connections');
      assert.equal(bare.status, 200);
      const list = bare.body as unknown as Array<Record<string, unknown>>;
      assert.deepEqual(
        list.map((c) => [c.name, c.strategy]),
        [
          ['Username-Password-Authentication', 'auth0'],
          ['employees', 'auth0'],
        ],
      );
      const paged = await mgmt(server, token).get('/connections?include_totals=true&per_page=1&page=1&unknown_param=x');
      assert.deepEqual({ ...paged.body, connections: undefined }, { start: 1, limit: 1, length: 1, total: 2, connections: undefined });
      assert.equal((paged.body.connections as Array<{ name: string }>)[0]?.name, 'employees');
      const one = await mgmt(server, token).get(`/connections/${encodeURIComponent(String(list[0]?.id))}`);
      assert.equal(one.body.name, 'Username-Password-Authentication');
      assertManagementError(await mgmt(server, token).get('/connections/con_nothing'), 404, 'inexistent_connection');
    });
  });

  describe('rate limit per caller', () => {
    it('answers 429 too_many_requests with Retry-After once the budget is spent', async () => {
      const limited = await startManagementServer({ tenant: { management_api: { rate_limit: { requests: 2, per_seconds: 3600 } } } });
      try {
        const limitedToken = await managementToken(limited);
        assert.equal((await mgmt(limited, limitedToken).get('/connections')).status, 200);
        assert.equal((await mgmt(limited, limitedToken).get('/connections')).status, 200);
        const refused = await mgmt(limited, limitedToken).get('/connections');
        assertManagementError(refused, 429, 'too_many_requests');
        assert.ok(Number(refused.headers.get('retry-after')) > 0);
      } finally {
        await limited.close();
      }
    });
  });

  describe('OpenAPI 3.1 document', () => {
    it('is served at /T/api/v2/openapi.json and is a valid OpenAPI 3.1 document', async () => {
      const response = await server.get(`${server.issuer()}api/v2/openapi.json`);
      assert.equal(response.status, 200);
      assert.equal(response.body.openapi, '3.1.0');
      const result = await new Validator().validate(response.body as Parameters<Validator['validate']>[0]);
      assert.equal(result.valid, true, JSON.stringify(result.errors));
      assert.ok((response.body.paths as Record<string, unknown>)['/connections']);
    });
  });
});
