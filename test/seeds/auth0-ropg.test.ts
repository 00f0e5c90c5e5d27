/**
 * Seeds: Auth0 "Execute the Resource Owner Password Grant" and "Call Your
 * API Using Resource Owner Password Flow" (shared/seeds/002, 004).
 *
 *   POST https://${account.namespace}/oauth/token  Content-Type: application/json
 *   {"grant_type":"password","username": "user@example.com","password": "pwd",
 *    "audience": "https://someapi.com/api", "scope": "read:sample",
 *    "client_id": "${account.clientId}", "client_secret": "${account.clientSecret}"}
 *
 *   "The response from /oauth/token (if successful) contains an access_token
 *   [...] "token_type": "Bearer", "expires_in": 36000"
 *   "In case the scopes issued to the client differ from the scopes requested,
 *   a scope parameter will be included in the response JSON"
 *   "If no API scopes (such as read:notes) are included in the request, all
 *   API scopes (such as read:notes, create:notes, etc.) are included in the
 *   access_token. If only the openid scope is included in the request, all
 *   openid standard scopes will be returned, such as openid profile email
 *   address phone. In these cases, the scope parameter will be included in
 *   the response"
 *   "If you need the user's claims you can include the scope openid to your
 *   request. If the API uses RS256 as the signing algorithm, the access_token
 *   will now also include /userinfo as a valid audience. You can use this
 *   access_token to invoke the /userinfo endpoint"
 *   "To refresh your token, make a POST request to the /oauth/token endpoint
 *   [...] using grant_type=refresh_token" → "a new access_token, its lifetime
 *   in seconds (expires_in), granted scope values, and token_type"
 *
 * DESIGN.md §3: "`realm` is honoured on plain `password` too, as Auth0's
 * current SDK sends it".
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { API, EMPLOYEE, NATIVE, PING, SEED_API, SEED_USER, WEB, acmeFixture } from '../helpers/fixtures.js';
import { basic, get, postForm, postJson, postRaw } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { audiences, scopeList, verifyIssued } from '../helpers/token-checks.js';

const STANDARD = ['openid', 'profile', 'email', 'address', 'phone'];

describe('Auth0 seed: Resource Owner Password Grant', () => {
  let server: TestServer;
  let token: string;
  let userinfo: string;
  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
    token = server.at('/oauth/token');
    userinfo = server.at('/userinfo');
  });
  after(() => server.close());

  const seedParams = (extra: Record<string, string> = {}): Record<string, string> => ({
    grant_type: 'password',
    username: SEED_USER.username,
    password: SEED_USER.password,
    audience: SEED_API,
    scope: 'read:sample',
    ...WEB,
    ...extra,
  });

  it('the JSON request exactly as the seed writes it gets access_token, token_type Bearer and expires_in', async () => {
    // The seed's HAR text, byte for byte apart from the account placeholders.
    const text = `{"grant_type":"password","username": "user@example.com","password": "pwd","audience": "https://someapi.com/api", "scope": "read:sample", "client_id": "${WEB.client_id}", "client_secret": "${WEB.client_secret}"}`;
    const res = await postRaw(token, text, { 'content-type': 'application/json' });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(res.body.expires_in, 36000, 'the API token_lifetime, as in the seed response');
    assert.equal(res.body.scope, undefined, 'issued scopes equal the requested ones: no scope member');
    assert.equal(res.body.refresh_token, undefined, 'no offline_access, no refresh token');
    assert.equal(res.body.id_token, undefined, 'no openid, no id_token');
    const { payload, alg, typ } = await verifyIssued(server, res.body.access_token, { audience: SEED_API });
    assert.equal(alg, 'RS256');
    assert.equal(typ, 'at+jwt');
    assert.equal(payload.aud, SEED_API, 'without openid the only audience is the API');
    assert.equal(payload.scope, 'read:sample');
    assert.equal(payload.client_id, WEB.client_id);
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 36000);
  });

  it('the curl --data form of the same request (unencoded values, as curl sends them) works', async () => {
    // curl --data joins its arguments with & and sends them as written.
    const body = [
      'grant_type=password',
      `username=${SEED_USER.username}`,
      `password=${SEED_USER.password}`,
      `audience=${SEED_API}`,
      'scope=read:sample',
      `client_id=${WEB.client_id}`,
      `client_secret=${WEB.client_secret}`,
    ].join('&');
    const res = await postRaw(token, body, { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(res.body.expires_in, 36000);
    assert.equal(typeof res.body.access_token, 'string');
    assert.equal(res.body.scope, undefined);
    const { payload } = await verifyIssued(server, res.body.access_token, { audience: SEED_API });
    assert.equal(payload.scope, 'read:sample');
  });

  it("the URL-encoded form body of the seed's code samples (scope=read%3Asample) works", async () => {
    const res = await postForm(token, seedParams());
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.scope, undefined);
  });

  it('a wrong password for the seed user is invalid_grant, as JSON', async () => {
    const res = await postJson(token, seedParams({ password: 'pwd2' }));
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_grant');
    assert.equal(res.body.access_token, undefined);
  });

  it('no API scope requested: all API scopes are in the token, and scope is in the response', async () => {
    const params = seedParams();
    delete params.scope;
    const res = await postJson(token, params);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(scopeList(res.body.scope), ['read:sample', 'write:sample']);
    const { payload } = await verifyIssued(server, res.body.access_token, { audience: SEED_API });
    assert.deepEqual(scopeList(payload.scope), ['read:sample', 'write:sample']);
  });

  it('a request of only non-API scopes (offline_access) still gets every API scope, and scope shows them', async () => {
    const res = await postJson(token, seedParams({ scope: 'offline_access' }));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(scopeList(res.body.scope), ['offline_access', 'read:sample', 'write:sample']);
    assert.equal(typeof res.body.refresh_token, 'string');
  });

  it('only openid, no audience and no default: openid profile email address phone, listed in scope', async () => {
    const params = seedParams({ scope: 'openid' });
    delete params.audience;
    const res = await postJson(token, params);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(scopeList(res.body.scope), [...STANDARD].sort());
    const { payload } = await verifyIssued(server, res.body.access_token, { audience: `${server.issuer()}userinfo` });
    assert.deepEqual(audiences(payload), [`${server.issuer()}userinfo`], 'a token for userinfo only');
  });

  it('only openid with an audience: every standard scope plus every API scope', async () => {
    const res = await postJson(token, seedParams({ scope: 'openid' }));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(scopeList(res.body.scope), [...STANDARD, 'read:sample', 'write:sample'].sort());
  });

  it("only openid with the application's default audience: every standard scope plus that API's scopes", async () => {
    // PING's application default_audience is API (read:sample write:sample edit); it authenticates with Basic.
    const res = await postForm(
      token,
      { grant_type: 'password', username: SEED_USER.username, password: SEED_USER.password, scope: 'openid' },
      basic(PING.client_id, PING.client_secret),
    );
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(scopeList(res.body.scope), [...STANDARD, 'edit', 'read:sample', 'write:sample'].sort());
    const { payload } = await verifyIssued(server, res.body.access_token, { audience: API });
    assert.deepEqual(audiences(payload).sort(), [API, `${server.issuer()}userinfo`].sort());
  });

  it('issued scopes equal to the requested ones, in any order: no scope member', async () => {
    const res = await postJson(token, seedParams({ scope: 'read:sample email openid' }));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.scope, undefined, res.text);
    assert.equal(typeof res.body.id_token, 'string');
  });

  it('a scope nobody defines is dropped, and scope shows what was granted', async () => {
    const res = await postJson(token, seedParams({ scope: 'read:sample delete:everything' }));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.scope, 'read:sample');
  });

  it('openid: the access token also has {issuer}userinfo as audience and works at /userinfo', async () => {
    const res = await postJson(token, seedParams({ scope: 'openid read:sample' }));
    assert.equal(res.status, 200, res.text);
    const { payload } = await verifyIssued(server, res.body.access_token, { audience: SEED_API });
    assert.deepEqual(audiences(payload).sort(), [SEED_API, `${server.issuer()}userinfo`].sort());
    const auth = { authorization: `Bearer ${String(res.body.access_token)}` };
    const info = await get(userinfo, auth);
    assert.equal(info.status, 200, info.text);
    assert.equal(info.body.sub, payload.sub);
    assert.equal(info.body.email, SEED_USER.username, 'openid alone grants email');
    const viaPost = await postForm(userinfo, {}, auth);
    assert.equal(viaPost.status, 200, viaPost.text);
    assert.equal(viaPost.body.sub, payload.sub);
  });

  it('without openid the access token is not accepted at /userinfo', async () => {
    const res = await postJson(token, seedParams());
    assert.equal(res.status, 200, res.text);
    const info = await get(userinfo, { authorization: `Bearer ${String(res.body.access_token)}` });
    assert.equal(info.status, 401);
    assert.equal(info.body.error, 'invalid_token');
  });

  it('id_token: aud is the client_id, iss the exact issuer, RS256, claims by scope', async () => {
    const narrow = await postJson(token, seedParams({ scope: 'openid email read:sample' }));
    assert.equal(narrow.status, 200, narrow.text);
    const id = await verifyIssued(server, narrow.body.id_token, { audience: WEB.client_id, algorithms: ['RS256'] });
    assert.equal(id.alg, 'RS256');
    assert.notEqual(id.typ, 'at+jwt', 'an id_token must not pass as an access token');
    assert.equal(id.payload.iss, server.issuer());
    assert.equal(id.payload.aud, WEB.client_id);
    assert.equal(id.payload.email, SEED_USER.username);
    assert.equal(id.payload.name, undefined, 'no profile scope, no profile claims');
    assert.equal(id.payload.preferred_username, undefined);
    const at = await verifyIssued(server, narrow.body.access_token, { audience: SEED_API });
    assert.equal(id.payload.sub, at.payload.sub);
    assert.equal(typeof id.payload.auth_time, 'number');

    const wide = await postJson(token, seedParams({ scope: 'openid' }));
    assert.equal(wide.status, 200, wide.text);
    const all = await verifyIssued(server, wide.body.id_token, { audience: WEB.client_id, algorithms: ['RS256'] });
    assert.equal(all.payload.email, SEED_USER.username);
    assert.equal(typeof all.payload.name, 'string', 'openid alone grants profile');
    assert.equal(all.payload.preferred_username, SEED_USER.username);
  });

  it('refresh with grant_type=refresh_token as a form, as in the seed: new tokens, and the response carries scope', async () => {
    const first = await postJson(token, seedParams({ scope: 'openid offline_access read:sample' }));
    assert.equal(first.status, 200, first.text);
    const refreshToken = first.body.refresh_token;
    assert.equal(typeof refreshToken, 'string');
    const refreshed = await postForm(token, {
      grant_type: 'refresh_token',
      client_id: WEB.client_id,
      client_secret: WEB.client_secret,
      refresh_token: String(refreshToken),
    });
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.equal(refreshed.body.token_type, 'Bearer');
    assert.equal(refreshed.body.expires_in, 36000);
    // openid with no standard claim scope named gets all of them (password = full access), kept on refresh.
    assert.deepEqual(scopeList(refreshed.body.scope), [...STANDARD, 'offline_access', 'read:sample'].sort());
    assert.equal(typeof refreshed.body.refresh_token, 'string', 'rotated');
    assert.notEqual(refreshed.body.refresh_token, refreshToken);
    assert.notEqual(refreshed.body.access_token, first.body.access_token);
    const { payload } = await verifyIssued(server, refreshed.body.access_token, { audience: SEED_API });
    assert.deepEqual(scopeList(payload.scope), scopeList(refreshed.body.scope));
    const original = await verifyIssued(server, first.body.access_token, { audience: SEED_API });
    assert.equal(payload.sub, original.payload.sub);
  });

  it('refresh by a public client sends only client_id and refresh_token, exactly as the seed', async () => {
    const first = await postForm(token, {
      grant_type: 'password',
      username: SEED_USER.username,
      password: SEED_USER.password,
      audience: SEED_API,
      scope: 'offline_access',
      ...NATIVE,
    });
    assert.equal(first.status, 200, first.text);
    const body = `grant_type=refresh_token&client_id=${NATIVE.client_id}&refresh_token=${String(first.body.refresh_token)}`;
    const refreshed = await postRaw(token, body, { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.deepEqual(scopeList(refreshed.body.scope), ['offline_access', 'read:sample', 'write:sample']);
  });

  it('realm on the plain password grant chooses the connection', async () => {
    const employee = await postJson(token, {
      grant_type: 'password',
      realm: 'employees',
      username: EMPLOYEE.username,
      password: EMPLOYEE.password,
      audience: SEED_API,
      scope: 'read:sample',
      ...WEB,
    });
    assert.equal(employee.status, 200, employee.text);
    // The seed user lives in the default directory, so naming another realm must not find them.
    const elsewhere = await postJson(token, seedParams({ realm: 'employees' }));
    assert.equal(elsewhere.status, 400);
    assert.equal(elsewhere.body.error, 'invalid_grant');
    const named = await postJson(token, seedParams({ realm: 'Username-Password-Authentication' }));
    assert.equal(named.status, 200, named.text);
  });
});
