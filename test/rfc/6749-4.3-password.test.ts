/**
 * RFC 6749 §4.3 Resource Owner Password Credentials Grant.
 *
 * §4.3.2: "The client makes a request to the token endpoint by adding the
 * following parameters using the application/x-www-form-urlencoded format:
 * grant_type REQUIRED. Value MUST be set to "password". username REQUIRED.
 * password REQUIRED. scope OPTIONAL." … "the authorization server MUST:
 * require client authentication for confidential clients […] validate the
 * resource owner password credentials".
 * §4.3.3: a valid request gets an access token and optionally a refresh token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { ALICE, API, API_NO_OFFLINE, BLOCKED, EMPLOYEE, NATIVE, NO_REFRESH, WEB, acmeFixture } from '../helpers/fixtures.js';
import { decodeJwt, get, postForm } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('RFC 6749 §4.3 password grant', () => {
  let server: TestServer;
  let token: string;
  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
    token = server.at('/oauth/token');
  });
  after(() => server.close());

  it('§4.3.3: valid credentials yield a Bearer access token signed by the tenant key', async () => {
    const res = await postForm(token, {
      grant_type: 'password',
      username: ALICE.username,
      password: ALICE.password,
      audience: API,
      scope: 'read:sample',
      ...WEB,
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(res.body.expires_in, 3600);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.body.refresh_token, undefined, 'no refresh token without offline_access');
    assert.equal(res.body.scope, undefined, 'scope omitted when it equals the request (RFC 6749 §5.1)');
    const jwks = createLocalJWKSet((await get(`${server.issuer()}.well-known/jwks.json`)).body as never);
    const { payload, protectedHeader } = await jwtVerify(res.body.access_token as string, jwks, {
      issuer: server.issuer(),
      audience: API,
      typ: 'at+jwt',
    });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.scope, 'read:sample');
    assert.equal(payload.client_id, WEB.client_id);
    for (const claim of ['iss', 'sub', 'aud', 'client_id', 'scope', 'iat', 'exp', 'jti']) assert.ok(claim in payload, `claim ${claim}`);
  });

  it('logs in by email as well as by username, case-insensitively', async () => {
    const res = await postForm(token, {
      grant_type: 'password',
      username: 'ALICE@ACME.TEST',
      password: ALICE.password,
      audience: API,
      ...WEB,
    });
    assert.equal(res.status, 200, res.text);
  });

  it('a wrong password and an unknown user get the same invalid_grant', async () => {
    const wrong = await postForm(token, { grant_type: 'password', username: ALICE.username, password: 'not the password', ...WEB });
    const unknown = await postForm(token, { grant_type: 'password', username: 'nobody@acme.test', password: 'whatever', ...WEB });
    assert.equal(wrong.status, 400);
    assert.equal(unknown.status, 400);
    assert.deepEqual(wrong.body, unknown.body);
    assert.equal(wrong.body.error, 'invalid_grant');
  });

  it('the password is case-sensitive and never trimmed', async () => {
    for (const password of [ALICE.password.toUpperCase(), ` ${ALICE.password}`, `${ALICE.password} `]) {
      const res = await postForm(token, { grant_type: 'password', username: ALICE.username, password, ...WEB });
      assert.equal(res.status, 400, `accepted ${JSON.stringify(password)}`);
    }
  });

  it('a blocked user is refused even with the right password, with error_reason user_blocked', async () => {
    const res = await postForm(token, { grant_type: 'password', username: BLOCKED.username, password: BLOCKED.password, ...WEB });
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_grant');
    assert.equal(res.body.error_reason, 'user_blocked');
    const wrong = await postForm(token, { grant_type: 'password', username: BLOCKED.username, password: 'wrong password!', ...WEB });
    assert.equal(wrong.body.error_reason, undefined, 'the block is not revealed to someone without the password');
  });

  it('§4.3.2: missing username or password is invalid_request', async () => {
    for (const missing of ['username', 'password']) {
      const params: Record<string, string> = { grant_type: 'password', username: ALICE.username, password: ALICE.password, ...WEB };
      delete params[missing];
      const res = await postForm(token, params);
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'invalid_request');
      assert.match(String(res.body.error_description), new RegExp(missing));
    }
  });

  it('offline_access yields a refresh token when the API allows it and the client may refresh', async () => {
    const res = await postForm(token, {
      grant_type: 'password',
      username: ALICE.username,
      password: ALICE.password,
      audience: API,
      scope: 'offline_access read:sample',
      ...WEB,
    });
    assert.equal(res.status, 200);
    assert.equal(typeof res.body.refresh_token, 'string');
    assert.ok((res.body.refresh_token as string).length >= 43, '256 random bits');
  });

  it('offline_access is dropped when the API does not allow offline access, and scope shows it', async () => {
    const res = await postForm(token, {
      grant_type: 'password',
      username: ALICE.username,
      password: ALICE.password,
      audience: API_NO_OFFLINE,
      scope: 'offline_access read:x',
      ...WEB,
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.refresh_token, undefined);
    assert.equal(res.body.scope, 'read:x');
  });

  it('offline_access is dropped for an application without the refresh_token grant', async () => {
    const res = await postForm(token, {
      grant_type: 'password',
      username: ALICE.username,
      password: ALICE.password,
      audience: API,
      scope: 'offline_access read:sample',
      ...NO_REFRESH,
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.refresh_token, undefined);
  });

  it('a public client (token_endpoint_auth_method none) sends only client_id', async () => {
    const res = await postForm(token, {
      grant_type: 'password',
      username: ALICE.username,
      password: ALICE.password,
      audience: API,
      ...NATIVE,
    });
    assert.equal(res.status, 200, res.text);
  });

  it('realm chooses the connection; a user of another connection is not found in the default one', async () => {
    const inDefault = await postForm(token, { grant_type: 'password', username: EMPLOYEE.username, password: EMPLOYEE.password, ...WEB });
    assert.equal(inDefault.body.error, 'invalid_grant');
    const withRealm = await postForm(token, {
      grant_type: 'password',
      realm: 'employees',
      username: EMPLOYEE.username,
      password: EMPLOYEE.password,
      audience: API,
      ...WEB,
    });
    assert.equal(withRealm.status, 200, withRealm.text);
    const realmGrant = await postForm(token, {
      grant_type: 'http://auth0.com/oauth/grant-type/password-realm',
      realm: 'employees',
      username: EMPLOYEE.username,
      password: EMPLOYEE.password,
      audience: API,
      ...WEB,
    });
    assert.equal(realmGrant.status, 200, realmGrant.text);
  });

  it('password-realm without realm, or with an unknown realm, is invalid_request', async () => {
    const none = await postForm(token, {
      grant_type: 'http://auth0.com/oauth/grant-type/password-realm',
      username: ALICE.username,
      password: ALICE.password,
      ...WEB,
    });
    assert.equal(none.body.error, 'invalid_request');
    const unknown = await postForm(token, {
      grant_type: 'password',
      realm: 'nope',
      username: ALICE.username,
      password: ALICE.password,
      ...WEB,
    });
    assert.equal(unknown.body.error, 'invalid_request');
  });

  it('an unknown audience is invalid_target (RFC 8707) and checked before the password', async () => {
    const res = await postForm(token, {
      grant_type: 'password',
      username: ALICE.username,
      password: 'wrong',
      audience: 'https://unknown.example',
      ...WEB,
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_target');
  });

  it('with no audience and no default, the token is for userinfo only', async () => {
    const res = await postForm(token, {
      grant_type: 'password',
      username: ALICE.username,
      password: ALICE.password,
      scope: 'openid',
      ...WEB,
    });
    assert.equal(res.status, 200, res.text);
    const { payload } = decodeJwt(res.body.access_token as string);
    assert.equal(payload.aud, `${server.issuer()}userinfo`);
  });
});
