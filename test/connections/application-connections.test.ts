/**
 * Issue #5 §3: any connection can be the realm, and an application's
 * `connections` list limits which realms it may use (the hole Dex had to
 * close: a client picking another client's user directory). Refused before
 * any password is checked or counted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, EMPLOYEE, WEB, acmeFixture } from '../helpers/fixtures.js';
import { postForm } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const STAFF_APP = { client_id: 'acme-staff', client_secret: 'acme-staff-secret-0001' };
const PASSWORD_REALM = 'http://auth0.com/oauth/grant-type/password-realm';

describe('issue #5: per-application connections limit the realms', () => {
  let server: TestServer;
  before(async () => {
    const { tenant } = await acmeFixture();
    server = await startTestServer({
      tenants: [
        {
          ...tenant,
          applications: [
            ...tenant.applications!.map((a) =>
              a.client_id === WEB.client_id ? { ...a, connections: ['Username-Password-Authentication'] } : a,
            ),
            {
              ...STAFF_APP,
              token_endpoint_auth_method: 'client_secret_post',
              grant_types: ['password', PASSWORD_REALM],
              connections: ['employees'],
            },
          ],
        },
      ],
    });
  });
  after(() => server.close());

  const login = (client: Record<string, string>, user: { username: string; password: string }, extra: Record<string, string> = {}) =>
    postForm(server.at('/oauth/token'), { grant_type: 'password', username: user.username, password: user.password, ...client, ...extra });

  it('an application signs users in with the realms it lists', async () => {
    assert.equal((await login(WEB, ALICE, { realm: 'Username-Password-Authentication' })).status, 200);
    const staff = await login(STAFF_APP, EMPLOYEE, { realm: 'employees' });
    assert.equal(staff.status, 200, staff.text);
  });

  it('a realm outside the list is unauthorized_client, even with the right password, and nothing is checked or counted', async () => {
    for (const [client, user, realm] of [
      [WEB, EMPLOYEE, 'employees'],
      [STAFF_APP, ALICE, 'Username-Password-Authentication'],
    ] as const) {
      const res = await login(client, user, { realm });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error, 'unauthorized_client');
      assert.match(String(res.body.error_description), new RegExp(realm));
    }
    const viaRealmGrant = await login(WEB, EMPLOYEE, { grant_type: PASSWORD_REALM, realm: 'employees' });
    assert.equal(viaRealmGrant.body.error, 'unauthorized_client');
    assert.ok(
      !server.logs.some((l) => l.includes('"security_event":"login_failure"') && l.includes('employees') && l.includes(WEB.client_id)),
      'no attempt recorded',
    );
  });

  it("without a realm, an application gets the tenant's default directory if it may use it, else its own first connection", async () => {
    assert.equal((await login(WEB, ALICE)).status, 200, 'default directory, allowed');
    const staff = await login(STAFF_APP, EMPLOYEE);
    assert.equal(staff.status, 200, `its own connection: ${staff.text}`);
    assert.equal((await login(STAFF_APP, ALICE)).body.error, 'invalid_grant', 'Alice is not in the employees directory');
  });

  it('configuration: a listed connection that does not exist stops start-up naming the key', async () => {
    const { resolveConfig, ConfigError } = await import('../../src/config/load.js');
    assert.throws(
      () =>
        resolveConfig(
          { tenants: [{ name: 't', applications: [{ client_id: 'a', client_secret: 'a-secret-0001', connections: ['nope'] }] }] },
          '/tmp',
        ),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.includes('applications[0].connections[0]')),
    );
  });
});
