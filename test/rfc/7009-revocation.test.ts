/**
 * RFC 7009 OAuth 2.0 Token Revocation.
 *
 * §2.1: "token REQUIRED. The token that the client wants to get revoked.
 * token_type_hint OPTIONAL. A hint about the type of the token submitted
 * for revocation. […] access_token […] refresh_token […] If the server is
 * unable to locate the token using the given hint, it MUST extend its
 * search across all of its supported token types." "The authorization
 * server first validates the client credentials (in case of a confidential
 * client) and then verifies whether the token was issued to the client
 * making the revocation request." "If the particular token is a refresh
 * token and the authorization server supports the revocation of access
 * tokens, then the authorization server SHOULD also invalidate all access
 * tokens based on the same authorization grant" (here: the whole refresh
 * token family).
 * §2.2: "The authorization server responds with HTTP status code 200 if the
 * token has been revoked successfully or if the client submitted an invalid
 * token. Note: invalid tokens do not cause an error response since the
 * client cannot handle such an error in a reasonable way […] The content of
 * the response body is ignored by the client as all necessary information
 * is conveyed in the response code."
 * §2.2.1: "unsupported_token_type: The authorization server does not
 * support the revocation of the presented token type."
 * §5: clients are authenticated as at the token endpoint (RFC 6749 §2.3);
 * responses carry no-store like every token endpoint response.
 *
 * Revoking a token of another client: RFC 7009 §2.1 says such a request is
 * "refused", but any answer other than the one for an unknown token tells
 * the caller that the string is a live token of someone else. Latchkey
 * (src/oauth/revocation.ts: "the answer never tells whether a token
 * existed") answers 200 with an empty body exactly as for an unknown token,
 * and revokes nothing: the token keeps working for its owner.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, API, BASIC, NATIVE, REUSE, WEB, acmeFixture } from '../helpers/fixtures.js';
import { basic, get, postForm, postJson, type JsonResponse } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  assertOAuthError,
  introspectToken,
  member,
  passwordTokens,
  refresh,
  revokeToken,
  type ClientCredentials,
} from '../helpers/token-requests.js';

describe('RFC 7009 token revocation', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
  });
  after(() => server.close());

  async function signIn(
    client: ClientCredentials = WEB,
    scope = 'openid offline_access read:sample',
  ): Promise<{ accessToken: string; refreshToken: string }> {
    const res = await passwordTokens(server, client, ALICE, { audience: API, scope });
    return { accessToken: member(res, 'access_token'), refreshToken: member(res, 'refresh_token') };
  }

  async function userinfo(accessToken: string): Promise<JsonResponse> {
    return get(server.at('/userinfo'), { authorization: `Bearer ${accessToken}` });
  }

  function assertRevocationSuccess(res: JsonResponse): void {
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, '', '§2.2: the body carries nothing');
    assert.equal(res.headers.get('cache-control'), 'no-store');
  }

  it('§2.2: revoking a refresh token answers 200 with an empty body, and the token no longer refreshes', async () => {
    const { refreshToken } = await signIn();
    assertRevocationSuccess(await revokeToken(server, WEB, refreshToken));
    assertOAuthError(await refresh(server, WEB, refreshToken), 400, 'invalid_grant');
  });

  it('§2.1: revoking a refresh token revokes its family: the token itself and every later child', async () => {
    const { refreshToken: first } = await signIn();
    const second = member(await refresh(server, WEB, first), 'refresh_token');
    const third = member(await refresh(server, WEB, second), 'refresh_token');
    const unrelated = (await signIn()).refreshToken;

    assertRevocationSuccess(await revokeToken(server, WEB, second));
    assertOAuthError(await refresh(server, WEB, third), 400, 'invalid_grant', 'a later child');
    assertOAuthError(await refresh(server, WEB, second), 400, 'invalid_grant', 'the revoked token');
    assert.equal((await introspectToken(server, WEB, third)).body.active, false);
    const res = await refresh(server, WEB, unrelated);
    assert.equal(res.status, 200, `another family of the same user is untouched: ${res.text}`);
  });

  it('revoking a refresh token inside the reuse interval leaves nothing to replay', async () => {
    const { refreshToken: parent } = await signIn(REUSE);
    const child = member(await refresh(server, REUSE, parent), 'refresh_token');
    assertRevocationSuccess(await revokeToken(server, REUSE, child));
    assertOAuthError(await refresh(server, REUSE, parent), 400, 'invalid_grant', 'the parent may not replay a revoked child');
  });

  it('revoking an access token denylists it: userinfo answers 401 invalid_token and introspection active:false', async () => {
    const { accessToken } = await signIn();
    const before = await userinfo(accessToken);
    assert.equal(before.status, 200, before.text);
    assert.equal((await introspectToken(server, WEB, accessToken)).body.active, true);

    assertRevocationSuccess(await revokeToken(server, WEB, accessToken));
    const afterRevocation = await userinfo(accessToken);
    assertOAuthError(afterRevocation, 401, 'invalid_token');
    assert.equal((await introspectToken(server, WEB, accessToken)).body.active, false);

    // Still refused later in its lifetime (3600 s), and once expired it is refused for that reason anyway.
    server.clock.advance(3000);
    assertOAuthError(await userinfo(accessToken), 401, 'invalid_token', 'revoked, not yet expired');
    server.clock.advance(700);
    assertOAuthError(await userinfo(accessToken), 401, 'invalid_token', 'expired');
    assert.equal((await introspectToken(server, WEB, accessToken)).body.active, false);
  });

  it('revoking an access token touches neither other access tokens nor the refresh token of the same sign-in', async () => {
    const { accessToken, refreshToken } = await signIn();
    const other = (await signIn()).accessToken;
    assertRevocationSuccess(await revokeToken(server, WEB, accessToken));
    assert.equal((await userinfo(other)).status, 200);
    const res = await refresh(server, WEB, refreshToken);
    assert.equal(res.status, 200, res.text);
  });

  it('§2.2: an unknown, malformed or already revoked token answers 200 too', async () => {
    const { refreshToken } = await signIn();
    for (const token of ['unknown-token', 'A'.repeat(43), 'A'.repeat(65), 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']) {
      assertRevocationSuccess(await revokeToken(server, WEB, token));
    }
    assertRevocationSuccess(await revokeToken(server, WEB, refreshToken));
    assertRevocationSuccess(await revokeToken(server, WEB, refreshToken));
  });

  it('§2.1: token_type_hint only orders the search: a wrong hint still revokes', async () => {
    const a = await signIn();
    assertRevocationSuccess(await revokeToken(server, WEB, a.refreshToken, { token_type_hint: 'refresh_token' }));
    assertOAuthError(await refresh(server, WEB, a.refreshToken), 400, 'invalid_grant');
    assertRevocationSuccess(await revokeToken(server, WEB, a.accessToken, { token_type_hint: 'access_token' }));
    assertOAuthError(await userinfo(a.accessToken), 401, 'invalid_token');

    const b = await signIn();
    assertRevocationSuccess(await revokeToken(server, WEB, b.refreshToken, { token_type_hint: 'access_token' }));
    assertOAuthError(await refresh(server, WEB, b.refreshToken), 400, 'invalid_grant', 'refresh token sent with the access_token hint');
    assertRevocationSuccess(await revokeToken(server, WEB, b.accessToken, { token_type_hint: 'refresh_token' }));
    assertOAuthError(await userinfo(b.accessToken), 401, 'invalid_token', 'access token sent with the refresh_token hint');
  });

  it('§2.2.1: a token_type_hint the server does not know is unsupported_token_type, and nothing is revoked', async () => {
    const { refreshToken } = await signIn();
    const res = await revokeToken(server, WEB, refreshToken, { token_type_hint: 'id_token' });
    assertOAuthError(res, 400, 'unsupported_token_type');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const still = await refresh(server, WEB, refreshToken);
    assert.equal(still.status, 200, still.text);
  });

  it('§2.1: a missing token is invalid_request', async () => {
    const res = await postForm(server.at('/oauth/revoke'), { ...WEB });
    assertOAuthError(res, 400, 'invalid_request');
    assert.match(String(res.body.error_description), /token/);
  });

  it('§2.1: the client must authenticate: a wrong secret is invalid_client and revokes nothing', async () => {
    const { refreshToken } = await signIn();
    const wrong = await revokeToken(server, { client_id: WEB.client_id, client_secret: 'not-the-secret' }, refreshToken);
    assertOAuthError(wrong, 401, 'invalid_client');
    assert.equal(wrong.headers.get('cache-control'), 'no-store');
    const none = await postForm(server.at('/oauth/revoke'), { token: refreshToken });
    assertOAuthError(none, 401, 'invalid_client', 'no client authentication at all');
    const idOnly = await postForm(server.at('/oauth/revoke'), { token: refreshToken, client_id: WEB.client_id });
    assertOAuthError(idOnly, 401, 'invalid_client', 'a confidential client sending only its client_id');
    const res = await refresh(server, WEB, refreshToken);
    assert.equal(res.status, 200, `the token survives: ${res.text}`);
  });

  it('RFC 6749 §2.3.1: a client registered for Basic authenticates with Basic; a wrong Basic secret gets 401 and WWW-Authenticate', async () => {
    const auth = basic(BASIC.client_id, BASIC.client_secret);
    const signInRes = await postForm(
      server.at('/oauth/token'),
      { grant_type: 'password', username: ALICE.username, password: ALICE.password, audience: API, scope: 'offline_access' },
      auth,
    );
    const refreshToken = member(signInRes, 'refresh_token');
    const wrong = await postForm(server.at('/oauth/revoke'), { token: refreshToken }, basic(BASIC.client_id, 'wrong'));
    assertOAuthError(wrong, 401, 'invalid_client');
    assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic /);
    const inBody = await revokeToken(server, BASIC, refreshToken);
    assertOAuthError(inBody, 401, 'invalid_client', 'a Basic client sending its secret in the body');
    assertRevocationSuccess(await postForm(server.at('/oauth/revoke'), { token: refreshToken }, auth));
    const res = await postForm(server.at('/oauth/token'), { grant_type: 'refresh_token', refresh_token: refreshToken }, auth);
    assertOAuthError(res, 400, 'invalid_grant');
  });

  it("revoking another client's tokens answers 200, as for an unknown token, and revokes nothing", async () => {
    const { accessToken, refreshToken } = await signIn();
    const byOther = await postForm(server.at('/oauth/revoke'), { token: refreshToken }, basic(BASIC.client_id, BASIC.client_secret));
    assertRevocationSuccess(byOther);
    const unknown = await postForm(server.at('/oauth/revoke'), { token: 'no-such-token' }, basic(BASIC.client_id, BASIC.client_secret));
    assert.equal(byOther.text, unknown.text, 'indistinguishable from an unknown token');
    assertRevocationSuccess(
      await postForm(server.at('/oauth/revoke'), { token: accessToken }, basic(BASIC.client_id, BASIC.client_secret)),
    );
    assertRevocationSuccess(await revokeToken(server, NATIVE, refreshToken));

    assert.equal((await userinfo(accessToken)).status, 200, 'the access token still works');
    const res = await refresh(server, WEB, refreshToken);
    assert.equal(res.status, 200, `the refresh token still works: ${res.text}`);
  });

  it('the family id alone revokes nothing: a token with the right prefix but a forged secret is treated as unknown', async () => {
    const { refreshToken } = await signIn(NATIVE);
    const forged = `${refreshToken.slice(0, 22)}${'A'.repeat(43)}`;
    assertRevocationSuccess(await revokeToken(server, NATIVE, forged));
    const res = await refresh(server, NATIVE, refreshToken);
    assert.equal(res.status, 200, `the genuine token still works: ${res.text}`);
  });

  it('logs never carry a refresh token family id (with a client_id, enough to end a session)', async () => {
    const { refreshToken } = await signIn(NATIVE);
    const rotated = await refresh(server, NATIVE, refreshToken);
    assert.equal(rotated.status, 200, rotated.text);
    assertOAuthError(await refresh(server, NATIVE, refreshToken), 400, 'invalid_grant'); // reuse: logged with a fingerprint
    const familyId = refreshToken.slice(0, 22);
    assert.ok(
      server.logs.some((l) => l.includes('reuse detected')),
      'the reuse is logged',
    );
    assert.ok(!server.logs.some((l) => l.includes(familyId)), 'but not the family id');
  });

  it('a public client revokes its own refresh token with only its client_id', async () => {
    const { refreshToken } = await signIn(NATIVE);
    assertRevocationSuccess(await revokeToken(server, NATIVE, refreshToken));
    assertOAuthError(await refresh(server, NATIVE, refreshToken), 400, 'invalid_grant');
  });

  it('the Auth0 dialect: a JSON body is accepted', async () => {
    const { refreshToken } = await signIn();
    assertRevocationSuccess(await postJson(server.at('/oauth/revoke'), { token: refreshToken, ...WEB }));
    assertOAuthError(await refresh(server, WEB, refreshToken), 400, 'invalid_grant');
  });
});
