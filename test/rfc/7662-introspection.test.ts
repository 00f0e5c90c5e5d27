/**
 * RFC 7662 OAuth 2.0 Token Introspection.
 *
 * §2.1: "token REQUIRED. The string value of the token. […] To prevent token
 * scanning attacks, the endpoint MUST also require some form of
 * authorization to access this endpoint, such as client authentication".
 * §2.2: "active REQUIRED. Boolean indicator of whether or not the presented
 * token is currently active. […] scope […] client_id […] token_type […] exp
 * […] iat […] sub […] aud […] iss […] If the introspection call is properly
 * authorized but the token is not active, does not exist on this server, or
 * the protected resource is not allowed to introspect this particular
 * token, then the authorization server MUST return an introspection
 * response with the "active" field set to "false"."
 * §2.3: "If the protected resource uses OAuth 2.0 client credentials to
 * authenticate to the introspection endpoint and its credentials are
 * invalid, the authorization server responds with an HTTP 401".
 * §4: "the authorization server MUST determine whether or not the token has
 * expired […] has been revoked" — such tokens are not active.
 * DESIGN.md §4: a client may introspect tokens issued to it; an application
 * marked `resource_server: true` may introspect any token of its audience.
 * Refresh tokens are for the client alone (RFC 6749 §1.5: "never sent to
 * resource servers"), so a resource server sees them as inactive.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, API, API_ES256, NATIVE, RESOURCE_SERVER, REUSE, WEB, acmeFixture } from '../helpers/fixtures.js';
import { basic, decodeJwt, postForm, postJson, type JsonResponse } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { assertOAuthError, introspectToken, member, passwordTokens, refresh, type ClientCredentials } from '../helpers/token-requests.js';

describe('RFC 7662 token introspection', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
  });
  after(() => server.close());

  async function signIn(
    client: ClientCredentials = WEB,
    scope = 'offline_access read:sample',
    audience = API,
  ): Promise<{ accessToken: string; refreshToken: string }> {
    const res = await passwordTokens(server, client, ALICE, { audience, scope });
    return { accessToken: member(res, 'access_token'), refreshToken: member(res, 'refresh_token') };
  }

  function assertInactive(res: JsonResponse, message: string): void {
    assert.equal(res.status, 200, `${message}: ${res.text}`);
    assert.deepEqual(res.body, { active: false }, `${message}: an inactive answer reveals nothing`);
    assert.equal(res.headers.get('cache-control'), 'no-store');
  }

  it('§2.2: an own access token is active, with scope, client_id, sub, exp, iat, iss, aud and token_type', async () => {
    const { accessToken } = await signIn(WEB, 'openid offline_access read:sample');
    const res = await introspectToken(server, WEB, accessToken);
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const jwt = decodeJwt(accessToken).payload;
    assert.equal(res.body.active, true);
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(res.body.scope, jwt.scope);
    assert.match(String(res.body.scope), /\bread:sample\b/);
    assert.equal(res.body.client_id, WEB.client_id);
    assert.equal(res.body.sub, jwt.sub);
    assert.equal(typeof res.body.sub, 'string');
    assert.equal(res.body.iss, server.issuer());
    assert.equal(res.body.iat, jwt.iat);
    assert.equal(res.body.exp, Number(jwt.iat) + 3600);
    assert.deepEqual(res.body.aud, [API, `${server.issuer()}userinfo`]);
  });

  it('§2.2: an own refresh token is active with token_type refresh_token', async () => {
    const { accessToken, refreshToken } = await signIn();
    const res = await introspectToken(server, WEB, refreshToken);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.active, true);
    assert.equal(res.body.token_type, 'refresh_token');
    assert.equal(res.body.client_id, WEB.client_id);
    assert.equal(res.body.sub, decodeJwt(accessToken).payload.sub);
    assert.equal(res.body.scope, 'offline_access read:sample');
    assert.equal(res.body.iss, server.issuer());
    assert.equal(res.body.aud, API);
    assert.ok(typeof res.body.exp === 'number' && typeof res.body.iat === 'number' && res.body.exp > res.body.iat, res.text);
  });

  it('§4: a used (rotated) refresh token is inactive; its successor is active', async () => {
    const { refreshToken } = await signIn();
    const child = member(await refresh(server, WEB, refreshToken), 'refresh_token');
    assertInactive(await introspectToken(server, WEB, refreshToken), 'the rotated parent');
    assert.equal((await introspectToken(server, WEB, child)).body.active, true);
  });

  it("§2.2: another client's access and refresh tokens are inactive to the caller", async () => {
    const { accessToken, refreshToken } = await signIn();
    assertInactive(await introspectToken(server, REUSE, accessToken), "another client's access token");
    assertInactive(await introspectToken(server, REUSE, refreshToken), "another client's refresh token");
    assert.equal((await introspectToken(server, WEB, accessToken)).body.active, true, 'still active to its own client');
  });

  it('a resource_server client may introspect any access token for its API', async () => {
    const { accessToken } = await signIn(WEB);
    const res = await introspectToken(server, RESOURCE_SERVER, accessToken);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.active, true);
    assert.equal(res.body.client_id, WEB.client_id, 'the client the token was issued to');
    assert.equal(res.body.aud, API);

    const withOpenid = member(await passwordTokens(server, REUSE, ALICE, { audience: API, scope: 'openid read:sample' }), 'access_token');
    assert.equal((await introspectToken(server, RESOURCE_SERVER, withOpenid)).body.active, true, 'API and userinfo audience');

    const own = await postForm(server.at('/oauth/token'), { grant_type: 'client_credentials', ...RESOURCE_SERVER });
    assert.equal(own.status, 200, own.text);
    assert.equal((await introspectToken(server, RESOURCE_SERVER, member(own, 'access_token'))).body.active, true, 'its own token');
  });

  it('a resource_server client may not introspect a token for another API, nor any refresh token', async () => {
    const { accessToken, refreshToken } = await signIn(WEB, 'offline_access read:es', API_ES256);
    assertInactive(await introspectToken(server, RESOURCE_SERVER, accessToken), 'a token for another API');
    assert.equal((await introspectToken(server, WEB, accessToken)).body.active, true, 'active to its own client');
    const forApi = await signIn(WEB);
    assertInactive(await introspectToken(server, RESOURCE_SERVER, forApi.refreshToken), 'a refresh token for its API');
    assertInactive(await introspectToken(server, RESOURCE_SERVER, refreshToken), 'a refresh token for another API');
    const userinfoOnly = await passwordTokens(server, WEB, ALICE, { scope: 'openid' });
    assertInactive(await introspectToken(server, RESOURCE_SERVER, member(userinfoOnly, 'access_token')), 'a userinfo-only token');
  });

  it('§4: an expired access token is inactive', async () => {
    const { accessToken } = await signIn();
    // exp is whole seconds and the test clock runs with real time: 2 s clear of the boundary on each side.
    server.clock.advance(3598);
    assert.equal((await introspectToken(server, WEB, accessToken)).body.active, true, '2 s before exp');
    server.clock.advance(4);
    assertInactive(await introspectToken(server, WEB, accessToken), 'past exp');
    assertInactive(await introspectToken(server, RESOURCE_SERVER, accessToken), 'past exp, for the resource server');
  });

  it('§4: a refresh token past its idle lifetime is inactive', async () => {
    const { refreshToken } = await signIn(REUSE);
    server.clock.advance(3601);
    assertInactive(await introspectToken(server, REUSE, refreshToken), 'idle for longer than 3600 s');
  });

  it('a revoked refresh token (reuse detected) is inactive', async () => {
    const { refreshToken } = await signIn();
    const child = member(await refresh(server, WEB, refreshToken), 'refresh_token');
    assertOAuthError(await refresh(server, WEB, refreshToken), 400, 'invalid_grant');
    assertInactive(await introspectToken(server, WEB, child), 'the child of a revoked family');
  });

  it('§2.1: token_type_hint does not restrict the search', async () => {
    const { accessToken, refreshToken } = await signIn();
    assert.equal((await introspectToken(server, WEB, accessToken, { token_type_hint: 'refresh_token' })).body.active, true);
    assert.equal((await introspectToken(server, WEB, refreshToken, { token_type_hint: 'access_token' })).body.active, true);
  });

  it('§2.1: a public client may not introspect (invalid_client), not even its own tokens', async () => {
    const { accessToken } = await signIn(NATIVE);
    const res = await introspectToken(server, NATIVE, accessToken);
    assertOAuthError(res, 401, 'invalid_client');
    assert.equal(res.body.active, undefined);
  });

  it('§2.3: invalid client credentials are 401 invalid_client', async () => {
    const { accessToken } = await signIn();
    assertOAuthError(
      await introspectToken(server, { client_id: WEB.client_id, client_secret: 'wrong' }, accessToken),
      401,
      'invalid_client',
    );
    assertOAuthError(
      await postForm(server.at('/oauth/introspect'), { token: accessToken }),
      401,
      'invalid_client',
      'no client authentication',
    );
    const basicWrong = await postForm(server.at('/oauth/introspect'), { token: accessToken }, basic(WEB.client_id, WEB.client_secret));
    assertOAuthError(basicWrong, 401, 'invalid_client', 'client_secret_post client using Basic');
    assert.match(basicWrong.headers.get('www-authenticate') ?? '', /^Basic /);
  });

  it('garbage is inactive', async () => {
    const { accessToken } = await signIn();
    const [h, p] = accessToken.split('.');
    for (const token of [
      'garbage',
      'A'.repeat(43),
      'A'.repeat(65),
      'a.b.c',
      `${h}.${p}.`,
      `${h}.${p}.${'A'.repeat(342)}`,
      'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
    ]) {
      assertInactive(await introspectToken(server, WEB, token), JSON.stringify(token.slice(0, 20)));
    }
  });

  it('§2.1: a missing token is invalid_request', async () => {
    const res = await postForm(server.at('/oauth/introspect'), { ...WEB });
    assertOAuthError(res, 400, 'invalid_request');
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  it('the Auth0 dialect: a JSON body is accepted', async () => {
    const { accessToken } = await signIn();
    const res = await postJson(server.at('/oauth/introspect'), { token: accessToken, ...WEB });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.active, true);
  });
});
