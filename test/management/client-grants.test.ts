/**
 * DESIGN.md §9, issue #15 points 2 and 3: `client-grants` in Auth0's shape
 * `{id, client_id, audience, scope}`. A grant decides whether
 * client_credentials gets a token for an API, and with which scopes; a grant
 * for `{issuer}api/v2/` is allowed; the scopes must be the API's (400); one
 * grant per client and API (409 client_grant_conflict); a grant the file
 * declares is read-only (409 managed_by_config).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { API, API_NO_OFFLINE, WEB } from '../helpers/fixtures.js';
import type { HttpsTestServer } from '../helpers/tls.js';
import { tlsUnavailableReason } from '../helpers/tls.js';
import { assertManagementError, MGMT_CLIENT, managementToken, mgmt, startManagementServer, GLOBEX_MGMT, globexTenant } from './helpers.js';

describe('Management API client grants (DESIGN.md §9)', { skip: tlsUnavailableReason() }, () => {
  let server: HttpsTestServer;
  let api: ReturnType<typeof mgmt>;
  let machine: { client_id: string; client_secret: string };
  let mgmtAudience: string;

  before(async () => {
    server = await startManagementServer({
      tenant: { management_api: { rate_limit: { requests: 10_000, per_seconds: 60 } } },
      otherTenants: (url) => [globexTenant(url, ['read:client_grants'])],
    });
    mgmtAudience = `${server.issuer()}api/v2/`;
    api = mgmt(server, await managementToken(server));
    const created = await api.post('/clients', { name: 'Machine', app_type: 'non_interactive' });
    assert.equal(created.status, 201, created.text);
    machine = { client_id: String(created.body.client_id), client_secret: String(created.body.client_secret) };
  });
  after(() => server?.close());

  const token = (audience: string, scope?: string) =>
    server.postForm(server.at('/oauth/token'), {
      grant_type: 'client_credentials',
      ...machine,
      audience,
      ...(scope === undefined ? {} : { scope }),
    });

  it('POST a grant: 201 {id, client_id, audience, scope}; client_credentials then gets exactly its scopes', async () => {
    assert.equal((await token(API)).status, 403, 'no grant yet');
    const created = await api.post('/client-grants', { client_id: machine.client_id, audience: API, scope: ['read:sample'] });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(
      { ...created.body, id: undefined },
      {
        id: undefined,
        client_id: machine.client_id,
        audience: API,
        scope: ['read:sample'],
        allow_any_organization: false,
        is_system: false,
        subject_type: 'client',
      },
    );
    const issued = await token(API);
    assert.equal(issued.status, 200, issued.text);
    assert.equal(decodeJwt(String(issued.body.access_token)).scope, 'read:sample');

    const patched = await api.patch(`/client-grants/${created.body.id}`, { scope: ['read:sample', 'write:sample'] });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(patched.body.scope, ['read:sample', 'write:sample']);
    assert.equal(decodeJwt(String((await token(API)).body.access_token)).scope, 'read:sample write:sample');

    assert.equal((await api.del(`/client-grants/${created.body.id}`)).status, 204);
    const refused = await token(API);
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.body.error, 'access_denied');
  });

  it('a grant for the built-in Management API is allowed; deleting it refuses the tokens already issued (401)', async () => {
    const created = await api.post('/client-grants', { client_id: machine.client_id, audience: mgmtAudience, scope: ['read:clients'] });
    assert.equal(created.status, 201, created.text);
    const issued = await token(mgmtAudience);
    assert.equal(issued.status, 200, issued.text);
    const own = mgmt(server, String(issued.body.access_token));
    assert.equal((await own.get('/clients')).status, 200);
    assert.equal((await api.del(`/client-grants/${created.body.id}`)).status, 204);
    assertManagementError(await own.get('/clients'), 401, 'invalid_token');
  });

  it('a scope the API lacks: 400; an unknown client: 404 inexistent_client; an unknown API: 404 inexistent_resource_server; a second grant: 409', async () => {
    const badScope = await api.post('/client-grants', {
      client_id: machine.client_id,
      audience: API,
      scope: ['read:sample', 'delete:everything'],
    });
    assertManagementError(badScope, 400, 'invalid_body');
    assert.match(String(badScope.body.message), /delete:everything/);
    assertManagementError(
      await api.post('/client-grants', { client_id: machine.client_id, audience: mgmtAudience, scope: ['read:secrets'] }),
      400,
      'invalid_body',
    );
    assertManagementError(
      await api.post('/client-grants', { client_id: 'no-such-client', audience: API, scope: [] }),
      404,
      'inexistent_client',
    );
    assertManagementError(
      await api.post('/client-grants', { client_id: GLOBEX_MGMT.client_id, audience: API, scope: [] }),
      404,
      'inexistent_client',
    );
    assertManagementError(
      await api.post('/client-grants', { client_id: machine.client_id, audience: 'https://nowhere.test', scope: [] }),
      404,
      'inexistent_resource_server',
    );
    assertManagementError(
      await api.post('/client-grants', { client_id: machine.client_id, audience: `${server.issuer()}mfa/`, scope: [] }),
      404,
      'inexistent_resource_server',
    );
    const first = await api.post('/client-grants', { client_id: machine.client_id, audience: API_NO_OFFLINE, scope: [] });
    assert.equal(first.status, 201, first.text);
    assertManagementError(
      await api.post('/client-grants', { client_id: machine.client_id, audience: API_NO_OFFLINE, scope: ['read:x'] }),
      409,
      'client_grant_conflict',
    );
    assertManagementError(await api.patch(`/client-grants/${first.body.id}`, { scope: ['nope'] }), 400, 'invalid_body');
    assertManagementError(
      await api.post('/client-grants', { client_id: machine.client_id, audience: API, scope: 'read:sample' }),
      400,
      'invalid_body',
    );
  });

  it('a grant the file declares is read-only (409 managed_by_config); another tenant’s grant id is 404', async () => {
    const listed = await api.get(`/client-grants?client_id=${MGMT_CLIENT.client_id}`);
    assert.equal(listed.status, 200, listed.text);
    const declared = (listed.body as unknown as Array<{ id: string; audience: string }>).find((g) => g.audience === mgmtAudience);
    assert.ok(declared, listed.text);
    assertManagementError(await api.patch(`/client-grants/${declared.id}`, { scope: ['read:clients'] }), 409, 'managed_by_config');
    assertManagementError(await api.del(`/client-grants/${declared.id}`), 409, 'managed_by_config');

    const globex = mgmt(server, await managementToken(server, GLOBEX_MGMT, 'globex'), 'globex');
    const theirs = await globex.get('/client-grants');
    assert.equal(theirs.status, 200, theirs.text);
    const theirId = (theirs.body as unknown as Array<{ id: string }>)[0]?.id;
    assert.ok(theirId);
    assert.ok(!theirs.text.includes(MGMT_CLIENT.client_id), 'globex sees only its own grants');
    assertManagementError(await api.patch(`/client-grants/${theirId}`, { scope: [] }), 404, 'inexistent_client_grant');
    assertManagementError(await api.del(`/client-grants/${theirId}`), 404, 'inexistent_client_grant');
  });

  it('lists filter by audience and client_id, page by page/per_page with totals, and by checkpoint (take/from → next) as the SDK pages', async () => {
    const byAudience = await api.get(`/client-grants?audience=${encodeURIComponent(API)}&include_totals=true`);
    assert.equal(byAudience.status, 200, byAudience.text);
    const grants = byAudience.body.client_grants as Array<{ audience: string; client_id: string }>;
    assert.ok(grants.length >= 1);
    assert.ok(grants.every((g) => g.audience === API));
    assert.equal(byAudience.body.total, grants.length);
    assert.ok(
      grants.some((g) => g.client_id === WEB.client_id),
      "the file's grants are listed with the API's",
    );

    const all = (await api.get('/client-grants?per_page=100')).body as unknown as Array<{ id: string }>;
    const walked: string[] = [];
    let from: string | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const page = await api.get(`/client-grants?take=2&include_totals=true${from === undefined ? '' : `&from=${from}`}`);
      assert.equal(page.status, 200, page.text);
      walked.push(...(page.body.client_grants as Array<{ id: string }>).map((g) => g.id));
      from = page.body.next as string | undefined;
      if (from === undefined) break;
    }
    assert.deepEqual(
      walked,
      all.map((g) => g.id),
      'the checkpoint walk yields every grant once, in order',
    );
    const second = await api.get('/client-grants?page=1&per_page=2&include_totals=true');
    assert.equal(second.body.start, 2);
    assert.deepEqual(
      (second.body.client_grants as Array<{ id: string }>).map((g) => g.id),
      all.slice(2, 4).map((g) => g.id),
    );
    assertManagementError(await api.get('/client-grants?from=garbage'), 400, 'invalid_query_string');
  });
});
