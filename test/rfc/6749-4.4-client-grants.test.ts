/**
 * Client grants (DESIGN.md §9, Auth0's model; issue #11 point 8): the
 * client_credentials grant reaches an API only through a client grant
 * naming that application and API, with at most the grant's scopes.
 *
 * RFC 6749 §4.4.2: the client "is requesting access to the protected
 * resources under its control, or those of another resource owner that have
 * been previously arranged with the authorization server". A client grant
 * is that arrangement; without one the request is refused. §3.3: "The
 * authorization server MAY fully or partially ignore the scope requested by
 * the client, based on the authorization server policy […]. If the issued
 * access token scope is different from the one requested by the client, the
 * authorization server MUST include the "scope" response parameter". Auth0
 * answers a client without a grant 403 `access_denied`, "Client is not
 * authorized to access …". User grants (password, refresh, MFA) do not need
 * a client grant.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, acmeFixture } from '../helpers/fixtures.js';
import { decodeJwt, postForm } from '../helpers/http.js';
import { assertOAuthError, assertTokenResponse } from '../helpers/oauth-assertions.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const API_A = 'https://a.grants.test';
const API_B = 'https://b.grants.test';
/** client_credentials and password, with a client grant for API A only, narrower than A's scopes. */
const GRANTED = { client_id: 'grants-backend', client_secret: 'grants-backend-secret-000' };
/** client_credentials and no client grant at all. */
const UNGRANTED = { client_id: 'grants-ungranted', client_secret: 'grants-ungranted-secret-00' };
/** Its default_audience is B, where it holds no grant. */
const DEFAULTS_TO_B = { client_id: 'grants-default-b', client_secret: 'grants-default-b-secret-00' };

const sorted = (scope: unknown): string[] =>
  String(scope)
    .split(' ')
    .filter((s) => s !== '')
    .sort();

describe('client grants: client_credentials reaches only the APIs and scopes granted (DESIGN.md §9)', () => {
  let server: TestServer;
  let token: string;

  before(async () => {
    const { tenant } = await acmeFixture();
    tenant.apis = [
      ...(tenant.apis ?? []),
      { identifier: API_A, scopes: ['read:a', 'write:a', 'admin:a'], token_lifetime: 600 },
      { identifier: API_B, scopes: ['read:b'], token_lifetime: 600, allow_offline_access: true },
    ];
    tenant.applications = [
      ...(tenant.applications ?? []),
      { ...GRANTED, token_endpoint_auth_method: 'client_secret_post', grant_types: ['client_credentials', 'password', 'refresh_token'] },
      { ...UNGRANTED, token_endpoint_auth_method: 'client_secret_post', grant_types: ['client_credentials'] },
      { ...DEFAULTS_TO_B, token_endpoint_auth_method: 'client_secret_post', grant_types: ['client_credentials'], default_audience: API_B },
    ];
    tenant.client_grants = [
      ...(tenant.client_grants ?? []),
      { client_id: GRANTED.client_id, audience: API_A, scope: ['read:a', 'write:a'] },
      { client_id: DEFAULTS_TO_B.client_id, audience: API_A, scope: ['read:a'] },
    ];
    server = await startTestServer({ tenants: [tenant] });
    token = server.at('/oauth/token');
  });
  after(() => server.close());

  const clientCredentials = (client: Record<string, string>, params: Record<string, string> = {}) =>
    postForm(token, { grant_type: 'client_credentials', ...params, ...client });

  /** 403 access_denied naming the API the request resolved to, and nothing of the client's credentials or other APIs. */
  function assertNotAuthorized(
    res: Awaited<ReturnType<typeof clientCredentials>>,
    api: string,
    client: { client_secret: string },
    what: string,
  ): void {
    assertOAuthError(res, 403, 'access_denied', what);
    const description = String(res.body.error_description);
    assert.ok(description.includes(`"${api}"`), `${what}: names the API: ${description}`);
    assert.ok(!description.includes(client.client_secret), `${what}: no secret in ${description}`);
    for (const other of [API_A, API_B].filter((a) => a !== api))
      assert.ok(!description.includes(other), `${what}: names another API: ${description}`);
  }

  it('regression (issue #11 point 8): an application with client_credentials and no client grant gets 403 access_denied', async () => {
    assertNotAuthorized(await clientCredentials(UNGRANTED, { audience: API_A }), API_A, UNGRANTED, 'audience A');
    assertNotAuthorized(
      await clientCredentials(UNGRANTED, { audience: API_B, scope: 'read:b' }),
      API_B,
      UNGRANTED,
      'audience B with a scope',
    );
    // However the API is named: Entra-style scope, RFC 8707 resource.
    assertNotAuthorized(await clientCredentials(UNGRANTED, { scope: `${API_A}/.default` }), API_A, UNGRANTED, '{identifier}/.default');
    assertNotAuthorized(await clientCredentials(UNGRANTED, { resource: API_B }), API_B, UNGRANTED, 'resource');
  });

  it('regression (issue #11 point 8): with a client grant for API A, A works and B is 403 access_denied', async () => {
    const a = await clientCredentials(GRANTED, { audience: API_A });
    const { payload } = decodeJwt(assertTokenResponse(a, 'API A'));
    assert.equal(payload.aud, API_A);
    assert.equal(payload.client_id, GRANTED.client_id);
    assertNotAuthorized(await clientCredentials(GRANTED, { audience: API_B }), API_B, GRANTED, 'API B');
    // A default_audience is no way around it.
    assertNotAuthorized(await clientCredentials(DEFAULTS_TO_B), API_B, DEFAULTS_TO_B, 'default_audience B');
    assertTokenResponse(
      await clientCredentials(DEFAULTS_TO_B, { audience: API_A }),
      'the same application on the API it holds a grant for',
    );
  });

  it('regression (issue #11 point 8): scopes beyond the client grant are dropped, and the response says what was granted', async () => {
    const beyond = await clientCredentials(GRANTED, { audience: API_A, scope: 'read:a admin:a' });
    assert.equal(decodeJwt(assertTokenResponse(beyond)).payload.scope, 'read:a');
    assert.equal(beyond.body.scope, 'read:a', 'RFC 6749 §3.3: the response shows the scope it chose');

    const onlyUngranted = await clientCredentials(GRANTED, { audience: API_A, scope: 'admin:a' });
    assert.deepEqual(
      sorted(decodeJwt(assertTokenResponse(onlyUngranted)).payload.scope),
      ['read:a', 'write:a'],
      'nothing asked is granted: the granted scopes, never admin:a',
    );
    assert.deepEqual(sorted(onlyUngranted.body.scope), ['read:a', 'write:a']);

    const noScope = await clientCredentials(GRANTED, { audience: API_A });
    assert.deepEqual(sorted(noScope.body.scope), ['read:a', 'write:a'], 'no scope asked: every granted scope, not every scope of the API');

    const whole = await clientCredentials(GRANTED, { scope: `${API_A}/.default` });
    assert.deepEqual(
      sorted(decodeJwt(assertTokenResponse(whole)).payload.scope),
      ['read:a', 'write:a'],
      '{identifier}/.default is the whole grant, not the whole API',
    );
  });

  it('user grants are unaffected (issue #11 point 8): the password grant of the same application still reaches API B, and refreshes there', async () => {
    const res = await postForm(token, {
      grant_type: 'password',
      username: ALICE.username,
      password: ALICE.password,
      audience: API_B,
      scope: 'offline_access',
      ...GRANTED,
    });
    const { payload } = decodeJwt(assertTokenResponse(res, 'password grant for B'));
    assert.equal(payload.aud, API_B);
    assert.equal(payload.scope, 'offline_access read:b');
    const refreshed = await postForm(token, { grant_type: 'refresh_token', refresh_token: String(res.body.refresh_token), ...GRANTED });
    assert.equal(decodeJwt(assertTokenResponse(refreshed, 'refresh for B')).payload.aud, API_B);
  });

  it('a start logs, once, each application that has client_credentials and no client grant', () => {
    const warnings = server.logs
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => String(entry.msg).includes('has the client_credentials grant but no client grant'));
    assert.deepEqual(
      warnings.map((w) => w.client_id),
      [UNGRANTED.client_id],
      'exactly one line, for the one application without a grant',
    );
    assert.equal(warnings[0]?.level, 'warn', 'warn');
    assert.match(String(warnings[0]?.msg), /tenants\[0\]\.client_grants/, 'says what to add, and where');
  });
});
