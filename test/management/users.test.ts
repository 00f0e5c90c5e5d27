/**
 * DESIGN.md §9, issue #15 point 2: the Management API's users, as Auth0's v2
 * answers them. Create (an email-only user signs in with the email as
 * username), read by a percent-encoded id, update (metadata merged at the
 * top level, null removes), delete; list with totals in a stable order;
 * search with `q` (including injection attempts, which are only text);
 * users-by-email; and the refusals: another tenant's user (404
 * inexistent_user), per_page 10000 (400), a token without the scope (403),
 * a password the policy refuses (400 with its reason), a taken email (409).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, EMPLOYEE, JOE, WEB } from '../helpers/fixtures.js';
import type { JsonResponse } from '../helpers/http.js';
import type { HttpsTestServer } from '../helpers/tls.js';
import { tlsUnavailableReason } from '../helpers/tls.js';
import {
  assertManagementError,
  MGMT_CLIENT,
  managementToken,
  mgmt,
  startManagementServer,
  type ManagementClientForTests,
  GLOBEX_MGMT,
  globexTenant,
} from './helpers.js';

const DB = 'Username-Password-Authentication';

type User = Record<string, unknown> & { user_id: string; username: string };
/** The users of a bare-array answer, or of the totals envelope's `users`. */
const usersOf = (response: JsonResponse): User[] =>
  (Array.isArray(response.body) ? response.body : response.body.users) as unknown as User[];

describe('Management API: users (DESIGN.md §9)', { skip: tlsUnavailableReason() }, () => {
  let server: HttpsTestServer;
  let api: ManagementClientForTests;
  let globexUserId: string;

  before(async () => {
    server = await startManagementServer({
      tenant: { management_api: { rate_limit: { requests: 10_000, per_seconds: 60 } } },
      otherTenants: (url) => [
        globexTenant(
          url,
          ['read:users'],
          [{ connection: 'db', username: 'stranger@globex.test', email: 'stranger@globex.test', password: 'globex password 123' }],
        ),
      ],
    });
    api = mgmt(server, await managementToken(server));
    const globex = mgmt(server, await managementToken(server, GLOBEX_MGMT, 'globex'), 'globex');
    const strangers = await globex.get('/users?q=stranger');
    globexUserId = usersOf(strangers)[0]?.user_id as string;
    assert.ok(globexUserId, 'globex has its user');
  });
  after(() => server?.close());

  const signIn = (username: string, password: string) =>
    server.postForm(server.at('/oauth/token'), { grant_type: 'password', ...WEB, username, password });

  it('creates a user with only an email, who then signs in with the email as username', async () => {
    const created = await api.post('/users', {
      connection: DB,
      email: 'New.Person@Acme.test',
      password: 'a long enough password 1',
      name: 'New Person',
      user_metadata: { theme: 'dark' },
    });
    assert.equal(created.status, 201, created.text);
    const user = created.body as User;
    assert.equal(typeof user.user_id, 'string');
    assert.equal(user.email, 'New.Person@Acme.test');
    assert.equal(user.username, 'New.Person@Acme.test');
    assert.equal(user.email_verified, false);
    assert.equal(user.blocked, false);
    assert.equal(user.logins_count, 0);
    assert.deepEqual(user.identities, [{ connection: DB, provider: 'auth0', user_id: user.user_id, isSocial: false }]);
    assert.deepEqual(user.user_metadata, { theme: 'dark' });
    assert.deepEqual(user.app_metadata, {});
    assert.equal('password' in user || 'password_hash' in user, false, 'no secret in the answer');

    const login = await signIn('new.person@acme.test', 'a long enough password 1');
    assert.equal(login.status, 200, login.text);
    const read = await api.get(`/users/${encodeURIComponent(user.user_id)}`);
    assert.equal(read.status, 200);
    assert.equal(read.body.logins_count, 1);
    assert.equal(typeof read.body.last_login, 'string');
  });

  it('reads a user by its percent-encoded id, also written Auth0’s way (auth0|id); the id is the token sub', async () => {
    const [alice] = usersOf(await api.get(`/users-by-email?email=${encodeURIComponent(ALICE.username.toUpperCase())}`));
    assert.ok(alice);
    assert.equal(alice.username, ALICE.username);
    const auth0Style = await api.get(`/users/${encodeURIComponent(`auth0|${alice.user_id}`)}`);
    assert.equal(auth0Style.status, 200);
    assert.equal(auth0Style.body.user_id, alice.user_id);
    const login = await signIn(ALICE.username, ALICE.password);
    const [, payload] = (login.body.access_token as string).split('.');
    assert.equal(JSON.parse(Buffer.from(payload as string, 'base64url').toString()).sub, alice.user_id);
  });

  it('updates profile fields and merges metadata at the top level (null removes a key)', async () => {
    const user = (
      await api.post('/users', {
        connection: DB,
        email: 'meta@acme.test',
        password: 'a long enough password 2',
        app_metadata: { plan: 'free', seats: 1, flags: { a: true } },
      })
    ).body as User;
    const patched = await api.patch(`/users/${encodeURIComponent(user.user_id)}`, {
      name: 'Meta Person',
      given_name: 'Meta',
      email_verified: true,
      app_metadata: { plan: 'pro', seats: null, flags: { b: true } },
      user_metadata: { lang: 'fr' },
    });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.name, 'Meta Person');
    assert.equal(patched.body.given_name, 'Meta');
    assert.equal(patched.body.email_verified, true);
    assert.deepEqual(patched.body.app_metadata, { plan: 'pro', flags: { b: true } });
    assert.deepEqual(patched.body.user_metadata, { lang: 'fr' });

    const moved = await api.patch(`/users/${user.user_id}`, { email: 'meta2@acme.test' });
    assert.equal(moved.body.email, 'meta2@acme.test');
    assert.equal(moved.body.email_verified, false, 'a new address is unverified unless the request says otherwise');
    assertManagementError(await api.patch(`/users/${user.user_id}`, { email: ALICE.username }), 409, 'auth0_idp_error');
    assertManagementError(await api.patch(`/users/${user.user_id}`, {}), 400, 'invalid_body');
    assertManagementError(await api.patch(`/users/${user.user_id}`, { nickname: 'x' }), 400, 'invalid_body');
    assertManagementError(await api.patch(`/users/${user.user_id}`, { user_metadata: { big: 'x'.repeat(20_000) } }), 400, 'invalid_body');
  });

  it('refuses a password the connection policy refuses, saying why, and changes nothing', async () => {
    const short = await api.post('/users', { connection: DB, email: 'short@acme.test', password: 'short' });
    assertManagementError(short, 400, 'invalid_body');
    assert.match(String(short.body.message), /PasswordStrengthError: .*at least/);
    assert.equal(usersOf(await api.get('/users-by-email?email=short@acme.test')).length, 0);

    const [joe] = usersOf(await api.get(`/users?q=${encodeURIComponent(`username:${JOE.username}`)}`));
    assert.ok(joe);
    const refused = await api.patch(`/users/${joe.user_id}`, { password: 'short', name: 'Not Joe' });
    assertManagementError(refused, 400, 'invalid_body');
    assert.equal((await api.get(`/users/${joe.user_id}`)).body.name, 'Joe', 'nothing else changed either');
    assert.equal((await signIn(JOE.username, JOE.password)).status, 200, 'the old password still works');
  });

  it('refuses duplicates, unknown connections and bodies Auth0 would refuse', async () => {
    assertManagementError(
      await api.post('/users', { connection: DB, email: ALICE.username, password: 'another long password' }),
      409,
      'auth0_idp_error',
    );
    assertManagementError(
      await api.post('/users', { connection: 'nope', email: 'x@acme.test', password: 'another long password' }),
      400,
      'inexistent_connection',
    );
    assertManagementError(await api.post('/users', { connection: DB, password: 'another long password' }), 400, 'invalid_body');
    assertManagementError(
      await api.post('/users', { connection: DB, email: 'not an email', password: 'another long password' }),
      400,
      'invalid_body',
    );
    assertManagementError(
      await api.post('/users', { connection: DB, email: 'a@acme.test', password: 'x'.repeat(9), phone_number: '1' }),
      400,
      'invalid_body',
    );
  });

  it('deletes a user: their login stops and the id answers 404', async () => {
    const user = (await api.post('/users', { connection: DB, username: 'doomed', password: 'a long enough password 3' })).body as User;
    assert.equal((await signIn('doomed', 'a long enough password 3')).status, 200);
    const deleted = await api.del(`/users/${encodeURIComponent(user.user_id)}`);
    assert.equal(deleted.status, 204);
    assertManagementError(await api.get(`/users/${user.user_id}`), 404, 'inexistent_user');
    assertManagementError(await api.del(`/users/${user.user_id}`), 404, 'inexistent_user');
    assert.equal((await signIn('doomed', 'a long enough password 3')).status, 400);
  });

  it("answers another tenant's user id exactly like one that never existed", async () => {
    for (const path of [`/users/${globexUserId}`, `/user-blocks/${globexUserId}`, `/users/${globexUserId}/logs`]) {
      assertManagementError(await api.get(path), 404, 'inexistent_user');
    }
    assertManagementError(await api.patch(`/users/${globexUserId}`, { blocked: true }), 404, 'inexistent_user');
    assertManagementError(await api.del(`/users/${globexUserId}`), 404, 'inexistent_user');
    assertManagementError(await api.get('/users/no-such-user'), 404, 'inexistent_user');
    assert.equal(usersOf(await api.get('/users-by-email?email=stranger@globex.test')).length, 0);
  });

  it('lists with totals in a stable order, page by page, and refuses per_page 10000', async () => {
    const all = await api.get('/users?include_totals=true&per_page=100');
    assert.equal(all.status, 200);
    const { start, limit, length, total } = all.body as Record<string, number>;
    const users = usersOf(all);
    assert.deepEqual([start, limit, length], [0, 100, users.length]);
    assert.equal(total, users.length);
    assert.ok((total as number) >= 6);
    const paged = [];
    for (let page = 0; page * 2 < (total as number); page++) {
      const response = await api.get(`/users?include_totals=true&per_page=2&page=${page}`);
      assert.equal(response.body.start, page * 2);
      assert.equal(response.body.total, total);
      paged.push(...usersOf(response));
    }
    assert.deepEqual(
      paged.map((u) => u.user_id),
      users.map((u) => u.user_id),
      'pages neither skip nor repeat',
    );
    const bare = await api.get('/users?per_page=3');
    assert.ok(Array.isArray(bare.body), 'without include_totals: the bare array');
    const employees = await api.get('/users?connection=employees');
    assert.deepEqual(
      usersOf(employees).map((u) => u.username),
      [EMPLOYEE.username],
    );
    assertManagementError(await api.get('/users?per_page=10000'), 400, 'invalid_query_string');
    assertManagementError(await api.get('/users?page=-1'), 400, 'invalid_query_string');
  });

  it('searches email, username and name; injection attempts in q are only text', async () => {
    const q = async (query: string) => {
      const response = await api.get(`/users?include_totals=true&q=${encodeURIComponent(query)}`);
      assert.equal(response.status, 200, `${query}: ${response.text}`);
      assert.equal(response.body.total, usersOf(response).length);
      return usersOf(response)
        .map((u) => u.username)
        .sort();
    };
    assert.deepEqual(await q(`email:"${ALICE.username.toUpperCase()}"`), [ALICE.username]);
    assert.deepEqual(await q('name:ali*'), [ALICE.username]);
    assert.deepEqual(await q('alice'), [ALICE.username]);
    assert.deepEqual(await q('email:*@corp.acme.test'), [EMPLOYEE.username]);
    assert.deepEqual(await q('name:*lidd*'), [ALICE.username]);
    for (const attempt of ["'; drop table users; --", '%', '_', '"', "' OR '1'='1", '\\', 'email:"x" OR 1=1', '*%*', '*_*']) {
      assert.deepEqual(await q(attempt), [], attempt);
    }
    assert.ok((await q('')).length >= 6, 'still every user: nothing was dropped');
    assertManagementError(await api.get(`/users?q=${'a'.repeat(2000)}`), 400, 'invalid_query_string');
  });

  it('needs the scope of each operation (403 insufficient_scope)', async () => {
    const reader = mgmt(server, await managementToken(server, MGMT_CLIENT, 'acme', 'read:users'));
    assert.equal((await reader.get('/users')).status, 200);
    assertManagementError(
      await reader.post('/users', { connection: DB, email: 'x@acme.test', password: 'a long password' }),
      403,
      'insufficient_scope',
    );
    const [joe] = usersOf(await reader.get(`/users?q=username:${JOE.username}`));
    assert.ok(joe);
    assertManagementError(await reader.patch(`/users/${joe.user_id}`, { name: 'x' }), 403, 'insufficient_scope');
    assertManagementError(await reader.del(`/users/${joe.user_id}`), 403, 'insufficient_scope');
    assertManagementError(await reader.get('/logs'), 403, 'insufficient_scope');
  });
});
