/**
 * RFC 6749 §4.4 Client Credentials Grant, issuing RFC 9068 JWT access tokens.
 *
 * RFC 6749 §4.4: "The client can request an access token using only its
 * client credentials […] when the client is requesting access to the
 * protected resources under its control". §4.4.2: "grant_type REQUIRED.
 * Value MUST be set to "client_credentials". scope OPTIONAL." … "The
 * authorization server MUST authenticate the client." §4.4.3: "If the access
 * token request is valid and authorized, the authorization server issues an
 * access token as described in Section 5.1. A refresh token SHOULD NOT be
 * included."
 * §3.3: "The authorization server MAY fully or partially ignore the scope
 * requested by the client […]. If the issued access token scope is different
 * from the one requested by the client, the authorization server MUST
 * include the "scope" response parameter". "If the client omits the scope
 * parameter when requesting authorization, the authorization server MUST
 * either process the request using a pre-defined default value or fail".
 * RFC 8707 §2: "invalid_target: The requested resource is invalid, missing,
 * unknown, or malformed."
 * RFC 9068 §2.1: "Access token JWTs MUST include "at+jwt" in the "typ"
 * header parameter". §2.2: "iss REQUIRED, exp REQUIRED, aud REQUIRED, sub
 * REQUIRED […] In cases of access tokens obtained through grants where no
 * resource owner is involved, such as the client credentials grant, the value
 * of "sub" SHOULD correspond to an identifier the authorization server uses
 * to indicate the client application. client_id REQUIRED, iat REQUIRED, jti
 * REQUIRED". §4: resource servers "MUST validate the signature of all
 * incoming JWT access tokens […] using the keys published by the issuer".
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWK, type JWTPayload } from 'jose';
import { ALICE, API, API_EDDSA, API_ES256, RESOURCE_SERVER, WEB, acmeFixture, clientGrantsForEveryApi } from '../helpers/fixtures.js';
import { decodeJwt, get, postForm } from '../helpers/http.js';
import { assertOAuthError, assertTokenResponse, epoch } from '../helpers/oauth-assertions.js';
import { startTestServer, type TenantInput, type TestServer } from '../helpers/server.js';

/** A machine-to-machine application of acme with its own default_audience. */
const M2M = { client_id: 'acme-m2m', client_secret: 'acme-m2m-secret-0123456789' };

/** A second tenant whose tenant-level default_audience is set. */
const GLOBEX_API = 'https://api.globex.test';
const GLOBEX_OTHER_API = 'https://other.globex.test';
const GLOBEX_M2M = { client_id: 'globex-m2m', client_secret: 'globex-m2m-secret-0123456' };
const GLOBEX_OWN_DEFAULT = { client_id: 'globex-own-default', client_secret: 'globex-own-default-secret-0' };

const API_SCOPES = ['edit', 'read:sample', 'write:sample'];

const sorted = (scope: unknown): string[] =>
  String(scope)
    .split(' ')
    .filter((s) => s !== '')
    .sort();

describe('RFC 6749 §4.4 client credentials grant', () => {
  let server: TestServer;
  let token: string;

  before(async () => {
    const { tenant } = await acmeFixture();
    tenant.applications = [
      ...(tenant.applications ?? []),
      { ...M2M, token_endpoint_auth_method: 'client_secret_post', grant_types: ['client_credentials'], default_audience: API_ES256 },
    ];
    // DESIGN.md §9: client_credentials needs a client grant per API; this suite's clients may call every API.
    tenant.client_grants = clientGrantsForEveryApi(tenant);
    const globex: TenantInput = {
      name: 'globex',
      default_audience: GLOBEX_API,
      apis: [
        { identifier: GLOBEX_API, scopes: ['read:g'], token_lifetime: 120 },
        { identifier: GLOBEX_OTHER_API, scopes: ['read:o'], token_lifetime: 60 },
      ],
      applications: [
        { ...GLOBEX_M2M, token_endpoint_auth_method: 'client_secret_post', grant_types: ['client_credentials'] },
        {
          ...GLOBEX_OWN_DEFAULT,
          token_endpoint_auth_method: 'client_secret_post',
          grant_types: ['client_credentials'],
          default_audience: GLOBEX_OTHER_API,
        },
      ],
    };
    globex.client_grants = clientGrantsForEveryApi(globex);
    server = await startTestServer({ tenants: [tenant, globex] });
    token = server.at('/oauth/token');
  });
  after(() => server.close());

  const jwks = async (tenant = 'acme'): Promise<JSONWebKeySet> =>
    (await get(`${server.issuer(tenant)}.well-known/jwks.json`)).body as unknown as JSONWebKeySet;

  const clientCredentials = (params: Record<string, string>, client: Record<string, string> = WEB, url = token) =>
    postForm(url, { grant_type: 'client_credentials', ...params, ...client });

  describe('§4.4.3 / §3.3 scopes', () => {
    it('no scope asked: every scope of the API, and scope in the response', async () => {
      const res = await clientCredentials({ audience: API });
      const accessToken = assertTokenResponse(res);
      assert.deepEqual(sorted(res.body.scope), API_SCOPES, 'the response must show the scope it chose (§3.3)');
      assert.deepEqual(sorted(decodeJwt(accessToken).payload.scope), API_SCOPES);
      assert.equal(res.body.expires_in, 3600);
    });

    it('a requested subset is granted exactly', async () => {
      const res = await clientCredentials({ audience: API, scope: 'write:sample read:sample' });
      const accessToken = assertTokenResponse(res);
      assert.deepEqual(sorted(decodeJwt(accessToken).payload.scope), ['read:sample', 'write:sample']);
      if (res.body.scope !== undefined) assert.deepEqual(sorted(res.body.scope), ['read:sample', 'write:sample']);
    });

    it('scopes the API does not define are dropped, and the response says what was granted', async () => {
      const res = await clientCredentials({ audience: API, scope: 'read:sample delete:everything read:es' });
      const accessToken = assertTokenResponse(res);
      assert.equal(res.body.scope, 'read:sample');
      assert.equal(decodeJwt(accessToken).payload.scope, 'read:sample');
    });

    it('OIDC scopes are not granted to a client: no openid, no offline_access, no id_token, no refresh token', async () => {
      // WEB may use refresh_token and API allows offline access: only the grant type can be what refuses it.
      const res = await clientCredentials({ audience: API, scope: 'openid profile email offline_access read:sample' });
      const accessToken = assertTokenResponse(res);
      assert.equal(res.body.scope, 'read:sample');
      assert.equal(res.body.refresh_token, undefined, '§4.4.3: a refresh token SHOULD NOT be included');
      assert.equal(res.body.id_token, undefined);
      const { payload } = decodeJwt(accessToken);
      assert.equal(payload.scope, 'read:sample');
      assert.equal(payload.aud, API, 'no userinfo audience without a user');
    });

    it('only OIDC scopes asked: treated as no API scope, so the API scopes and nothing else', async () => {
      const res = await clientCredentials({ audience: API, scope: 'openid offline_access' });
      assertTokenResponse(res);
      assert.deepEqual(sorted(res.body.scope), API_SCOPES);
      assert.equal(res.body.refresh_token, undefined);
      assert.equal(res.body.id_token, undefined);
    });

    it('a scope with characters outside RFC 6749 §3.3 is invalid_request', async () => {
      assertOAuthError(await clientCredentials({ audience: API, scope: 'read:sample "quoted"' }), 400, 'invalid_request');
    });
  });

  describe('RFC 8707 / DESIGN.md §3: which API the token is for', () => {
    it('no audience and no default_audience (application or tenant) is invalid_request', async () => {
      const res = await clientCredentials({});
      assertOAuthError(res, 400, 'invalid_request');
      assert.match(String(res.body.error_description), /audience/);
    });

    it('an unknown audience is invalid_target', async () => {
      assertOAuthError(await clientCredentials({ audience: 'https://unknown.example' }), 400, 'invalid_target');
      assertOAuthError(await clientCredentials({ audience: `${API}/` }), 400, 'invalid_target', 'identifiers match exactly');
    });

    it("the application's default_audience is used when none is named", async () => {
      const res = await clientCredentials({}, M2M);
      const { payload } = decodeJwt(assertTokenResponse(res));
      assert.equal(payload.aud, API_ES256);
      assert.equal(res.body.scope, 'read:es');
      const rs = decodeJwt(assertTokenResponse(await clientCredentials({}, RESOURCE_SERVER))).payload;
      assert.equal(rs.aud, API);
    });

    it('a named audience wins over the default_audience', async () => {
      const { payload } = decodeJwt(assertTokenResponse(await clientCredentials({ audience: API }, M2M)));
      assert.equal(payload.aud, API);
    });

    it("the tenant's default_audience is used when the application has none, and the application's wins over it", async () => {
      const url = server.at('/oauth/token', 'globex');
      const tenantDefault = decodeJwt(assertTokenResponse(await clientCredentials({}, GLOBEX_M2M, url))).payload;
      assert.equal(tenantDefault.aud, GLOBEX_API);
      assert.equal(tenantDefault.iss, server.issuer('globex'));
      const appDefault = decodeJwt(assertTokenResponse(await clientCredentials({}, GLOBEX_OWN_DEFAULT, url))).payload;
      assert.equal(appDefault.aud, GLOBEX_OTHER_API);
    });

    it('applications and APIs are per tenant: an acme client is unknown to globex', async () => {
      assertOAuthError(await clientCredentials({ audience: GLOBEX_API }, WEB, server.at('/oauth/token', 'globex')), 401, 'invalid_client');
      assertOAuthError(await clientCredentials({ audience: GLOBEX_API }, WEB), 400, 'invalid_target');
    });

    it('an Entra-style {identifier}/.default scope names the API', async () => {
      const res = await clientCredentials({ scope: `${API}/.default` });
      const { payload } = decodeJwt(assertTokenResponse(res));
      assert.equal(payload.aud, API);
      assert.deepEqual(sorted(payload.scope), API_SCOPES);
    });
  });

  describe("RFC 9068 §2.1 / §4: signed with the API's algorithm, verifiable with the published JWKS", () => {
    const cases: Array<{ api: string; alg: string; key: Pick<JWK, 'kty' | 'crv'> }> = [
      { api: API, alg: 'RS256', key: { kty: 'RSA' } },
      { api: API_ES256, alg: 'ES256', key: { kty: 'EC', crv: 'P-256' } },
      { api: API_EDDSA, alg: 'EdDSA', key: { kty: 'OKP', crv: 'Ed25519' } },
    ];
    for (const { api, alg, key } of cases) {
      it(`${alg}: ${api}`, async () => {
        const accessToken = assertTokenResponse(await clientCredentials({ audience: api }));
        const published = await jwks();
        const { protectedHeader, payload } = await jwtVerify(accessToken, createLocalJWKSet(published), {
          issuer: server.issuer(),
          audience: api,
          typ: 'at+jwt',
          algorithms: [alg],
          currentDate: server.clock.now(),
        });
        assert.equal(protectedHeader.alg, alg);
        assert.equal(protectedHeader.typ, 'at+jwt');
        assert.equal(typeof protectedHeader.kid, 'string');
        const jwk = published.keys.find((k) => k.kid === protectedHeader.kid);
        assert.ok(jwk, `kid ${String(protectedHeader.kid)} is published in the JWKS`);
        assert.equal(jwk.kty, key.kty, 'JWK kty');
        assert.equal(jwk.crv, key.crv, 'JWK crv');
        assert.equal(jwk.alg, alg, 'JWK alg');
        assert.equal(jwk.d, undefined, 'the JWKS holds no private key material');
        assert.equal(payload.aud, api);
      });
    }
  });

  describe('RFC 9068 §2.2 claims of a client credentials token', () => {
    it('iss, sub = client_id, client_id, aud = the identifier as a string, iat, exp = iat + token_lifetime, jti', async () => {
      const res = await clientCredentials({ audience: API, scope: 'read:sample' });
      const { payload } = decodeJwt(assertTokenResponse(res));
      assert.equal(payload.iss, server.issuer());
      assert.equal(payload.sub, WEB.client_id);
      assert.equal(payload.client_id, WEB.client_id);
      assert.equal(typeof payload.aud, 'string', 'a single audience is a string, not an array');
      assert.equal(payload.aud, API);
      assert.equal(payload.scope, 'read:sample');
      assert.ok(Number.isInteger(payload.iat), 'iat is integer seconds');
      assert.ok(Number.isInteger(payload.exp), 'exp is integer seconds');
      assert.equal((payload.exp as number) - (payload.iat as number), 3600, 'exp - iat = token_lifetime');
      assert.equal(res.body.expires_in, 3600);
      assert.equal(typeof payload.jti, 'string');
      assert.notEqual(payload.jti, '');
      assert.equal(payload.auth_time, undefined, 'no end-user authentication took place');
    });

    it('the lifetime follows the API: 600 s and 120 s APIs', async () => {
      const es = decodeJwt(assertTokenResponse(await clientCredentials({ audience: API_ES256 }))).payload;
      assert.equal((es.exp as number) - (es.iat as number), 600);
      const globex = await clientCredentials({}, GLOBEX_M2M, server.at('/oauth/token', 'globex'));
      const g = decodeJwt(assertTokenResponse(globex)).payload;
      assert.equal((g.exp as number) - (g.iat as number), 120);
      assert.equal(globex.body.expires_in, 120);
    });

    it('every token has its own jti', async () => {
      const jtis = new Set<unknown>();
      for (let i = 0; i < 5; i++) jtis.add(decodeJwt(assertTokenResponse(await clientCredentials({ audience: API }))).payload.jti);
      assert.equal(jtis.size, 5);
    });

    it('iat and exp come from the server clock', async () => {
      server.clock.advance(30 * 86_400);
      const before = epoch(server.clock.now());
      const payload: JWTPayload = decodeJwt(assertTokenResponse(await clientCredentials({ audience: API }))).payload;
      const afterwards = epoch(server.clock.now());
      assert.ok(
        (payload.iat as number) >= before && (payload.iat as number) <= afterwards,
        `iat ${String(payload.iat)} within [${before}, ${afterwards}]`,
      );
    });
  });
});

/**
 * RFC 8707 §2: "resource … indicates the target service or resource to which
 * access is being requested." Accepted as Auth0's `audience` is; both at once
 * must name the same API.
 */
describe('RFC 8707 resource indicator', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
  });
  after(() => server.close());

  it('resource selects the API like audience', async () => {
    const res = await postForm(server.at('/oauth/token'), { grant_type: 'client_credentials', resource: API_ES256, ...WEB });
    assert.equal(res.status, 200, res.text);
    assert.equal(decodeJwt(res.body.access_token as string).payload.aud, API_ES256);
  });

  it('resource and audience naming different APIs is invalid_target; the same API is fine', async () => {
    const clash = await postForm(server.at('/oauth/token'), {
      grant_type: 'client_credentials',
      resource: API_ES256,
      audience: API,
      ...WEB,
    });
    assert.equal(clash.status, 400);
    assert.equal(clash.body.error, 'invalid_target');
    const same = await postForm(server.at('/oauth/token'), { grant_type: 'client_credentials', resource: API, audience: API, ...WEB });
    assert.equal(same.status, 200, same.text);
  });

  it('an unknown resource is invalid_target on the password grant too', async () => {
    const res = await postForm(server.at('/oauth/token'), {
      grant_type: 'password',
      username: ALICE.username,
      password: ALICE.password,
      resource: 'https://unknown.example',
      ...WEB,
    });
    assert.equal(res.body.error, 'invalid_target');
  });
});
