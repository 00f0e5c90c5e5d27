/**
 * OpenID Connect Core 1.0 §5.3 UserInfo Endpoint, protected per RFC 6750.
 *
 * OIDC Core §5.3: "The UserInfo Endpoint MUST support the use of the HTTP
 * GET and HTTP POST methods defined in RFC 7231. The UserInfo Endpoint MUST
 * accept Access Tokens as OAuth 2.0 Bearer Token Usage [RFC6750]."
 * §5.3.2: "The sub (subject) Claim MUST always be returned in the UserInfo
 * Response." §5.3.3: "When an error condition occurs, the UserInfo Endpoint
 * returns an Error Response as defined in Section 3 of OAuth 2.0 Bearer
 * Token Usage [RFC6750]." §5.4: "profile OPTIONAL. This scope value requests
 * access to the End-User's default profile Claims, which are: name,
 * family_name, given_name, […] preferred_username […] updated_at. email
 * OPTIONAL. This scope value requests access to the email and
 * email_verified Claims."
 *
 * RFC 6750 §2.1: "the client uses the "Bearer" authentication scheme to
 * transmit the access token." §2.2: "the client adds the access token to
 * the request-body using the "access_token" parameter. […] The HTTP request
 * entity-header includes the "Content-Type" header field set to
 * "application/x-www-form-urlencoded"." §2: "Clients MUST NOT use more than
 * one method to transmit the token in each request."
 * §3: "If the protected resource request does not include authentication
 * credentials or does not contain an access token that enables access to
 * the protected resource, the resource server MUST include the HTTP
 * "WWW-Authenticate" response header field […] All challenges defined by
 * this specification MUST use the auth-scheme value "Bearer". […] If the
 * request lacks any authentication information […] the resource server
 * SHOULD NOT include an error code or other error information."
 * §3.1: "invalid_request […] SHOULD respond with the HTTP 400 (Bad
 * Request) status code. invalid_token The access token provided is
 * expired, revoked, malformed, or invalid for other reasons. The resource
 * SHOULD respond with the HTTP 401 (Unauthorized) status code.
 * insufficient_scope […] SHOULD respond with the HTTP 403 (Forbidden)".
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT, generateKeyPair } from 'jose';
import { ALICE, API, JOE, WEB, acmeFixture } from '../helpers/fixtures.js';
import { decodeJwt, get, postForm, postJson, postRaw, type JsonResponse } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { assertOAuthError, member, passwordTokens, postWithoutBody } from '../helpers/token-requests.js';

describe('OIDC Core §5.3 userinfo (RFC 6750 bearer tokens)', () => {
  let server: TestServer;
  let userinfoUrl: string;
  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
    userinfoUrl = server.at('/userinfo');
  });
  after(() => server.close());

  async function accessToken(scope: string, extra: Record<string, string> = {}, user = ALICE): Promise<string> {
    return member(await passwordTokens(server, WEB, user, { scope, ...extra }), 'access_token');
  }

  function bearer(token: string): Record<string, string> {
    return { authorization: `Bearer ${token}` };
  }

  /** RFC 6750 §3: the Bearer challenge, with `error` when a token was presented. */
  function assertChallenge(res: JsonResponse, error: string | undefined): void {
    const challenge = res.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer realm="[^"]+"/, `challenge: ${challenge}`);
    if (error === undefined) assert.doesNotMatch(challenge, /error=/, '§3: no error information without a token');
    else assert.match(challenge, new RegExp(`error="${error}"`), `challenge: ${challenge}`);
  }

  function assertRefused(res: JsonResponse, status: number, error: string, message: string): void {
    assertOAuthError(res, status, error, message);
    assertChallenge(res, error);
    assert.equal(res.body.sub, undefined, `${message}: no claims`);
  }

  it('§5.3.1: GET with the Authorization header returns the claims, sub always included', async () => {
    const token = await accessToken('openid');
    const res = await get(userinfoUrl, bearer(token));
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.headers.get('cache-control'), 'no-store', 'personal data is never cached');
    assert.equal(res.body.sub, decodeJwt(token).payload.sub);
  });

  it('§5.3.1: POST with the Authorization header returns the same claims', async () => {
    const token = await accessToken('openid');
    const viaGet = await get(userinfoUrl, bearer(token));
    const viaPost = await postWithoutBody(userinfoUrl, bearer(token));
    assert.equal(viaPost.status, 200, viaPost.text);
    assert.deepEqual(viaPost.body, viaGet.body);
  });

  it('RFC 6750 §2.1: the scheme name is case-insensitive', async () => {
    const token = await accessToken('openid');
    const res = await get(userinfoUrl, { authorization: `bearer ${token}` });
    assert.equal(res.status, 200, res.text);
  });

  it('RFC 6750 §2.2: POST with the access_token form parameter', async () => {
    const token = await accessToken('openid');
    const res = await postForm(userinfoUrl, { access_token: token });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.sub, decodeJwt(token).payload.sub);
    const charset = await postRaw(userinfoUrl, new URLSearchParams({ access_token: token }).toString(), {
      'content-type': 'application/x-www-form-urlencoded;charset=UTF-8',
    });
    assert.equal(charset.status, 200, charset.text);
  });

  it('RFC 6750 §2.2: the body method requires a form body', async () => {
    const token = await accessToken('openid');
    const res = await postJson(userinfoUrl, { access_token: token });
    assertOAuthError(res, 400, 'invalid_request');
    assert.equal(res.body.sub, undefined);
  });

  it('RFC 6750 §2: a token in the header and in the body at once is invalid_request', async () => {
    const token = await accessToken('openid');
    const res = await postForm(userinfoUrl, { access_token: token }, bearer(token));
    assertRefused(res, 400, 'invalid_request', 'two methods');
  });

  it('RFC 6750 §3: no token is 401 with a Bearer realm challenge and no error code in it', async () => {
    const viaGet = await get(userinfoUrl);
    assert.equal(viaGet.status, 401, viaGet.text);
    assertChallenge(viaGet, undefined);
    const viaPost = await postForm(userinfoUrl, {});
    assert.equal(viaPost.status, 401, viaPost.text);
    assertChallenge(viaPost, undefined);
  });

  it('RFC 6750 §3.1: an invalid token is 401 invalid_token', async () => {
    for (const token of ['garbage', 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']) {
      assertRefused(await get(userinfoUrl, bearer(token)), 401, 'invalid_token', JSON.stringify(token));
    }
    assertRefused(await postForm(userinfoUrl, { access_token: 'garbage' }), 401, 'invalid_token', 'garbage in the body');
  });

  it('a malformed Authorization header is refused', async () => {
    for (const authorization of ['Bearer', 'Bearer a b', 'Token abc']) {
      const res = await get(userinfoUrl, { authorization });
      assert.ok(res.status === 400 || res.status === 401, `${authorization}: ${res.text}`);
      assert.equal(res.body.sub, undefined);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /, authorization);
    }
  });

  it('a token for an API only (no openid, no userinfo audience) is refused', async () => {
    const token = await accessToken('read:sample', { audience: API });
    assert.deepEqual(decodeJwt(token).payload.aud, API);
    assertRefused(await get(userinfoUrl, bearer(token)), 401, 'invalid_token', 'API-only token');
  });

  it('RFC 6750 §3.1: a userinfo-audience token without openid is 403 insufficient_scope', async () => {
    const res = await passwordTokens(server, WEB, ALICE, {});
    const token = member(res, 'access_token');
    assert.equal(decodeJwt(token).payload.aud, userinfoUrl);
    assertRefused(await get(userinfoUrl, bearer(token)), 403, 'insufficient_scope', 'no openid');
  });

  it('a token for an API with openid reaches userinfo too', async () => {
    const token = await accessToken('openid email read:sample', { audience: API });
    const res = await get(userinfoUrl, bearer(token));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.email, ALICE.username);
  });

  it('§5.4: profile gives the profile claims and no email', async () => {
    const res = await get(userinfoUrl, bearer(await accessToken('openid profile')));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.name, 'Alice Liddell');
    assert.equal(res.body.given_name, 'Alice');
    assert.equal(res.body.family_name, 'Liddell');
    assert.equal(res.body.preferred_username, ALICE.username);
    assert.equal(res.body.nickname, 'alice');
    assert.equal(typeof res.body.updated_at, 'number', '§5.1: seconds since the epoch');
    assert.equal(res.body.email, undefined);
    assert.equal(res.body.email_verified, undefined);
  });

  it('§5.4: email gives email and email_verified and no profile claims', async () => {
    const res = await get(userinfoUrl, bearer(await accessToken('openid email')));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.email, ALICE.username);
    assert.equal(res.body.email_verified, true);
    for (const claim of ['name', 'given_name', 'family_name', 'preferred_username', 'nickname'])
      assert.equal(res.body[claim], undefined, claim);
  });

  it('§5.4: openid alone is granted every standard claim scope (Auth0 seed), and claims a user lacks are omitted', async () => {
    const alice = await get(userinfoUrl, bearer(await accessToken('openid')));
    assert.equal(alice.status, 200, alice.text);
    assert.equal(alice.body.name, 'Alice Liddell');
    assert.equal(alice.body.email, ALICE.username);
    const joe = await get(userinfoUrl, bearer(await accessToken('openid', {}, JOE)));
    assert.equal(joe.status, 200, joe.text);
    assert.equal(joe.body.name, 'Joe');
    assert.equal(joe.body.preferred_username, JOE.username);
    assert.ok(!('email' in joe.body) && !('given_name' in joe.body), joe.text);
    assert.notEqual(joe.body.sub, alice.body.sub);
  });

  it('the subject matches the id_token of the same sign-in (OIDC Core §5.3.2)', async () => {
    const res = await passwordTokens(server, WEB, ALICE, { scope: 'openid profile' });
    const info = await get(userinfoUrl, bearer(member(res, 'access_token')));
    assert.equal(info.body.sub, decodeJwt(member(res, 'id_token')).payload.sub);
  });

  it('a tampered token is refused', async () => {
    const token = await accessToken('openid profile');
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...claims, scope: 'openid profile email', exp: Number(claims.exp) + 86400 }),
    ).toString('base64url');
    assertRefused(await get(userinfoUrl, bearer(`${header}.${forgedPayload}.${signature}`)), 401, 'invalid_token', 'changed payload');

    const flipped = `${signature?.slice(0, -4)}${signature?.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    assertRefused(await get(userinfoUrl, bearer(`${header}.${payload}.${flipped}`)), 401, 'invalid_token', 'changed signature');

    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: decodeJwt(token).header.kid })).toString('base64url')}.${payload}.`;
    assertRefused(await get(userinfoUrl, bearer(unsigned)), 401, 'invalid_token', 'alg none');

    // Same claims and kid, signed by a key that is not the tenant's.
    const { privateKey } = await generateKeyPair('RS256');
    const foreign = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: String(decodeJwt(token).header.kid) })
      .sign(privateKey);
    assertRefused(await get(userinfoUrl, bearer(foreign)), 401, 'invalid_token', 'foreign key');

    assert.equal((await get(userinfoUrl, bearer(token))).status, 200, 'the untouched token still works');
  });

  it('an expired token is refused', async () => {
    const apiToken = await accessToken('openid read:sample', { audience: API });
    const userinfoToken = await accessToken('openid');
    // The test clock is real time plus an offset and `exp` is whole seconds (iat rounded down): stay 2 s clear of
    // the boundary on each side, or a slow machine crosses it between issuing and checking.
    server.clock.advance(3598);
    assert.equal((await get(userinfoUrl, bearer(apiToken))).status, 200, '2 s before exp');
    server.clock.advance(4);
    assertRefused(await get(userinfoUrl, bearer(apiToken)), 401, 'invalid_token', 'expired (3600 s lifetime)');
    server.clock.advance(86400 - 3602 + 2);
    assertRefused(await get(userinfoUrl, bearer(userinfoToken)), 401, 'invalid_token', 'expired (86400 s userinfo-only lifetime)');
  });
});
