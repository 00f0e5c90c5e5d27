/**
 * Seed: "Azure Active Directory v2.0 and the OAuth 2.0 resource owner
 * password credential" (shared/seeds/000).
 *
 *   POST https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token
 *   Content-Type: application/x-www-form-urlencoded
 *   client_id=6731de76-14a6-49ae-97bc-6eba6914391e
 *   scope=user.read%20openid%20profile%20offline_access  username  password
 *   grant_type=password
 *
 *   "A successful token response will look like:
 *   {"token_type": "Bearer", "scope": "User.Read profile openid email",
 *    "expires_in": 3599, "access_token": "...", "refresh_token": "...",
 *    "id_token": "..."}"
 *   "scope | If an access token was returned, this lists the scopes the
 *   access token is valid for." "id_token | Issued if the original scope
 *   parameter included the openid scope." "refresh_token | Issued if the
 *   original scope parameter included offline_access."
 *
 * DESIGN.md §3: the Entra path is form only; "the resource may come in
 * `scope` as `{identifier}/{scope}` or `{identifier}/.default`"; "form
 * bodies with `;charset=utf-8`; unknown parameters (MSAL's `client_info`,
 * `x-client-*`, `claims`), which are ignored (RFC 6749 §3.2)"; Entra-style
 * scopes are honoured on every path, because "MSAL posts those to whatever
 * token endpoint discovery advertises".
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, API, API_ES256, ENTRA, acmeFixture } from '../helpers/fixtures.js';
import { decodeJwt, get, postForm, postJson, postRaw } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { audiences, scopeList, verifyIssued } from '../helpers/token-checks.js';

const SEED_SCOPE = 'user.read openid profile offline_access';

describe('Entra ID seed: ROPC at /oauth2/v2.0/token', () => {
  let server: TestServer;
  let token: string;
  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
    token = server.at('/oauth2/v2.0/token');
  });
  after(() => server.close());

  const ropc = (scope: string, extra: Record<string, string> = {}): Record<string, string> => ({
    client_id: ENTRA.client_id,
    scope,
    username: ALICE.username,
    password: ALICE.password,
    grant_type: 'password',
    ...extra,
  });

  it('the seed request: 200 with token_type, scope, expires_in, ext_expires_in, access_token, refresh_token, id_token', async () => {
    const body = `client_id=${ENTRA.client_id}&scope=user.read%20openid%20profile%20offline_access&username=${encodeURIComponent(ALICE.username)}&password=${encodeURIComponent(ALICE.password)}&grant_type=password`;
    const res = await postRaw(token, body, { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(typeof res.body.expires_in, 'number');
    assert.equal(res.body.ext_expires_in, res.body.expires_in);
    assert.equal(typeof res.body.access_token, 'string');
    assert.equal(typeof res.body.refresh_token, 'string', 'offline_access was asked for');
    assert.equal(typeof res.body.id_token, 'string', 'openid was asked for');
    // user.read names no API of this tenant (it is Microsoft Graph's), so it is dropped; the rest is granted.
    assert.deepEqual(scopeList(res.body.scope), ['offline_access', 'openid', 'profile']);

    const at = await verifyIssued(server, res.body.access_token, { audience: `${server.issuer()}userinfo` });
    assert.deepEqual(audiences(at.payload), [`${server.issuer()}userinfo`]);
    const id = await verifyIssued(server, res.body.id_token, { audience: ENTRA.client_id, algorithms: ['RS256'] });
    assert.equal(id.payload.sub, at.payload.sub);
    assert.equal(id.payload.name, 'Alice Liddell', 'profile claims');
    assert.equal(id.payload.email, undefined, 'email was not asked for');

    const info = await get(server.at('/userinfo'), { authorization: `Bearer ${String(res.body.access_token)}` });
    assert.equal(info.status, 200, info.text);
    assert.equal(info.body.sub, at.payload.sub);
  });

  it('scope is present on this path even when it equals the request', async () => {
    const res = await postForm(token, ropc(`${API}/read:sample`));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.scope, `${API}/read:sample`);
  });

  it('the refresh token from the seed request works on the same path, and the response keeps the Entra shape', async () => {
    const first = await postForm(token, ropc(SEED_SCOPE));
    assert.equal(first.status, 200, first.text);
    const refreshed = await postForm(token, {
      client_id: ENTRA.client_id,
      grant_type: 'refresh_token',
      refresh_token: String(first.body.refresh_token),
      scope: 'openid profile offline_access',
    });
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.equal(refreshed.body.token_type, 'Bearer');
    assert.equal(typeof refreshed.body.refresh_token, 'string');
    assert.equal(refreshed.body.ext_expires_in, refreshed.body.expires_in);
    assert.deepEqual(scopeList(refreshed.body.scope), ['offline_access', 'openid', 'profile']);
  });

  it('{identifier}/{scope} selects the API as audience, and the response writes the scope with its identifier', async () => {
    const res = await postForm(token, ropc(`${API}/read:sample openid offline_access`));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      scopeList(res.body.scope),
      [`${API}/read:sample`, 'offline_access', 'openid', 'email', 'profile', 'address', 'phone'].sort(),
    );
    assert.equal(res.body.expires_in, 3600, 'the API token_lifetime');
    const { payload } = await verifyIssued(server, res.body.access_token, { audience: API });
    assert.deepEqual(audiences(payload).sort(), [API, `${server.issuer()}userinfo`].sort());
    assert.ok(scopeList(payload.scope).includes('read:sample'), 'the token carries the bare scope, as the API checks it');
    assert.ok(!scopeList(payload.scope).includes('write:sample'), 'only the named API scope');
    assert.equal(typeof res.body.refresh_token, 'string');
  });

  it('{identifier}/.default selects the API with every scope it has, written with the identifier', async () => {
    const res = await postForm(token, ropc(`${API}/.default`));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(scopeList(res.body.scope), [`${API}/edit`, `${API}/read:sample`, `${API}/write:sample`]);
    const { payload } = await verifyIssued(server, res.body.access_token, { audience: API });
    assert.equal(payload.aud, API);
    assert.deepEqual(scopeList(payload.scope), ['edit', 'read:sample', 'write:sample']);
  });

  it('an ES256 API chosen by an Entra scope gets an ES256 token', async () => {
    const res = await postForm(token, ropc(`${API_ES256}/.default`));
    assert.equal(res.status, 200, res.text);
    const { alg, payload } = await verifyIssued(server, res.body.access_token, { audience: API_ES256 });
    assert.equal(alg, 'ES256');
    assert.equal(payload.scope, 'read:es');
    assert.equal(res.body.scope, `${API_ES256}/read:es`);
  });

  it('scopes naming two different APIs are invalid_target', async () => {
    const res = await postForm(token, ropc(`${API}/read:sample ${API_ES256}/read:es`));
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_target');
    assert.equal(res.body.access_token, undefined);
    const mixed = await postForm(token, ropc(`${API}/.default ${API_ES256}/.default`));
    assert.equal(mixed.body.error, 'invalid_target');
  });

  it('a JSON body on this path is invalid_request', async () => {
    const res = await postJson(token, ropc(SEED_SCOPE));
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_request');
    assert.equal(res.body.access_token, undefined);
  });

  it('what MSAL sends works: ;charset=utf-8, client_info, x-client-*, claims, response_type, client-request-id', async () => {
    const requestId = '2f1b4a8e-6a0e-4b1c-9d8e-0f2a3b4c5d6e';
    const params = ropc(`${API}/read:sample openid profile offline_access`, {
      client_info: '1',
      'x-client-SKU': 'msal.js.node',
      'x-client-VER': '2.9.1',
      'x-client-OS': 'linux',
      'x-client-CPU': 'x64',
      'x-ms-lib-capability': 'retry-after, h429',
      'x-client-current-telemetry': '5|371,0,,,|,',
      'x-client-last-telemetry': '5|0|||0,0',
      'client-request-id': requestId,
      response_type: 'token id_token',
      claims: '{"access_token":{"xms_cc":{"values":["CP1"]}}}',
    });
    const res = await postRaw(token, new URLSearchParams(params).toString(), {
      'content-type': 'application/x-www-form-urlencoded;charset=utf-8',
      'client-request-id': requestId,
      'return-client-request-id': 'true',
      'x-client-SKU': 'msal.js.node',
      'x-client-VER': '2.9.1',
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(typeof res.body.id_token, 'string');
    assert.equal(typeof res.body.refresh_token, 'string');
    assert.ok(scopeList(res.body.scope).includes(`${API}/read:sample`));
    const { payload } = await verifyIssued(server, res.body.access_token, { audience: API });
    assert.ok(scopeList(payload.scope).includes('read:sample'));
  });

  it('the same Entra scopes work on /oauth/token, which discovery advertises to MSAL', async () => {
    const discovery = await get(`${server.issuer()}.well-known/openid-configuration`);
    const advertised = String(discovery.body.token_endpoint);
    assert.equal(advertised, server.at('/oauth/token'));
    const res = await postForm(
      advertised,
      ropc(`${API}/read:sample openid profile offline_access`, { client_info: '1', 'x-client-SKU': 'msal.js.node' }),
      {
        'content-type': 'application/x-www-form-urlencoded;charset=utf-8',
      },
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(typeof res.body.refresh_token, 'string');
    const { payload } = await verifyIssued(server, res.body.access_token, { audience: API });
    assert.deepEqual(audiences(payload).sort(), [API, `${server.issuer()}userinfo`].sort());
    assert.deepEqual(scopeList(payload.scope), ['offline_access', 'openid', 'profile', 'read:sample']);
    const dotDefault = await postForm(advertised, ropc(`${API_ES256}/.default`));
    assert.equal(dotDefault.status, 200, dotDefault.text);
    assert.equal(decodeJwt(String(dotDefault.body.access_token)).payload.aud, API_ES256);
    const twoApis = await postForm(advertised, ropc(`${API}/read:sample ${API_ES256}/read:es`));
    assert.equal(twoApis.body.error, 'invalid_target');
  });

  it('on /oauth/token too, Entra-style scopes are answered in that form, and the refresh request MSAL then sends works', async () => {
    // MSAL caches the access token under the response's `scope` and refreshes with the scopes it asked for.
    const advertised = server.at('/oauth/token');
    const asked = `${API}/read:sample openid profile offline_access`;
    const res = await postForm(advertised, ropc(asked));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(scopeList(res.body.scope), scopeList(asked));
    const refreshed = await postForm(advertised, {
      client_id: ENTRA.client_id,
      grant_type: 'refresh_token',
      refresh_token: String(res.body.refresh_token),
      scope: asked,
    });
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.deepEqual(scopeList(refreshed.body.scope), scopeList(asked));
    assert.deepEqual(scopeList((await verifyIssued(server, refreshed.body.access_token, { audience: API })).payload.scope), [
      'offline_access',
      'openid',
      'profile',
      'read:sample',
    ]);
    const whole = await postForm(advertised, {
      client_id: ENTRA.client_id,
      grant_type: 'refresh_token',
      refresh_token: String(refreshed.body.refresh_token),
      scope: `${API}/.default openid`,
    });
    assert.equal(whole.status, 200, whole.text);
    assert.deepEqual(scopeList((await verifyIssued(server, whole.body.access_token, { audience: API })).payload.scope), [
      'openid',
      'read:sample',
    ]);
    const widening = await postForm(advertised, {
      client_id: ENTRA.client_id,
      grant_type: 'refresh_token',
      refresh_token: String(whole.body.refresh_token),
      scope: `${API}/write:sample`,
    });
    assert.equal(widening.status, 400);
    assert.equal(widening.body.error, 'invalid_scope', 'a prefixed scope the grant never held is still a widening');
    const plain = await postForm(advertised, ropc('openid profile offline_access', { audience: API }));
    assert.deepEqual(
      scopeList(plain.body.scope),
      ['edit', 'offline_access', 'openid', 'profile', 'read:sample', 'write:sample'],
      'a request without Entra-style scopes is answered bare, as before',
    );
  });

  it('a wrong password is invalid_grant (the seed\'s "The authentication failed")', async () => {
    const res = await postForm(token, ropc(SEED_SCOPE, { password: 'wrong password' }));
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_grant');
  });
});
