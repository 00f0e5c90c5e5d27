/**
 * DESIGN.md §8-§9, issue #15 point 2: what stands between a user and a
 * sign-in, through the Management API. A password changed by PATCH revokes
 * every refresh-token family and lifts the brute-force locks (§8, as by
 * every path); a block ends the user's sessions (as the CLI's); user-blocks
 * list and lift the locks of a login name or a user; a user's refresh tokens
 * are listed and revoked; authentication methods are listed and removed;
 * logs carry Auth0's type codes (`s`, `fp`, `fu`, `limit_wc`, …).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { API, WEB } from '../helpers/fixtures.js';
import type { JsonResponse } from '../helpers/http.js';
import type { HttpsTestServer } from '../helpers/tls.js';
import { tlsUnavailableReason } from '../helpers/tls.js';
import { assertManagementError, managementToken, mgmt, startManagementServer, type ManagementClientForTests } from './helpers.js';

const DB = 'Username-Password-Authentication';
const THRESHOLD = 3;

type Row = Record<string, unknown>;
const rowsOf = (value: unknown): Row[] => value as Row[];

describe('Management API: user security (DESIGN.md §8, §9)', { skip: tlsUnavailableReason() }, () => {
  let server: HttpsTestServer;
  let api: ManagementClientForTests;
  let counter = 0;

  before(async () => {
    server = await startManagementServer({
      tenant: {
        management_api: { rate_limit: { requests: 10_000, per_seconds: 60 } },
        attack_protection: { brute_force: { threshold: THRESHOLD } },
      },
    });
    api = mgmt(server, await managementToken(server));
  });
  after(() => server?.close());

  /** A fresh user of the database connection, with its id and password. */
  async function newUser(): Promise<{ id: string; email: string; password: string }> {
    counter++;
    const email = `person${counter}@acme.test`;
    const password = `a long enough password ${counter}`;
    const created = await api.post('/users', { connection: DB, email, password });
    assert.equal(created.status, 201, created.text);
    return { id: created.body.user_id as string, email, password };
  }
  const signIn = (username: string, password: string, extra: Record<string, string> = {}) =>
    server.postForm(server.at('/oauth/token'), { grant_type: 'password', ...WEB, username, password, ...extra });
  const refresh = (refreshToken: string) =>
    server.postForm(server.at('/oauth/token'), { grant_type: 'refresh_token', ...WEB, refresh_token: refreshToken });
  async function offlineSignIn(user: { email: string; password: string }): Promise<string> {
    const response = await signIn(user.email, user.password, { audience: API, scope: 'openid offline_access' });
    assert.equal(response.status, 200, response.text);
    return response.body.refresh_token as string;
  }
  async function lockOut(email: string): Promise<void> {
    for (let i = 0; i < THRESHOLD; i++) await signIn(email, `wrong guess ${i} ${Math.random()}`);
    assert.equal((await signIn(email, 'yet another wrong guess')).status, 429, 'locked');
  }
  const blockedFor = (response: JsonResponse) => rowsOf(response.body.blocked_for);

  it('a password changed by PATCH revokes every refresh token and lifts the locks; a weak one changes nothing', async () => {
    const user = await newUser();
    const token = await offlineSignIn(user);
    await offlineSignIn(user);
    const listed = await api.get(`/users/${encodeURIComponent(user.id)}/refresh-tokens`);
    assert.equal(listed.status, 200);
    const tokens = rowsOf(listed.body.tokens);
    assert.equal(tokens.length, 2);
    assert.equal(tokens[0]?.user_id, user.id);
    assert.equal(tokens[0]?.client_id, WEB.client_id);
    const [resourceServer] = rowsOf(tokens[0]?.resource_servers);
    assert.equal(resourceServer?.audience, API);
    assert.match(String(resourceServer?.scopes), /\boffline_access\b/, 'the scopes the family was granted');
    const firstPage = await api.get(`/users/${user.id}/refresh-tokens?take=1`);
    assert.equal(rowsOf(firstPage.body.tokens).length, 1);
    const second = await api.get(`/users/${user.id}/refresh-tokens?take=1&from=${firstPage.body.next as string}`);
    assert.equal(second.body.next, undefined, 'the last page names no next');
    assert.notEqual(rowsOf(second.body.tokens)[0]?.id, rowsOf(firstPage.body.tokens)[0]?.id);

    await lockOut(user.email);
    assert.equal(blockedFor(await api.get(`/user-blocks/${user.id}`)).length, 1);
    assertManagementError(await api.patch(`/users/${user.id}`, { password: 'weak' }), 400, 'invalid_body');
    assert.equal((await refresh(token)).status, 200, 'a refused password revokes nothing');

    const changed = await api.patch(`/users/${user.id}`, { password: 'a brand new long password', connection: DB });
    assert.equal(changed.status, 200, changed.text);
    const refused = await refresh(token);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_grant');
    assert.deepEqual(rowsOf((await api.get(`/users/${user.id}/refresh-tokens`)).body.tokens), []);
    assert.deepEqual(blockedFor(await api.get(`/user-blocks/${user.id}`)), [], 'the locks were lifted');
    assert.equal((await signIn(user.email, 'a brand new long password')).status, 200);
    assert.equal(typeof changed.body.last_password_reset, 'string');
  });

  it('blocking ends the sessions, as the CLI does; unblocking revives none', async () => {
    const user = await newUser();
    const token = await offlineSignIn(user);
    const blocked = await api.patch(`/users/${user.id}`, { blocked: true });
    assert.equal(blocked.body.blocked, true);
    assert.equal((await refresh(token)).status, 400);
    assert.equal((await signIn(user.email, user.password)).status, 400, 'a blocked user cannot sign in');
    const unblocked = await api.patch(`/users/${user.id}`, { blocked: false });
    assert.equal(unblocked.body.blocked, false);
    assert.equal((await refresh(token)).status, 400, 'the old session stays ended');
    assert.equal((await signIn(user.email, user.password)).status, 200);
  });

  it('user-blocks lists the locks of a login name in any connection, and DELETE lifts them from every IP', async () => {
    const user = await newUser();
    assert.deepEqual(blockedFor(await api.get(`/user-blocks?identifier=${encodeURIComponent(user.email)}`)), []);
    await lockOut(user.email);
    const blocks = blockedFor(await api.get(`/user-blocks?identifier=${encodeURIComponent(user.email.toUpperCase())}`));
    assert.equal(blocks.length, 1);
    assert.equal(blocks[0]?.identifier, user.email);
    assert.equal(typeof blocks[0]?.ip, 'string');
    assert.equal(blocks[0]?.connection, DB);
    const lifted = await api.del(`/user-blocks?identifier=${encodeURIComponent(user.email)}`);
    assert.equal(lifted.status, 204);
    assert.deepEqual(blockedFor(await api.get(`/user-blocks?identifier=${encodeURIComponent(user.email)}`)), []);
    assert.equal((await signIn(user.email, user.password)).status, 200);

    await lockOut(user.email);
    assert.equal((await api.del(`/user-blocks/${encodeURIComponent(user.id)}`)).status, 204);
    assert.equal((await signIn(user.email, user.password)).status, 200, 'lifted by user id too');
    assertManagementError(await api.get('/user-blocks'), 400, 'invalid_query_string');
  });

  it('DELETE refresh-tokens revokes every family of the user', async () => {
    const user = await newUser();
    const token = await offlineSignIn(user);
    assert.equal((await api.del(`/users/${user.id}/refresh-tokens`)).status, 204);
    assert.equal((await refresh(token)).status, 400);
    assert.equal((await signIn(user.email, user.password)).status, 200, 'signing in again still works');
  });

  it('lists authentication methods (none yet) and removes them', async () => {
    const user = await newUser();
    const methods = await api.get(`/users/${user.id}/authentication-methods`);
    assert.equal(methods.status, 200);
    assert.deepEqual(methods.body, []);
    const totals = await api.get(`/users/${user.id}/authentication-methods?include_totals=true`);
    assert.equal(totals.body.total, 0);
    assert.equal((await api.del(`/users/${user.id}/authenticators`)).status, 204);
  });

  it("logs carry Auth0's type codes and fields, newest first; a user's logs are theirs only", async () => {
    const user = await newUser();
    await signIn(user.email, user.password);
    await signIn(user.email, 'not the password at all');
    await signIn('nobody-here@acme.test', 'whatever it is');
    const mine = await api.get(`/users/${encodeURIComponent(user.id)}/logs?include_totals=true`);
    assert.equal(mine.status, 200, mine.text);
    const logs = rowsOf(mine.body.logs);
    assert.equal(mine.body.total, logs.length);
    assert.ok(logs.every((l) => l.user_id === user.id));
    const types = logs.map((l) => l.type);
    assert.deepEqual(types.slice(0, 2), ['fp', 's'], 'newest first');
    const success = logs.find((l) => l.type === 's');
    for (const field of ['log_id', 'date', 'description', 'client_id', 'user_name', 'ip', 'connection'])
      assert.equal(typeof success?.[field], 'string', field);
    assert.equal(success?.connection, DB);
    assert.equal(success?.client_id, WEB.client_id);

    const all = rowsOf((await api.get('/logs?per_page=100')).body);
    assert.ok(all.some((l) => l.type === 'fu' && l.user_name === 'nobody-here@acme.test'));
    assert.ok(
      all.some((l) => l.type === 'sapi'),
      'Management API writes are logged',
    );
    await lockOut(user.email);
    const locked = rowsOf((await api.get(`/users/${user.id}/logs`)).body);
    assert.ok(locked.some((l) => l.type === 'limit_wc'));
    assert.ok(!JSON.stringify(all).includes('not the password at all'), 'no password in any log');
  });
});
