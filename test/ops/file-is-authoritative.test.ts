/**
 * The configuration file is authoritative for what it declares (DESIGN.md
 * §2, §9; issue #11 point 9): an application, API, client grant, connection
 * or tenant the file declared at the last start and no longer declares stops
 * working at this start. Its rows are kept: declaring it again restores it,
 * except a removed application's refresh tokens, which were revoked when it
 * was removed (so a later application with that client_id never inherits
 * them).
 *
 * Each test restarts a server in one data directory with a smaller file,
 * as an operator edits latchkey.yaml and restarts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ALICE, API, API_ES256, EMPLOYEE, WEB, acmeFixture, clientGrantsForEveryApi } from '../helpers/fixtures.js';
import { decodeJwt, get, postForm, type JsonResponse } from '../helpers/http.js';
import { assertOAuthError, assertTokenResponse } from '../helpers/oauth-assertions.js';
import { startTestServer, type TenantInput, type TestServer } from '../helpers/server.js';

const LEAVING_APP = { client_id: 'acme-leaving', client_secret: 'acme-leaving-secret-0000' };
const LEAVING_API = 'https://leaving.acme.test';
const EMPLOYEES = 'employees';

type ApplicationInput = NonNullable<TenantInput['applications']>[number];
const leavingApp: ApplicationInput = {
  ...LEAVING_APP,
  token_endpoint_auth_method: 'client_secret_post',
  grant_types: ['password', 'refresh_token', 'client_credentials'],
};

/** The fixture tenant plus what the tests remove, minus what `without` names (client grants follow the applications and APIs). */
async function acme(
  without: { application?: boolean; api?: boolean; connection?: boolean; clientGrant?: { client_id: string; audience: string } } = {},
): Promise<TenantInput> {
  const { tenant } = await acmeFixture();
  const applications = [...(tenant.applications ?? []), ...(without.application ? [] : [leavingApp])];
  const apis = [
    ...(tenant.apis ?? []),
    ...(without.api ? [] : [{ identifier: LEAVING_API, scopes: ['read:leaving'], allow_offline_access: true }]),
  ];
  const removed = without.clientGrant;
  return {
    ...tenant,
    applications,
    apis,
    connections: (tenant.connections ?? []).filter((c) => !without.connection || c.name !== EMPLOYEES),
    users: (tenant.users ?? []).filter((u) => !without.connection || u.connection !== EMPLOYEES),
    client_grants: clientGrantsForEveryApi({ applications, apis }).filter(
      (g) => !removed || g.client_id !== removed.client_id || g.audience !== removed.audience,
    ),
  };
}

describe('the file is authoritative: what it no longer declares stops working at the next start (DESIGN.md §2)', () => {
  const dirs: string[] = [];
  let server: TestServer | undefined;
  after(async () => {
    await server?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** Stops the running server (if any) and starts one on the same data directory with `tenants`. */
  async function startIn(dir: string, tenants: TenantInput[]): Promise<TestServer> {
    await server?.close();
    server = await startTestServer({ dir, tenants });
    return server;
  }

  function newDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-authority-'));
    dirs.push(dir);
    return dir;
  }

  const token = (s: TestServer, params: Record<string, string>): Promise<JsonResponse> => postForm(s.at('/oauth/token'), params);
  const signIn = (s: TestServer, client: Record<string, string>, extra: Record<string, string> = {}) =>
    token(s, {
      grant_type: 'password',
      username: ALICE.username,
      password: ALICE.password,
      audience: API,
      scope: 'openid offline_access',
      ...client,
      ...extra,
    });
  const refresh = (s: TestServer, client: Record<string, string>, refreshToken: string) =>
    token(s, { grant_type: 'refresh_token', refresh_token: refreshToken, ...client });

  /** The warning a start logged for `object` (e.g. `application "acme-leaving"`). */
  function removalLog(s: TestServer, object: string): Record<string, unknown> | undefined {
    return s.logs
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.level === 'warn' && String(entry.msg).includes(`${object} is no longer in the configuration file`));
  }

  describe('an application', () => {
    const dir = newDir();
    let refreshToken: string;
    let accessToken: string;

    it('regression (issue #11 point 9): an application removed from the file gets 401 invalid_client at the next start, and its refresh and access tokens are refused', async () => {
      const before = await startIn(dir, [await acme()]);
      const issued = await signIn(before, LEAVING_APP);
      accessToken = assertTokenResponse(issued, 'sign-in while declared');
      refreshToken = String(issued.body.refresh_token);
      assert.equal(
        (await get(before.at('/userinfo'), { authorization: `Bearer ${accessToken}` })).status,
        200,
        'its access token works while it is declared',
      );

      const after = await startIn(dir, [await acme({ application: true })]);
      assertOAuthError(await signIn(after, LEAVING_APP), 401, 'invalid_client', 'password grant');
      assertOAuthError(await refresh(after, LEAVING_APP, refreshToken), 401, 'invalid_client', 'its refresh token');
      assertOAuthError(
        await token(after, { grant_type: 'client_credentials', audience: API, ...LEAVING_APP }),
        401,
        'invalid_client',
        'client_credentials',
      );
      const userinfo = await get(after.at('/userinfo'), { authorization: `Bearer ${accessToken}` });
      assert.equal(userinfo.status, 401, `its access token at userinfo: ${userinfo.text}`);
      assert.equal(userinfo.body.error, 'invalid_token');

      const logged = removalLog(after, `application "${LEAVING_APP.client_id}"`);
      assert.ok(logged, `a warning names the removed application:\n${after.logs.join('\n')}`);
      assert.equal(logged.revoked_refresh_token_families, 1);
      assertTokenResponse(await signIn(after, WEB), 'the other applications are untouched');
    });

    it('regression (issue #11 point 9): an application declared again works with a new sign-in, but its refresh token from before the removal stays refused', async () => {
      const again = await startIn(dir, [await acme()]);
      const fresh = await signIn(again, LEAVING_APP);
      assertTokenResponse(fresh, 'a new sign-in');
      assertTokenResponse(await refresh(again, LEAVING_APP, String(fresh.body.refresh_token)), 'its new refresh token');
      assertOAuthError(
        await refresh(again, LEAVING_APP, refreshToken),
        400,
        'invalid_grant',
        'the refresh token issued before the removal',
      );
      const restored = again.logs
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((e) => String(e.msg).includes(`application "${LEAVING_APP.client_id}" is declared again`));
      assert.ok(restored, 'the start says it is served again');
    });
  });

  it('regression (issue #11 point 9): a connection removed from the file: its users cannot sign in or refresh, a log line says so, and their data is kept; declaring it again restores them', async () => {
    const dir = newDir();
    const employee = {
      grant_type: 'password',
      username: EMPLOYEE.username,
      password: EMPLOYEE.password,
      realm: EMPLOYEES,
      audience: API,
      scope: 'offline_access',
      ...WEB,
    };
    const before = await startIn(dir, [await acme()]);
    const issued = await token(before, employee);
    assertTokenResponse(issued, 'employee sign-in while declared');
    const userId = decodeJwt(String(issued.body.access_token)).payload.sub;
    const refreshToken = String(issued.body.refresh_token);

    const after = await startIn(dir, [await acme({ connection: true })]);
    assertOAuthError(await token(after, employee), 400, 'invalid_request', 'sign-in with the removed realm');
    assertOAuthError(await refresh(after, WEB, refreshToken), 400, 'invalid_grant', "refresh of the connection's user");
    assertTokenResponse(await signIn(after, WEB), 'users of other connections are untouched');

    const logged = removalLog(after, `connection "${EMPLOYEES}"`);
    assert.ok(logged, `a warning names the connection:\n${after.logs.join('\n')}`);
    assert.equal(logged.users, 1, 'how many users are affected');
    const message = String(logged.msg);
    assert.match(message, /1 users/);
    assert.match(message, /data is kept/);
    assert.match(message, /declare it again/);

    const db = new Database(join(dir, 'latchkey.db'), { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare('SELECT id FROM users WHERE username = ?').get(EMPLOYEE.username) as { id: string } | undefined;
      assert.equal(row?.id, userId, "the user's row is kept");
    } finally {
      db.close();
    }

    const again = await startIn(dir, [await acme()]);
    const back = await token(again, employee);
    assert.equal(decodeJwt(assertTokenResponse(back, 'sign-in once declared again')).payload.sub, userId, 'the same user');
    assertTokenResponse(
      await refresh(again, WEB, refreshToken),
      'a refresh token from before is honoured again: removing a connection revokes nothing',
    );
  });

  it('regression (issue #11 point 9): an API removed from the file is refused as an unknown audience (invalid_target), its refresh tokens too', async () => {
    const dir = newDir();
    const before = await startIn(dir, [await acme()]);
    const issued = await signIn(before, WEB, { audience: LEAVING_API, scope: 'offline_access' });
    assert.equal(decodeJwt(assertTokenResponse(issued)).payload.aud, LEAVING_API);
    const refreshToken = String(issued.body.refresh_token);
    assertTokenResponse(
      await token(before, { grant_type: 'client_credentials', audience: LEAVING_API, ...WEB }),
      'client_credentials while declared',
    );

    const after = await startIn(dir, [await acme({ api: true })]);
    assertOAuthError(await signIn(after, WEB, { audience: LEAVING_API }), 400, 'invalid_target', 'password grant');
    assertOAuthError(
      await token(after, { grant_type: 'client_credentials', audience: LEAVING_API, ...WEB }),
      400,
      'invalid_target',
      'client_credentials',
    );
    assertOAuthError(await refresh(after, WEB, refreshToken), 400, 'invalid_grant', 'its refresh token');
    assert.ok(removalLog(after, `API "${LEAVING_API}"`), 'a warning names the API');
  });

  it('regression (issue #11 point 9): a client grant removed from the file: client_credentials for that API is 403 at the next start', async () => {
    const dir = newDir();
    const before = await startIn(dir, [await acme()]);
    assertTokenResponse(await token(before, { grant_type: 'client_credentials', audience: API, ...WEB }), 'while granted');

    const after = await startIn(dir, [await acme({ clientGrant: { client_id: WEB.client_id, audience: API } })]);
    assertOAuthError(
      await token(after, { grant_type: 'client_credentials', audience: API, ...WEB }),
      403,
      'access_denied',
      'the removed grant',
    );
    assertTokenResponse(
      await token(after, { grant_type: 'client_credentials', audience: API_ES256, ...WEB }),
      'its other grants still work',
    );
    assert.ok(removalLog(after, `client grant "${WEB.client_id}" → "${API}"`), 'a warning names the client grant');
  });

  it('a tenant removed from the file is not served at the next start (404), and is again once declared again', async () => {
    const dir = newDir();
    const globex: TenantInput = { name: 'globex', apis: [{ identifier: 'https://api.globex.test' }] };
    const before = await startIn(dir, [await acme(), globex]);
    assert.equal((await get(`${before.issuer('globex')}.well-known/openid-configuration`)).status, 200);

    const after = await startIn(dir, [await acme()]);
    assert.equal((await get(`${after.issuer('globex')}.well-known/openid-configuration`)).status, 404);
    assert.ok(removalLog(after, 'tenant "globex"'), 'a warning names the tenant');

    const again = await startIn(dir, [await acme(), globex]);
    assert.equal((await get(`${again.issuer('globex')}.well-known/openid-configuration`)).status, 200);
  });
});
