/**
 * Auth0's Node SDK (node-auth0), unchanged, against Latchkey over real HTTPS.
 *
 * node-auth0 v7 no longer ships the Authentication API in its main entry
 * point ("As of v7, node-auth0 no longer ships `AuthenticationClient` in its
 * main entrypoint" — its README); it ships the v4 `AuthenticationClient` and
 * `UserInfoClient` as `auth0/legacy`, which is what apps written against the
 * Authentication API use. That SDK builds every URL from `domain`:
 *
 *   baseUrl  = `https://${domain}`          (POST {baseUrl}/oauth/token, /oauth/revoke, GET /userinfo)
 *   issuer   = `https://${domain}/`         (the id_token's `iss`, compared byte for byte)
 *   jwks     = `https://${domain}/.well-known/jwks.json`
 *
 * so `domain: '127.0.0.1:PORT/acme'` makes all three exactly Latchkey's
 * tenant endpoints (DESIGN.md §3): no custom-domain option is needed.
 *
 * Trust: the SDK takes a custom `fetch` (used for every API call) and an
 * `agent` that it hands to jose 4's createRemoteJWKSet, which fetches the
 * JWKS with node:https `https.get`. The same `agent` also goes to fetch as its
 * `dispatcher`, so no single object fits both (an undici Agent makes
 * https.get throw "options.agent … must be Agent-like"): the fetch below
 * supplies its own dispatcher and the `agent` is a node:https Agent.
 */
import assert from 'node:assert/strict';
import type { Agent as HttpsAgent } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { AuthApiError, AuthenticationClient, IdTokenValidatorError, UserInfoClient, type AuthenticationClientOptions } from 'auth0/legacy';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { ALICE, API, EMPLOYEE, WEB, acmeFixture } from '../helpers/fixtures.js';
import { startHttpsTestServer, tlsUnavailableReason, trustingHttpsAgent, type HttpsTestServer } from '../helpers/tls.js';
import { audiences, scopeList } from '../helpers/token-checks.js';

const PASSWORD_REALM = 'http://auth0.com/oauth/grant-type/password-realm';

/** The SDK's error for a failed call, asserted to be an AuthApiError (what apps `catch` and switch on). */
async function sdkError(call: Promise<unknown>): Promise<AuthApiError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof AuthApiError) return err;
    throw err;
  }
  assert.fail('expected the SDK call to fail with AuthApiError');
}

describe('node-auth0 AuthenticationClient (auth0/legacy) against Latchkey over HTTPS', { skip: tlsUnavailableReason() }, () => {
  let https: HttpsTestServer;
  let jwksAgent: HttpsAgent;
  let auth0: AuthenticationClient;
  let domain: string;

  const clientOptions = (overrides: Partial<AuthenticationClientOptions> = {}): AuthenticationClientOptions => ({
    domain,
    clientId: WEB.client_id,
    clientSecret: WEB.client_secret,
    fetch: https.fetch,
    agent: jwksAgent as unknown as AuthenticationClientOptions['agent'], // the SDK types `agent` as an undici Dispatcher but also passes it to jose 4's https.get, which needs a node:https Agent; our fetch ignores it
    ...overrides,
  });

  async function verifyAccessToken(token: string, audience: string): Promise<JWTPayload> {
    const jwks = await https.get(`${https.issuer()}.well-known/jwks.json`);
    assert.equal(jwks.status, 200, jwks.text);
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks.body as unknown as JSONWebKeySet), {
      issuer: https.issuer(),
      audience,
    });
    return payload;
  }

  before(async () => {
    https = await startHttpsTestServer({ tenants: [(await acmeFixture()).tenant] });
    jwksAgent = trustingHttpsAgent(https.certPem);
    domain = `${https.host}/acme`;
    auth0 = new AuthenticationClient(clientOptions());
  });
  after(async () => {
    jwksAgent?.destroy();
    await https?.close();
  });

  it("passwordGrant returns access, id and refresh tokens, and the SDK's own id_token validation passes", async () => {
    const { status, data } = await auth0.oauth.passwordGrant({
      username: ALICE.username,
      password: ALICE.password,
      audience: API,
      scope: 'openid offline_access read:sample',
    });
    // passwordGrant resolves only after IDTokenValidator.validate: alg RS256, iss === `https://${domain}/`, aud, exp, iat, signature over the JWKS.
    assert.equal(status, 200);
    assert.equal(data.token_type, 'Bearer');
    assert.equal(data.expires_in, 3600);
    assert.equal(typeof data.refresh_token, 'string');
    assert.equal(typeof data.id_token, 'string');
    const idHeader = decodeProtectedHeader(data.id_token ?? '');
    const idClaims = decodeJwt(data.id_token ?? '');
    assert.equal(idHeader.alg, 'RS256', "Auth0's SDK accepts only RS256 (or HS256) id_tokens");
    assert.equal(idClaims.iss, `https://${domain}/`, 'the issuer the SDK derives from domain');
    assert.equal(idClaims.aud, WEB.client_id);
    const access = await verifyAccessToken(data.access_token, API);
    assert.ok(audiences(access).includes(API));
    assert.ok(scopeList(access.scope).includes('read:sample'));
    assert.equal(access.sub, idClaims.sub);
  });

  it('the SDK\'s id_token check is live: the same server reached as "localhost" fails it on the issuer, byte for byte', async () => {
    // The certificate also names DNS:localhost, so TLS succeeds and only the iss comparison differs.
    const port = https.host.split(':')[1] ?? '';
    const viaLocalhost = new AuthenticationClient(clientOptions({ domain: `localhost:${port}/acme` }));
    await assert.rejects(
      viaLocalhost.oauth.passwordGrant({ username: ALICE.username, password: ALICE.password, audience: API, scope: 'openid' }),
      (err: unknown) => err instanceof IdTokenValidatorError && /Issuer \(iss\) claim mismatch/.test(err.message),
    );
  });

  it('refreshTokenGrant rotates the refresh token (new id_token validated again); the spent one is then invalid_grant', async () => {
    const first = await auth0.oauth.passwordGrant({
      username: ALICE.username,
      password: ALICE.password,
      audience: API,
      scope: 'openid offline_access read:sample',
    });
    const spent = first.data.refresh_token ?? assert.fail('no refresh token');
    const { status, data } = await auth0.oauth.refreshTokenGrant({ refresh_token: spent });
    assert.equal(status, 200);
    assert.equal(data.token_type, 'Bearer');
    assert.equal(typeof data.refresh_token, 'string');
    assert.notEqual(data.refresh_token, spent, 'rotated on every use (DESIGN.md §4)');
    assert.equal(typeof data.id_token, 'string', 'openid was granted: the refresh returns an id_token, which the SDK validated');
    await verifyAccessToken(data.access_token, API);

    const reused = await sdkError(auth0.oauth.refreshTokenGrant({ refresh_token: spent }));
    assert.equal(reused.error, 'invalid_grant');
    assert.equal(reused.statusCode, 400);
    // A rotated token presented again revokes its whole family (DESIGN.md §4), and the SDK reports that the same way.
    const family = await sdkError(auth0.oauth.refreshTokenGrant({ refresh_token: data.refresh_token ?? '' }));
    assert.equal(family.error, 'invalid_grant');
  });

  it('clientCredentialsGrant returns an access token for the API, no id_token and no refresh token', async () => {
    const { status, data } = await auth0.oauth.clientCredentialsGrant({ audience: API });
    assert.equal(status, 200);
    assert.equal(data.token_type, 'Bearer');
    assert.equal(data.id_token, undefined);
    assert.equal(data.refresh_token, undefined);
    const access = await verifyAccessToken(data.access_token, API);
    assert.equal(access.client_id, WEB.client_id);
  });

  it('passwordGrant with realm sends the password-realm grant and signs in from that connection', async () => {
    const { status, data } = await auth0.oauth.passwordGrant({
      username: EMPLOYEE.username,
      password: EMPLOYEE.password,
      realm: 'employees',
      audience: API,
      scope: 'openid read:sample',
    });
    assert.equal(status, 200);
    assert.equal(decodeJwt(data.id_token ?? '').email, EMPLOYEE.username, 'the SDK validated an id_token for the employee');
    const realmGrantLogged = () =>
      https.server.logs.some((line) => line.includes('"request completed"') && line.includes(`"grant_type":"${PASSWORD_REALM}"`));
    // The request line is written once the response has gone out (onResponse), so it may land just after the SDK has its answer.
    for (let tries = 0; tries < 100 && !realmGrantLogged(); tries++) await delay(20);
    assert.ok(realmGrantLogged(), 'the SDK chose the password-realm grant type because realm was set');
    // A user of another connection is not found in this realm.
    const wrongRealm = await sdkError(
      auth0.oauth.passwordGrant({ username: ALICE.username, password: ALICE.password, realm: 'employees', audience: API }),
    );
    assert.equal(wrongRealm.error, 'invalid_grant');
  });

  it('UserInfoClient.getUserInfo accepts the access token and returns the user the id_token names', async () => {
    const { data: tokens } = await auth0.oauth.passwordGrant({
      username: ALICE.username,
      password: ALICE.password,
      audience: API,
      scope: 'openid profile email read:sample',
    });
    const userInfo = new UserInfoClient({ domain, fetch: https.fetch });
    const { status, data } = await userInfo.getUserInfo(tokens.access_token);
    assert.equal(status, 200);
    assert.equal(data.sub, decodeJwt(tokens.id_token ?? '').sub);
    assert.equal(data.email, ALICE.username);
    assert.equal(data.email_verified, true);
    assert.equal(data.name, 'Alice Liddell');
  });

  it('revokeRefreshToken (a JSON body, as the SDK sends it) succeeds, and the refresh token is then invalid_grant', async () => {
    const { data: tokens } = await auth0.oauth.passwordGrant({
      username: ALICE.username,
      password: ALICE.password,
      audience: API,
      scope: 'offline_access read:sample',
    });
    const refreshToken = tokens.refresh_token ?? assert.fail('no refresh token');
    const revoked = await auth0.oauth.revokeRefreshToken({ token: refreshToken });
    assert.equal(revoked.status, 200);
    const refused = await sdkError(auth0.oauth.refreshTokenGrant({ refresh_token: refreshToken }));
    assert.equal(refused.error, 'invalid_grant');
    assert.equal(refused.statusCode, 400);
  });

  it('a wrong password, or an unknown user, arrives as AuthApiError with error invalid_grant', async () => {
    for (const username of [ALICE.username, 'nobody@acme.test']) {
      const err = await sdkError(auth0.oauth.passwordGrant({ username, password: 'not the password', audience: API, scope: 'openid' }));
      assert.equal(err.error, 'invalid_grant', username);
      assert.equal(err.statusCode, 400, username);
      assert.equal(typeof err.error_description, 'string');
      assert.equal(err.headers.get('cache-control'), 'no-store');
    }
  });

  it('a wrong client secret arrives as AuthApiError with error invalid_client', async () => {
    const wrongSecret = new AuthenticationClient(clientOptions({ clientSecret: 'not-the-secret' }));
    const err = await sdkError(wrongSecret.oauth.passwordGrant({ username: ALICE.username, password: ALICE.password, audience: API }));
    assert.equal(err.error, 'invalid_client');
    assert.equal(err.statusCode, 401);
  });
});
