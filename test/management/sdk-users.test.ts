/**
 * Issue #15 tests: the `auth0` package's ManagementClient (v7, token mode,
 * `domain: 'host:port/acme'`), unchanged, over HTTPS, on what support staff
 * and backends do with users: create, read, search, find by email, update
 * metadata and password, block and unblock, lift brute-force blocks, read
 * authentication methods, refresh tokens and logs, delete; and read the
 * connections. Every answer is also checked against the OpenAPI document
 * (conformingFetch).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManagementClient } from 'auth0';
import { WEB } from '../helpers/fixtures.js';
import type { HttpsTestServer } from '../helpers/tls.js';
import { tlsUnavailableReason } from '../helpers/tls.js';
import { conformingFetch, managementToken, startManagementServer } from './helpers.js';

const PASSWORD = 'a long and unguessable passphrase 42';

describe('auth0 ManagementClient: users, user blocks, logs, connections', { skip: tlsUnavailableReason() }, () => {
  let server: HttpsTestServer;
  let management: ManagementClient;

  before(async () => {
    server = await startManagementServer({
      tenant: {
        management_api: { rate_limit: { requests: 10_000, per_seconds: 60 } },
        attack_protection: { brute_force: { threshold: 2 } },
      },
    });
    management = new ManagementClient({
      domain: `${server.host}/acme`,
      token: await managementToken(server),
      fetch: conformingFetch(server),
    });
  });
  after(() => server?.close());

  const signIn = (username: string, password: string) =>
    server.postForm(server.at('/oauth/token'), { grant_type: 'password', ...WEB, username, password, scope: 'openid offline_access' });

  it('creates a user, finds it by id, by email and by search, and lists with totals', async () => {
    const created = await management.users.create({
      connection: 'Username-Password-Authentication',
      email: 'dora@sdk.test',
      password: PASSWORD,
      name: 'Dora Explorer',
      user_metadata: { locale: 'fr' },
    });
    assert.equal(created.email, 'dora@sdk.test');
    const id = String(created.user_id);
    assert.equal((await signIn('dora@sdk.test', PASSWORD)).status, 200);

    const fetched = await management.users.get(id);
    assert.equal(fetched.name, 'Dora Explorer');
    assert.deepEqual(fetched.user_metadata, { locale: 'fr' });
    const byEmail = await management.users.listUsersByEmail({ email: 'DORA@sdk.test' });
    assert.deepEqual(
      byEmail.map((u) => u.user_id),
      [id],
    );
    const found = await management.users.list({ q: 'email:"dora@sdk.test"', search_engine: 'v3' });
    assert.deepEqual(
      found.data.map((u) => u.user_id),
      [id],
    );
    const page = await management.users.list({ page: 0, per_page: 2, include_totals: true });
    assert.equal(page.data.length, 2);
    const everyone: string[] = [];
    for await (const user of await management.users.list({ per_page: 2 })) everyone.push(String(user.user_id));
    assert.ok(everyone.includes(id));
    assert.equal(new Set(everyone).size, everyone.length, 'no user twice across pages');
  });

  it('updates metadata and the password (old refresh tokens stop), blocks and unblocks, then deletes', async () => {
    const created = await management.users.create({
      connection: 'Username-Password-Authentication',
      email: 'eve@sdk.test',
      password: PASSWORD,
    });
    const id = String(created.user_id);
    const first = await signIn('eve@sdk.test', PASSWORD);
    assert.equal(first.status, 200);
    const refresh = () =>
      server.postForm(server.at('/oauth/token'), { grant_type: 'refresh_token', ...WEB, refresh_token: String(first.body.refresh_token) });

    const families = await management.users.refreshToken.list(id);
    assert.equal(families.data.length, 1);

    const updated = await management.users.update(id, { app_metadata: { plan: 'pro' }, password: `${PASSWORD} changed` });
    assert.deepEqual(updated.app_metadata, { plan: 'pro' });
    assert.equal((await refresh()).status, 400, 'a password change revokes the refresh tokens');
    assert.equal((await signIn('eve@sdk.test', `${PASSWORD} changed`)).status, 200);

    await management.users.update(id, { blocked: true });
    assert.equal((await signIn('eve@sdk.test', `${PASSWORD} changed`)).status, 400);
    await management.users.update(id, { blocked: false });
    assert.equal((await signIn('eve@sdk.test', `${PASSWORD} changed`)).status, 200);

    const methods = await management.users.authenticationMethods.list(id);
    assert.deepEqual(methods.data, []);
    await management.users.authenticators.deleteAll(id);
    await management.users.refreshToken.delete(id);
    assert.equal((await management.users.refreshToken.list(id)).data.length, 0);

    await management.users.delete(id);
    await assert.rejects(management.users.get(id), (err: { statusCode?: number }) => err.statusCode === 404);
  });

  it('lists and lifts the brute-force blocks of a login name', async () => {
    await management.users.create({ connection: 'Username-Password-Authentication', email: 'fay@sdk.test', password: PASSWORD });
    // Each guess differs: the same wrong password again counts once (attack_protection.brute_force.same_password_window_seconds).
    for (let i = 0; i < 3; i++) await signIn('fay@sdk.test', `wrong guess ${i}`);
    const blocks = await management.userBlocks.listByIdentifier({ identifier: 'fay@sdk.test' });
    assert.equal(blocks.blocked_for?.[0]?.identifier, 'fay@sdk.test');
    assert.equal((await signIn('fay@sdk.test', PASSWORD)).status, 429);
    await management.userBlocks.deleteByIdentifier({ identifier: 'fay@sdk.test' });
    assert.deepEqual((await management.userBlocks.listByIdentifier({ identifier: 'fay@sdk.test' })).blocked_for, []);
    assert.equal((await signIn('fay@sdk.test', PASSWORD)).status, 200);
  });

  it("reads logs with Auth0's type codes, for the tenant and for one user", async () => {
    const created = await management.users.create({
      connection: 'Username-Password-Authentication',
      email: 'gus@sdk.test',
      password: PASSWORD,
    });
    await signIn('gus@sdk.test', PASSWORD);
    await signIn('gus@sdk.test', 'wrong password');
    const theirs = await management.users.logs.list(String(created.user_id), { per_page: 50 });
    const types = theirs.data.map((l) => l.type);
    assert.ok(types.includes('s'), `a success: ${types.join(',')}`);
    assert.ok(types.includes('fp'), `a wrong password: ${types.join(',')}`);
    assert.ok(types.includes('sapi'), `the API's own write: ${types.join(',')}`);
    const all = await management.logs.list({ per_page: 100 });
    assert.ok(all.data.some((l) => l.type === 'sapi' && l.client_id === 'acme-mgmt'));
  });

  it('takes a token supplier: a fresh client_credentials token whenever it asks', async () => {
    // The SDK's clientId/clientSecret mode wants a bare hostname ("tenant.auth0.com") and so cannot name a tenant
    // path; a supplier that asks the token endpoint is the way (docs/management-api.md).
    let asked = 0;
    const supplied = new ManagementClient({
      domain: `${server.host}/acme`,
      token: async () => {
        asked++;
        return managementToken(server);
      },
      fetch: conformingFetch(server),
    });
    const users = await supplied.users.list({ per_page: 1 });
    assert.equal(users.data.length, 1);
    assert.ok(asked >= 1);
  });

  it('lists the connections, and refuses what the token may not do', async () => {
    const connections = await management.connections.list();
    assert.deepEqual(
      connections.data.map((c) => c.name),
      ['Username-Password-Authentication', 'employees'],
    );
    const narrow = new ManagementClient({
      domain: `${server.host}/acme`,
      token: await managementToken(server, undefined, 'acme', 'read:users'),
      fetch: conformingFetch(server),
    });
    await assert.rejects(
      narrow.users.create({ connection: 'Username-Password-Authentication', email: 'x@sdk.test', password: PASSWORD }),
      (err: { statusCode?: number; body?: { errorCode?: string } }) =>
        err.statusCode === 403 && err.body?.errorCode === 'insufficient_scope',
    );
  });
});
