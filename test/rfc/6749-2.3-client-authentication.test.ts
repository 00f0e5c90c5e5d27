/**
 * RFC 6749 §2.3 Client Authentication, and the token endpoint errors of §5.2.
 *
 * §2.3: "The client MUST NOT use more than one authentication method in
 * each request."
 * §2.3.1: "Clients in possession of a client password MAY use the HTTP Basic
 * authentication scheme […]. The client identifier is encoded using the
 * "application/x-www-form-urlencoded" encoding algorithm per Appendix B, and
 * the encoded value is used as the username; the client password is encoded
 * using the same algorithm and used as the password." … "the authorization
 * server MAY support including the client credentials in the request-body
 * using the following parameters: client_id REQUIRED. client_secret
 * REQUIRED." … "The parameters can only be transmitted in the request-body
 * and MUST NOT be included in the request URI."
 * §3.2.1: "A client MAY use the "client_id" request parameter to identify
 * itself when sending requests to the token endpoint."
 * §5.2: "invalid_request: The request is missing a required parameter, […]
 * includes multiple credentials, utilizes more than one mechanism for
 * authenticating the client, or is otherwise malformed."
 * "invalid_client: Client authentication failed (e.g., unknown client, no
 * client authentication included, or unsupported authentication method).
 * […] If the client attempted to authenticate via the "Authorization"
 * request header field, the authorization server MUST respond with an HTTP
 * 401 (Unauthorized) status code and include the "WWW-Authenticate" response
 * header field matching the authentication scheme used by the client."
 * "unauthorized_client: The authenticated client is not authorized to use
 * this authorization grant type."
 * "unsupported_grant_type: The authorization grant type is not supported by
 * the authorization server."
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, API, BASIC, JWT_CLIENT, NATIVE, NO_REFRESH, WEB, acmeFixture } from '../helpers/fixtures.js';
import { basic, postForm, postJson, type JsonResponse } from '../helpers/http.js';
import { JWT_BEARER, assertOAuthError, assertTokenResponse, assertionClaims, signAssertion } from '../helpers/oauth-assertions.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const CC = { grant_type: 'client_credentials', audience: API } as const;

function assertNoChallenge(res: JsonResponse, message: string): void {
  assert.equal(res.headers.get('www-authenticate'), null, `${message}: WWW-Authenticate only answers a Basic attempt`);
}

function assertBasicChallenge(res: JsonResponse, message: string): void {
  assert.match(res.headers.get('www-authenticate') ?? '', /^Basic\b/i, `${message}: WWW-Authenticate must name the Basic scheme`);
}

describe('RFC 6749 §2.3 client authentication', () => {
  let server: TestServer;
  let token: string;
  let fixture: Awaited<ReturnType<typeof acmeFixture>>;
  before(async () => {
    fixture = await acmeFixture();
    server = await startTestServer({ tenants: [fixture.tenant] });
    token = server.at('/oauth/token');
  });
  after(() => server.close());

  describe('§2.3.1 client_secret_basic: id and secret form-urlencoded before base64', () => {
    it('accepts the form-urlencoded pair for a secret with space, colon, slash and plus', async () => {
      assert.match(BASIC.client_secret, / /);
      assert.match(BASIC.client_secret, /:/);
      assert.match(BASIC.client_secret, /\//);
      assert.match(BASIC.client_secret, /\+/);
      const res = await postForm(token, CC, basic(BASIC.client_id, BASIC.client_secret));
      assertTokenResponse(res);
    });

    it('decodes %20 as a space as well as +, and %2B as a plus', async () => {
      const encoded = `${encodeURIComponent(BASIC.client_id)}:${encodeURIComponent(BASIC.client_secret)}`;
      assert.match(encoded, /%20/);
      assert.match(encoded, /%2B/);
      const res = await postForm(token, CC, { authorization: `Basic ${Buffer.from(encoded).toString('base64')}` });
      assertTokenResponse(res);
    });

    it('refuses the raw base64 of the unencoded pair (its + decodes to a space)', async () => {
      const raw = { authorization: `Basic ${Buffer.from(`${BASIC.client_id}:${BASIC.client_secret}`).toString('base64')}` };
      assert.notEqual(
        raw.authorization,
        basic(BASIC.client_id, BASIC.client_secret).authorization,
        'the two encodings must differ for this secret',
      );
      const res = await postForm(token, CC, raw);
      assertOAuthError(res, 401, 'invalid_client');
      assertBasicChallenge(res, 'raw pair');
    });

    it('takes the scheme name case-insensitively (RFC 9110 §11.1)', async () => {
      const header = basic(BASIC.client_id, BASIC.client_secret).authorization ?? '';
      const res = await postForm(token, CC, { authorization: header.replace(/^Basic/, 'basic') });
      assertTokenResponse(res);
    });

    it('a client_id in the body equal to the Basic one is not a second method', async () => {
      const res = await postForm(token, { ...CC, client_id: BASIC.client_id }, basic(BASIC.client_id, BASIC.client_secret));
      assertTokenResponse(res);
    });

    it('a wrong secret is invalid_client, 401 with a Basic WWW-Authenticate challenge', async () => {
      const res = await postForm(token, CC, basic(BASIC.client_id, `${BASIC.client_secret}x`));
      assertOAuthError(res, 401, 'invalid_client');
      assertBasicChallenge(res, 'wrong secret');
    });

    it('an unknown client is invalid_client with the same body as a wrong secret', async () => {
      const unknown = await postForm(token, CC, basic('no-such-client', BASIC.client_secret));
      const wrong = await postForm(token, CC, basic(BASIC.client_id, 'not the secret'));
      assertOAuthError(unknown, 401, 'invalid_client');
      assertBasicChallenge(unknown, 'unknown client');
      assert.deepEqual(unknown.body, wrong.body, 'nothing tells an unknown client from a wrong secret');
    });

    it('a Basic header without a colon, or with broken percent-encoding, is invalid_request', async () => {
      const noColon = await postForm(token, CC, { authorization: `Basic ${Buffer.from(BASIC.client_id).toString('base64')}` });
      assertOAuthError(noColon, 400, 'invalid_request', 'no colon');
      const badPercent = await postForm(token, CC, {
        authorization: `Basic ${Buffer.from(`${BASIC.client_id}:%E0%A4%A`).toString('base64')}`,
      });
      assertOAuthError(badPercent, 400, 'invalid_request', 'bad percent-encoding');
    });
  });

  describe('§2.3.1 client_secret_post: credentials in the request body', () => {
    it('accepts client_id and client_secret in a form body', async () => {
      assertTokenResponse(await postForm(token, { ...CC, ...WEB }));
    });

    it('accepts them in a JSON body on the Auth0 path', async () => {
      assertTokenResponse(await postJson(token, { ...CC, ...WEB }));
    });

    it('a wrong secret is invalid_client, 401, without WWW-Authenticate', async () => {
      const res = await postForm(token, { ...CC, client_id: WEB.client_id, client_secret: `${WEB.client_secret}x` });
      assertOAuthError(res, 401, 'invalid_client');
      assertNoChallenge(res, 'wrong secret in body');
    });

    it('an unknown client is invalid_client, 401, without WWW-Authenticate', async () => {
      const res = await postForm(token, { ...CC, client_id: 'no-such-client', client_secret: WEB.client_secret });
      assertOAuthError(res, 401, 'invalid_client');
      assertNoChallenge(res, 'unknown client in body');
    });

    it('client_id is matched exactly: another case is another (unknown) client', async () => {
      const res = await postForm(token, { ...CC, client_id: WEB.client_id.toUpperCase(), client_secret: WEB.client_secret });
      assertOAuthError(res, 401, 'invalid_client');
    });

    it('client_secret without client_id is invalid_request', async () => {
      const res = await postForm(token, { ...CC, client_secret: WEB.client_secret });
      assertOAuthError(res, 400, 'invalid_request');
    });

    it('credentials in the query string are not part of the request ("MUST NOT be included in the request URI")', async () => {
      const query = new URLSearchParams(WEB).toString();
      const res = await postForm(`${token}?${query}`, CC);
      assertOAuthError(res, 401, 'invalid_client');
    });
  });

  describe('§2.1 / §3.2.1 public clients: token_endpoint_auth_method none', () => {
    it('a public client identifies itself with client_id alone', async () => {
      const res = await postForm(token, {
        grant_type: 'password',
        username: ALICE.username,
        password: ALICE.password,
        audience: API,
        ...NATIVE,
      });
      assertTokenResponse(res);
    });

    it('a confidential client sending client_id alone is invalid_client', async () => {
      const res = await postForm(token, { ...CC, client_id: WEB.client_id });
      assertOAuthError(res, 401, 'invalid_client');
      assertNoChallenge(res, 'client_id only');
    });
  });

  describe('§2.3 exactly the method the client is registered with', () => {
    it('a client_secret_post client using Basic is invalid_client (with a Basic challenge)', async () => {
      const res = await postForm(token, CC, basic(WEB.client_id, WEB.client_secret));
      assertOAuthError(res, 401, 'invalid_client');
      assertBasicChallenge(res, 'post client over Basic');
    });

    it('a client_secret_basic client posting its secret in the body is invalid_client', async () => {
      const res = await postForm(token, { ...CC, ...BASIC });
      assertOAuthError(res, 401, 'invalid_client');
      assertNoChallenge(res, 'basic client in body');
    });

    it('a client_secret_basic client sending client_id alone is invalid_client', async () => {
      const res = await postForm(token, { ...CC, client_id: BASIC.client_id });
      assertOAuthError(res, 401, 'invalid_client');
    });

    it('a private_key_jwt client sending client_id alone, or a secret, is invalid_client', async () => {
      const alone = await postForm(token, { ...CC, client_id: JWT_CLIENT.client_id });
      assertOAuthError(alone, 401, 'invalid_client', 'client_id only');
      const secret = await postForm(token, { ...CC, client_id: JWT_CLIENT.client_id, client_secret: 'anything-at-all' });
      assertOAuthError(secret, 401, 'invalid_client', 'secret');
    });

    it('a public client presenting a secret is invalid_client', async () => {
      const res = await postForm(token, {
        grant_type: 'password',
        username: ALICE.username,
        password: ALICE.password,
        client_id: NATIVE.client_id,
        client_secret: 'some-guessed-secret',
      });
      assertOAuthError(res, 401, 'invalid_client');
    });

    it('a client_secret_post client presenting a client assertion is invalid_client', async () => {
      const claims = assertionClaims(WEB.client_id, server.issuer(), server.clock.now());
      const assertion = await signAssertion(claims, { key: fixture.jwtClientKey, kid: fixture.jwtClientKid });
      const res = await postForm(token, { ...CC, client_assertion_type: JWT_BEARER, client_assertion: assertion });
      assertOAuthError(res, 401, 'invalid_client');
      assertNoChallenge(res, 'assertion');
    });
  });

  describe('§5.2 invalid_client: no client authentication included', () => {
    it('a request naming no client at all is invalid_client, 401, without WWW-Authenticate', async () => {
      for (const params of [CC, { grant_type: 'password', username: ALICE.username, password: ALICE.password }]) {
        const res = await postForm(token, params);
        assertOAuthError(res, 401, 'invalid_client', params.grant_type);
        assertNoChallenge(res, params.grant_type);
      }
    });

    it('an empty client_id counts as absent (RFC 6749 §3.1)', async () => {
      const res = await postForm(token, { ...CC, client_id: '' });
      assertOAuthError(res, 401, 'invalid_client');
    });
  });

  describe('§2.3 / §5.2 invalid_request: more than one mechanism, or conflicting identities', () => {
    it('Basic plus client_secret in the body is invalid_request', async () => {
      const res = await postForm(token, { ...CC, ...BASIC }, basic(BASIC.client_id, BASIC.client_secret));
      assertOAuthError(res, 400, 'invalid_request');
    });

    it('client_secret plus client_assertion is invalid_request', async () => {
      const claims = assertionClaims(JWT_CLIENT.client_id, server.issuer(), server.clock.now());
      const assertion = await signAssertion(claims, { key: fixture.jwtClientKey, kid: fixture.jwtClientKid });
      const res = await postForm(token, {
        ...CC,
        client_id: JWT_CLIENT.client_id,
        client_secret: 'x-secret-x',
        client_assertion_type: JWT_BEARER,
        client_assertion: assertion,
      });
      assertOAuthError(res, 400, 'invalid_request');
    });

    it('Basic plus client_assertion is invalid_request', async () => {
      const claims = assertionClaims(JWT_CLIENT.client_id, server.issuer(), server.clock.now());
      const assertion = await signAssertion(claims, { key: fixture.jwtClientKey, kid: fixture.jwtClientKid });
      const res = await postForm(
        token,
        { ...CC, client_assertion_type: JWT_BEARER, client_assertion: assertion },
        basic(BASIC.client_id, BASIC.client_secret),
      );
      assertOAuthError(res, 400, 'invalid_request');
    });

    it('a body client_id differing from the Basic one is invalid_request, even with valid credentials', async () => {
      const res = await postForm(token, { ...CC, client_id: WEB.client_id }, basic(BASIC.client_id, BASIC.client_secret));
      assertOAuthError(res, 400, 'invalid_request');
    });
  });

  describe('§5.2 grant_type errors', () => {
    it('a grant the authenticated application is not allowed is unauthorized_client', async () => {
      const res = await postForm(token, { ...CC, ...NO_REFRESH });
      assertOAuthError(res, 400, 'unauthorized_client');
      const publicClient = await postForm(token, {
        grant_type: 'http://auth0.com/oauth/grant-type/password-realm',
        realm: 'Username-Password-Authentication',
        username: ALICE.username,
        password: ALICE.password,
        ...NATIVE,
      });
      assertOAuthError(publicClient, 400, 'unauthorized_client', 'public client, password-realm');
    });

    it('unauthorized_client is told only to an authenticated client', async () => {
      const res = await postForm(token, { ...CC, client_id: NO_REFRESH.client_id, client_secret: 'not-the-secret' });
      assertOAuthError(res, 401, 'invalid_client');
    });

    it('an unknown grant_type is unsupported_grant_type', async () => {
      // The device and code grants are implemented since issue #14; these are not.
      for (const grantType of [
        'urn:ietf:params:oauth:grant-type:token-exchange',
        'urn:ietf:params:oauth:grant-type:jwt-bearer',
        'PASSWORD',
      ]) {
        const res = await postForm(token, { ...WEB, grant_type: grantType });
        assertOAuthError(res, 400, 'unsupported_grant_type', grantType);
      }
    });

    it('a missing (or empty) grant_type is invalid_request', async () => {
      const missing = await postForm(token, { ...WEB, audience: API });
      assertOAuthError(missing, 400, 'invalid_request', 'missing');
      assert.match(String(missing.body.error_description), /grant_type/);
      const empty = await postForm(token, { ...WEB, audience: API, grant_type: '' });
      assertOAuthError(empty, 400, 'invalid_request', 'empty');
    });
  });
});
