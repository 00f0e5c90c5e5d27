/**
 * DESIGN.md §9, issue #15 points 2 and 3: `clients` in Auth0's shapes.
 * A client created through the API answers its secret once, is held to the
 * file's rules, works at once (with a client grant before client_credentials
 * does), survives restarts, and is never disabled by config apply; one the
 * file declares is read-only (409 managed_by_config); a deleted one's tokens
 * and refresh tokens are refused. A file that later declares an API-created
 * client_id takes it over.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { ALICE, API, WEB } from '../helpers/fixtures.js';
import type { HttpsTestServer } from '../helpers/tls.js';
import { tlsUnavailableReason } from '../helpers/tls.js';
import { assertManagementError, managementToken, mgmt, startManagementServer } from './helpers.js';

const GLOBEX_APP = { client_id: 'globex-app', client_secret: 'globex-app-secret-0123456789' };
const RATE = { management_api: { rate_limit: { requests: 10_000, per_seconds: 60 } } };

describe('Management API clients (DESIGN.md §9)', { skip: tlsUnavailableReason() }, () => {
  let server: HttpsTestServer;
  let api: ReturnType<typeof mgmt>;
  const secretsSeen: string[] = [];

  before(async () => {
    server = await startManagementServer({
      tenant: RATE,
      otherTenants: () => [
        {
          name: 'globex',
          connections: [{ name: 'db', type: 'database' }],
          applications: [{ ...GLOBEX_APP, token_endpoint_auth_method: 'client_secret_post', grant_types: ['client_credentials'] }],
        },
      ],
    });
    api = mgmt(server, await managementToken(server));
  });
  after(async () => {
    // A secret never reaches a log line, whatever happened to the client since.
    const logs = server?.server.logs.join('\n') ?? '';
    for (const secret of secretsSeen) assert.ok(!logs.includes(secret), 'a client secret was logged');
    await server?.close();
  });

  const clientCredentials = (client: { client_id: string; client_secret: string }, audience: string) =>
    server.postForm(server.at('/oauth/token'), { grant_type: 'client_credentials', ...client, audience });

  async function createClient(body: Record<string, unknown>) {
    const created = await api.post('/clients', body);
    assert.equal(created.status, 201, created.text);
    if (typeof created.body.client_secret === 'string') secretsSeen.push(created.body.client_secret);
    return created.body;
  }

  it('POST a non_interactive client: 201 with the client_secret once, client_secret_post and client_credentials; GET never shows the secret', async () => {
    const body = await createClient({ name: 'Deploy bot', app_type: 'non_interactive', description: 'CI' });
    assert.equal(body.token_endpoint_auth_method, 'client_secret_post');
    assert.deepEqual(body.grant_types, ['client_credentials']);
    assert.equal(body.app_type, 'non_interactive');
    assert.equal(body.is_first_party, true);
    assert.equal(body.description, 'CI');
    assert.match(String(body.client_secret), /^[A-Za-z0-9_-]{64}$/);
    assert.match(String(body.client_id), /^[0-9a-f]{32}$/);

    const fetched = await api.get(`/clients/${body.client_id}`);
    assert.equal(fetched.status, 200, fetched.text);
    assert.equal(fetched.body.client_secret, undefined);
    assert.equal(fetched.body.name, 'Deploy bot');
    assert.ok(!fetched.text.includes(String(body.client_secret)));
    assert.ok(!fetched.text.includes('hmac-sha256'), 'nor its hash');

    const listed = await api.get('/clients?include_totals=true&per_page=100');
    assert.equal(listed.status, 200, listed.text);
    const ids = (listed.body.clients as Array<{ client_id: string }>).map((c) => c.client_id);
    assert.ok(ids.includes(String(body.client_id)), 'API-created and declared clients are listed together');
    assert.ok(ids.includes(WEB.client_id));
    assert.equal(listed.body.total, ids.length);
    assert.ok(!listed.text.includes('"client_secret"'), 'no secret in a list');
    const picked = await api.get(`/clients/${body.client_id}?fields=client_id,name`);
    assert.deepEqual(picked.body, { client_id: body.client_id, name: 'Deploy bot' });
    const without = await api.get(`/clients/${body.client_id}?fields=callbacks&include_fields=false`);
    assert.equal(without.body.callbacks, undefined);
    assert.equal(without.body.name, 'Deploy bot');
  });

  it('a new client without a client grant for the Management API cannot get a token for it (403 access_denied); with one it can, at once', async () => {
    const body = await createClient({ name: 'Needs a grant', app_type: 'non_interactive' });
    const client = { client_id: String(body.client_id), client_secret: String(body.client_secret) };
    const refused = await clientCredentials(client, `${server.issuer()}api/v2/`);
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.body.error, 'access_denied');

    const grant = await api.post('/client-grants', {
      client_id: client.client_id,
      audience: `${server.issuer()}api/v2/`,
      scope: ['read:clients'],
    });
    assert.equal(grant.status, 201, grant.text);
    const issued = await clientCredentials(client, `${server.issuer()}api/v2/`);
    assert.equal(issued.status, 200, issued.text);
    assert.equal(decodeJwt(String(issued.body.access_token)).scope, 'read:clients');
    const own = mgmt(server, String(issued.body.access_token));
    assert.equal((await own.get('/clients')).status, 200);
    assertManagementError(await own.post('/clients', { name: 'x' }), 403, 'insufficient_scope');
  });

  it('app_type spa and native are public clients (none, no secret); regular_web is confidential with authorization_code', async () => {
    const spa = await createClient({ name: 'SPA', app_type: 'spa', callbacks: ['https://spa.acme.test/callback'] });
    assert.equal(spa.token_endpoint_auth_method, 'none');
    assert.equal(spa.client_secret, undefined);
    assert.deepEqual(spa.grant_types, ['authorization_code', 'refresh_token']);
    const native = await createClient({ name: 'App', app_type: 'native', callbacks: ['com.acme.app:/callback'] });
    assert.equal(native.token_endpoint_auth_method, 'none');
    assert.equal(native.client_secret, undefined);
    const web = await createClient({ name: 'Web', app_type: 'regular_web', callbacks: ['https://web.acme.test/cb'] });
    assert.equal(web.token_endpoint_auth_method, 'client_secret_post');
    assert.equal(typeof web.client_secret, 'string');
    assert.deepEqual(web.grant_types, ['authorization_code', 'refresh_token']);
  });

  it("the file's rules hold: authorization_code without callbacks, client_credentials on a public client, an unknown field: 400 invalid_body naming it", async () => {
    const noCallbacks = await api.post('/clients', { name: 'x', app_type: 'spa' });
    assertManagementError(noCallbacks, 400, 'invalid_body');
    assert.match(String(noCallbacks.body.message), /callbacks/);
    const publicMachine = await api.post('/clients', {
      name: 'x',
      token_endpoint_auth_method: 'none',
      grant_types: ['client_credentials'],
    });
    assertManagementError(publicMachine, 400, 'invalid_body');
    assert.match(String(publicMachine.body.message), /grant_types/);
    const unknown = await api.post('/clients', { name: 'x', app_type: 'non_interactive', custom_login_page: '<html>' });
    assertManagementError(unknown, 400, 'invalid_body');
    assert.match(String(unknown.body.message), /custom_login_page/);
    assertManagementError(await api.post('/clients', { app_type: 'non_interactive' }), 400, 'invalid_body');
    assertManagementError(await api.post('/clients', { name: '<script>' }), 400, 'invalid_body');
    assertManagementError(
      await api.post('/clients', { name: 'x', callbacks: ['javascript:alert(1)'], app_type: 'spa' }),
      400,
      'invalid_body',
    );
  });

  it('rotate-secret: the new secret, once; the old one stops working at once', async () => {
    const body = await createClient({ name: 'Rotating', app_type: 'non_interactive' });
    const clientId = String(body.client_id);
    await api.post('/client-grants', { client_id: clientId, audience: API, scope: ['read:sample'] });
    const old = { client_id: clientId, client_secret: String(body.client_secret) };
    assert.equal((await clientCredentials(old, API)).status, 200);

    const rotated = await api.post(`/clients/${clientId}/rotate-secret`);
    assert.equal(rotated.status, 200, rotated.text);
    const fresh = String(rotated.body.client_secret);
    secretsSeen.push(fresh);
    assert.notEqual(fresh, old.client_secret);
    const refused = await clientCredentials(old, API);
    assert.equal(refused.status, 401, refused.text);
    assert.equal(refused.body.error, 'invalid_client');
    assert.equal((await clientCredentials({ client_id: clientId, client_secret: fresh }, API)).status, 200);
    assert.equal((await api.get(`/clients/${clientId}`)).body.client_secret, undefined);
  });

  it('PATCH changes only the fields sent; making a public client confidential draws a secret, told in that answer only', async () => {
    const body = await createClient({ name: 'Patched', app_type: 'spa', callbacks: ['https://a.acme.test/cb'] });
    const clientId = String(body.client_id);
    const renamed = await api.patch(`/clients/${clientId}`, { name: 'Renamed', allowed_logout_urls: ['https://a.acme.test/bye'] });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal(renamed.body.name, 'Renamed');
    assert.deepEqual(renamed.body.callbacks, ['https://a.acme.test/cb']);
    assert.deepEqual(renamed.body.allowed_logout_urls, ['https://a.acme.test/bye']);
    assert.equal(renamed.body.app_type, 'spa');
    assert.equal(renamed.body.client_secret, undefined);

    const confidential = await api.patch(`/clients/${clientId}`, { token_endpoint_auth_method: 'client_secret_basic' });
    assert.equal(confidential.status, 200, confidential.text);
    assert.match(String(confidential.body.client_secret), /^[A-Za-z0-9_-]{64}$/);
    secretsSeen.push(String(confidential.body.client_secret));
    const again = await api.patch(`/clients/${clientId}`, { name: 'Again' });
    assert.equal(again.body.client_secret, undefined, 'an existing secret is never told again');
  });

  it('a client the file declares is read-only: PATCH, DELETE and rotate-secret answer 409 managed_by_config', async () => {
    assertManagementError(await api.patch(`/clients/${WEB.client_id}`, { name: 'mine now' }), 409, 'managed_by_config');
    assertManagementError(await api.del(`/clients/${WEB.client_id}`), 409, 'managed_by_config');
    assertManagementError(await api.post(`/clients/${WEB.client_id}/rotate-secret`), 409, 'managed_by_config');
    const web = await api.get(`/clients/${WEB.client_id}`);
    assert.equal(web.status, 200, web.text);
    assert.equal(web.body.name, WEB.client_id, 'unchanged');
    assert.equal((await clientCredentials(WEB, API)).status, 200, "the file's secret still works");
  });

  it("an unknown client_id and another tenant's client answer 404 inexistent_client", async () => {
    for (const path of ['/clients/no-such-client', `/clients/${GLOBEX_APP.client_id}`]) {
      assertManagementError(await api.get(path), 404, 'inexistent_client');
      assertManagementError(await api.patch(path, { name: 'x' }), 404, 'inexistent_client');
      assertManagementError(await api.del(path), 404, 'inexistent_client');
      assertManagementError(await api.post(`${path}/rotate-secret`), 404, 'inexistent_client');
    }
    assert.equal((await clientCredentials(GLOBEX_APP, `${server.issuer('globex')}api/v2/`)).status, 401, 'not a client of acme');
  });

  it('DELETE an API-created client: its grants go, its refresh-token families are revoked, its tokens are refused', async () => {
    const body = await createClient({ name: 'Doomed', grant_types: ['password', 'refresh_token', 'client_credentials'] });
    const client = { client_id: String(body.client_id), client_secret: String(body.client_secret) };
    await api.post('/client-grants', { client_id: client.client_id, audience: `${server.issuer()}api/v2/`, scope: ['read:clients'] });
    const signedIn = await server.postForm(server.at('/oauth/token'), {
      grant_type: 'password',
      ...client,
      username: ALICE.username,
      password: ALICE.password,
      audience: API,
      scope: 'openid offline_access',
    });
    assert.equal(signedIn.status, 200, signedIn.text);
    assert.equal(typeof signedIn.body.refresh_token, 'string');
    const machineToken = String((await clientCredentials(client, `${server.issuer()}api/v2/`)).body.access_token);
    assert.equal((await mgmt(server, machineToken).get('/clients')).status, 200);

    const runtime = server.server.server.runtime;
    const tenantId = runtime.catalog.tenant('acme')?.id ?? '';
    const userId = String(decodeJwt(String(signedIn.body.access_token)).sub);
    const liveBefore = await runtime.stores.refreshTokens.countLiveForUser(tenantId, userId, new Date());

    const deleted = await api.del(`/clients/${client.client_id}`);
    assert.equal(deleted.status, 204, deleted.text);
    assertManagementError(await api.get(`/clients/${client.client_id}`), 404, 'inexistent_client');
    const grants = await api.get(`/client-grants?client_id=${client.client_id}`);
    assert.deepEqual(grants.body, []);
    assert.equal(await runtime.stores.refreshTokens.countLiveForUser(tenantId, userId, new Date()), liveBefore - 1);
    assert.equal((await mgmt(server, machineToken).get('/clients')).status, 401, 'its access token is refused');
    const userinfo = await server.get(server.at('/userinfo'), { authorization: `Bearer ${signedIn.body.access_token}` });
    assert.equal(userinfo.status, 401, userinfo.text);
    assert.equal((await clientCredentials(client, API)).status, 401);
  });
});

describe('Management API clients across restarts (DESIGN.md §9 "The file and the API")', { skip: tlsUnavailableReason() }, () => {
  let dir: string;
  let server: HttpsTestServer | undefined;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-clients-restart-'));
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an API-created client survives restarts and config apply never disables it; a file that declares its client_id takes it over', async () => {
    server = await startManagementServer({ dir, tenant: RATE });
    let api = mgmt(server, await managementToken(server));
    const created = await api.post('/clients', { name: 'Survivor', app_type: 'non_interactive' });
    assert.equal(created.status, 201, created.text);
    const clientId = String(created.body.client_id);
    const apiSecret = String(created.body.client_secret);
    const machineToken = (secret: string) =>
      (server as HttpsTestServer).postForm((server as HttpsTestServer).at('/oauth/token'), {
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: secret,
        audience: API,
      });
    assert.equal((await api.post('/client-grants', { client_id: clientId, audience: API, scope: ['read:sample'] })).status, 201);
    await server.close();

    // The same file again: the API's client is not the file's, so this start leaves it alone.
    server = await startManagementServer({ dir, tenant: RATE });
    api = mgmt(server, await managementToken(server));
    const kept = await api.get(`/clients/${clientId}`);
    assert.equal(kept.status, 200, kept.text);
    assert.equal(kept.body.name, 'Survivor');
    const token = await machineToken(apiSecret);
    assert.equal(token.status, 200, token.text);
    assert.ok(!server.server.logs.some((l) => l.includes(clientId) && l.includes('disabl')), 'not disabled at start');
    await server.close();

    // The file now declares that client_id: it takes the client over (its settings and secret win), read-only through the API.
    const fileSecret = 'file-owned-secret-0123456789';
    server = await startManagementServer({
      dir,
      tenant: {
        ...RATE,
        applications: [
          {
            client_id: clientId,
            client_secret: fileSecret,
            name: 'Adopted',
            token_endpoint_auth_method: 'client_secret_post',
            grant_types: ['client_credentials'],
          },
        ],
      },
    });
    api = mgmt(server, await managementToken(server));
    const adopted = await api.get(`/clients/${clientId}`);
    assert.equal(adopted.body.name, 'Adopted');
    assertManagementError(await api.patch(`/clients/${clientId}`, { name: 'back' }), 409, 'managed_by_config');
    const withApiSecret = await machineToken(apiSecret);
    assert.equal(withApiSecret.status, 401, 'the secret the API drew is replaced by the file’s');
    const withFileSecret = await machineToken(fileSecret);
    assert.equal(withFileSecret.status, 200, withFileSecret.text);
  });
});
