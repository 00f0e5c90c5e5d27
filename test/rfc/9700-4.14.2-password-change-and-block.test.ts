/**
 * Sessions after a password change, a block and a deleted user (issue #11
 * point 5, security review finding M4), driven as an operator does: the
 * `latchkey` CLI against a running server's database, the configuration
 * file at the next start, and SQL for a deleted row.
 *
 * RFC 9700 §4.14.2: "Refresh tokens SHOULD expire if the client has been
 * inactive for some time […] The authorization server MAY revoke refresh
 * tokens automatically in case of a security event, such as: password
 * change; logout at the authorization server".
 * RFC 7662 §2.2: "active REQUIRED. Boolean indicator of whether or not the
 * presented token is currently active."
 * DESIGN.md §8: "Changing a password by any path […] revokes every
 * refresh-token family of that user".
 *
 * A password change and a block revoke every refresh-token family of the
 * user; introspection and userinfo refuse tokens of a blocked or deleted
 * user and access tokens from a sign-in before the last password change or
 * block; unblocking revives nothing; a new sign-in afterwards works.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runCli, writeYamlConfig, type ProcessResult } from '../helpers/cli-process.js';
import { decodeJwt, get, postForm } from '../helpers/http.js';
import { TEST_MASTER_KEY, startTestServer, type TenantInput, type TestServer } from '../helpers/server.js';
import { assertOAuthError, introspectToken, member, passwordTokens, refresh, type UserCredentials } from '../helpers/token-requests.js';

const API = 'https://api.sessions.test';
const CLIENT = { client_id: 'sessions-web', client_secret: 'sessions-web-secret-0123456789' };
const SCOPE = 'openid offline_access read:x';
const CONNECTION = 'Username-Password-Authentication';

const user = (name: string): UserCredentials => ({ username: `${name}@sessions.test`, password: `${name} first password` });
const DAVE = user('dave');
const ERIN = user('erin');
const FRANK = user('frank');
const IVAN = user('ivan');
const HEIDI = user('heidi');
const JUDY = user('judy');

function tenantWith(users: Array<UserCredentials & { blocked?: boolean }>): TenantInput {
  return {
    name: 'acme',
    default_directory: CONNECTION,
    connections: [{ name: CONNECTION, type: 'database' }],
    apis: [{ identifier: API, scopes: ['read:x'], token_lifetime: 600, allow_offline_access: true }],
    applications: [{ ...CLIENT, token_endpoint_auth_method: 'client_secret_post', grant_types: ['password', 'refresh_token'] }],
    users: users.map((u) => ({ connection: CONNECTION, email: u.username, ...u })),
  };
}

interface Session {
  accessToken: string;
  refreshToken: string;
}

async function signIn(server: TestServer, who: UserCredentials): Promise<Session> {
  const res = await passwordTokens(server, CLIENT, who, { audience: API, scope: SCOPE });
  return { accessToken: member(res, 'access_token'), refreshToken: member(res, 'refresh_token') };
}

const userinfo = (server: TestServer, accessToken: string) => get(server.at('/userinfo'), { authorization: `Bearer ${accessToken}` });

/** Both tokens usable: userinfo answers, introspection says active (nothing here rotates the refresh token). */
async function assertWorks(server: TestServer, session: Session, what: string): Promise<void> {
  const info = await userinfo(server, session.accessToken);
  assert.equal(info.status, 200, `${what}: userinfo ${info.text}`);
  for (const [kind, token] of [
    ['access', session.accessToken],
    ['refresh', session.refreshToken],
  ] as const) {
    const res = await introspectToken(server, CLIENT, token);
    assert.equal(res.body.active, true, `${what}: the ${kind} token is active: ${res.text}`);
  }
}

/** Both tokens dead: introspection says only active:false, userinfo 401, the refresh grant invalid_grant. Returns the refresh answer. */
async function assertEnded(server: TestServer, session: Session, what: string) {
  for (const [kind, token] of [
    ['access', session.accessToken],
    ['refresh', session.refreshToken],
  ] as const) {
    const res = await introspectToken(server, CLIENT, token);
    assert.equal(res.status, 200, `${what}: introspection of the ${kind} token: ${res.text}`);
    assert.deepEqual(res.body, { active: false }, `${what}: the ${kind} token is inactive`);
  }
  const info = await userinfo(server, session.accessToken);
  assertOAuthError(info, 401, 'invalid_token', `${what}: userinfo with the old access token`);
  const refreshed = await refresh(server, CLIENT, session.refreshToken);
  assertOAuthError(refreshed, 400, 'invalid_grant', `${what}: the old refresh token`);
  return refreshed;
}

describe('issue #11 point 5: sessions after latchkey users set-password, block and unblock, and a deleted user', () => {
  let dir: string;
  let configFile: string;
  let server: TestServer;
  const users = [DAVE, ERIN, FRANK, IVAN, HEIDI, JUDY];

  function assertOk(result: ProcessResult, what: string): void {
    assert.equal(result.code, 0, `${what}: exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
  const admin = async (args: string[], input?: string): Promise<ProcessResult> => {
    const result = await runCli([...args, '--config', configFile], {
      env: { LATCHKEY_MASTER_KEY: TEST_MASTER_KEY },
      ...(input === undefined ? {} : { input }),
    });
    assertOk(result, `latchkey ${args.join(' ')}`);
    return result;
  };

  function withDatabase<T>(action: (db: Database.Database) => T): T {
    const db = new Database(join(dir, 'latchkey.db'), { fileMustExist: true });
    try {
      return action(db);
    } finally {
      db.close();
    }
  }

  /** The security events of one user, oldest first (what `latchkey logs --user` shows). */
  const eventsOf = (who: UserCredentials) =>
    withDatabase(
      (db) =>
        db
          .prepare(
            'SELECT e.type, e.reason, e.details FROM security_events e JOIN users u ON u.id = e.user_id WHERE u.username = ? ORDER BY e.at',
          )
          .all(who.username) as Array<{ type: string; reason: string | null; details: string | null }>,
    );

  /**
   * A sign-in two seconds back on the server's clock. The CLI stamps a change
   * with the wall clock; an access token's auth_time is whole seconds, and a
   * token from the change's own second is accepted by design. Two seconds
   * back, the token's second is earlier than the change's however fast the
   * CLI starts (the boundary itself: test/unit/user-sessions.test.ts).
   */
  async function signInBeforeChange(who: UserCredentials): Promise<Session> {
    server.clock.advance(-2);
    try {
      return await signIn(server, who);
    } finally {
      server.clock.advance(2);
    }
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-sessions-'));
    server = await startTestServer({ dir, tenants: [tenantWith(users)] });
    // The CLI's file declares no users (they are data): its start-up must not set their passwords back.
    configFile = writeYamlConfig(dir, {
      public_url: 'http://127.0.0.1:3999',
      database: `sqlite:${join(dir, 'latchkey.db')}`,
      log_level: 'warn',
      tenants: [tenantWith([])],
    });
    // As if the passwords were set an hour ago: a sign-in moved back two seconds still follows them.
    withDatabase((db) => db.prepare('UPDATE users SET password_changed_at = ?').run(new Date(Date.now() - 3_600_000).toISOString()));
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('regression (issue #11 point 5): after latchkey users set-password the old refresh token is invalid_grant, the old access token is 401 at userinfo, introspection says active:false for both; a new sign-in works and its tokens are active', async () => {
    const old = await signInBeforeChange(DAVE);
    const second = await signInBeforeChange(DAVE);
    const bystander = await signInBeforeChange(JUDY);
    await assertWorks(server, old, 'before the change');

    const newPassword = 'dave second password';
    const changed = await admin(['users', 'set-password', DAVE.username, '--password-stdin'], `${newPassword}\n`);

    await assertEnded(server, old, 'after set-password');
    await assertEnded(server, second, 'after set-password, a second session');
    assert.match(changed.stdout, /^password changed for dave@sessions\.test: revoked 2 refresh tokens$/m);
    await assertWorks(server, bystander, 'another user after the change');

    const fresh = await signIn(server, { username: DAVE.username, password: newPassword });
    await assertWorks(server, fresh, 'a sign-in with the new password');
    const rotated = await refresh(server, CLIENT, fresh.refreshToken);
    assert.equal(rotated.status, 200, `the new refresh token refreshes: ${rotated.text}`);

    const event = eventsOf(DAVE).find((e) => e.type === 'password_changed');
    assert.ok(event, 'a password_changed security event');
    assert.equal(event.reason, 'cli');
    assert.deepEqual(JSON.parse(event.details ?? '{}'), { refresh_token_families_revoked: 2 });
  });

  it('regression (issue #11 point 5): after latchkey users block, introspection says active:false for the access and the refresh token, and userinfo is 401', async () => {
    const session = await signIn(server, ERIN);
    await assertWorks(server, session, 'before the block');

    const blocked = await admin(['users', 'block', ERIN.username]);

    const refused = await assertEnded(server, session, 'after the block');
    assert.equal(refused.body.error_reason, 'user_blocked', `the client is told why while the block lasts: ${refused.text}`);
    assert.match(blocked.stdout, /^blocked erin@sessions\.test in acme\/Username-Password-Authentication: revoked 1 refresh token$/m);
    const event = eventsOf(ERIN).find((e) => e.type === 'user_blocked');
    assert.equal(event?.reason, 'cli');
    assert.deepEqual(JSON.parse(event?.details ?? '{}'), { refresh_token_families_revoked: 1 });
  });

  it('regression (issue #11 point 5): after latchkey users block then unblock, the pre-block refresh token is still refused and the pre-block access token stays inactive; a new sign-in works', async () => {
    const preBlock = await signInBeforeChange(FRANK);
    await assertWorks(server, preBlock, 'before the block');

    await admin(['users', 'block', FRANK.username]);
    await admin(['users', 'unblock', FRANK.username]);

    const refused = await assertEnded(server, preBlock, 'after block and unblock');
    assert.equal(refused.body.error_reason, undefined, `no longer blocked: only the revocation answers: ${refused.text}`);
    await assertWorks(server, await signIn(server, FRANK), 'a sign-in after the unblock');
  });

  it('regression (issue #11 point 5): the incident response block, set-password, unblock leaves the thief no working token, and the owner signs in with the new password', async () => {
    const thief = await signInBeforeChange(IVAN);
    await assertWorks(server, thief, "the thief's session before the response");

    const newPassword = 'ivan second password';
    await admin(['users', 'block', IVAN.username]);
    await admin(['users', 'set-password', IVAN.username, '--password-stdin'], `${newPassword}\n`);
    await admin(['users', 'unblock', IVAN.username]);

    await assertEnded(server, thief, "the thief's session after the response");
    const oldPassword = await postForm(server.at('/oauth/token'), {
      grant_type: 'password',
      username: IVAN.username,
      password: IVAN.password,
      audience: API,
      ...CLIENT,
    });
    assertOAuthError(oldPassword, 400, 'invalid_grant', 'the stolen password');
    await assertWorks(server, await signIn(server, { username: IVAN.username, password: newPassword }), "the owner's new sign-in");
  });

  it('regression (issue #11 point 5): a user row deleted from the database: introspection says active:false for the access and the refresh token', async () => {
    const session = await signIn(server, HEIDI);
    await assertWorks(server, session, 'before the deletion');

    const deleted = withDatabase((db) => db.prepare('DELETE FROM users WHERE username = ?').run(HEIDI.username).changes);
    assert.equal(deleted, 1);

    await assertEnded(server, session, 'after the deletion');
  });
});

describe('issue #11 point 5: sessions after a change in the configuration file (applied at the next start)', () => {
  let dir: string;
  let server: TestServer | undefined;
  const GAIL = user('gail');
  const HANK = user('hank');
  const IDA = user('ida');

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-sessions-config-'));
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(users: Array<UserCredentials & { blocked?: boolean }>): Promise<TestServer> {
    await server?.close();
    server = await startTestServer({ dir, tenants: [tenantWith(users)] });
    return server;
  }

  const securityEvents = (s: TestServer, type: string) =>
    s.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((l) => l.security_event === type);

  it('regression (issue #11 point 5): a password changed in the configuration file revokes the old refresh token at the next start; the new password signs in', async () => {
    let s = await start([GAIL, HANK]);
    const gail = await signIn(s, GAIL);
    const old = gail.refreshToken;
    const bystander = (await signIn(s, HANK)).refreshToken;

    const changedGail = { ...GAIL, password: 'gail second password' };
    s = await start([changedGail, HANK]);

    assert.deepEqual((await introspectToken(s, CLIENT, old)).body, { active: false }, 'the old refresh token is inactive');
    assertOAuthError(await refresh(s, CLIENT, old), 400, 'invalid_grant', 'the old refresh token after the change');
    assert.equal((await refresh(s, CLIENT, bystander)).status, 200, 'an unchanged user keeps their session across the restart');
    await assertWorks(s, await signIn(s, changedGail), 'a sign-in with the new password');

    const event = securityEvents(s, 'password_changed').find((e) => e.user_id === decodeJwt(gail.accessToken).payload.sub);
    assert.equal(event?.reason, 'config');
    assert.deepEqual(event?.details, { refresh_token_families_revoked: 1 });
  });

  it('regression (issue #11 point 5): blocked: true in the configuration file revokes the refresh tokens, and blocked: false at a later start revives none', async () => {
    let s = await start([IDA]);
    const ida = await signIn(s, IDA);
    const old = ida.refreshToken;

    s = await start([{ ...IDA, blocked: true }]);
    const refused = await refresh(s, CLIENT, old);
    assertOAuthError(refused, 400, 'invalid_grant', 'while blocked');
    assert.equal(refused.body.error_reason, 'user_blocked');
    const event = securityEvents(s, 'user_blocked').find((e) => e.user_id === decodeJwt(ida.accessToken).payload.sub);

    s = await start([{ ...IDA, blocked: false }]);
    assert.deepEqual((await introspectToken(s, CLIENT, old)).body, { active: false }, 'the pre-block refresh token stays inactive');
    assertOAuthError(await refresh(s, CLIENT, old), 400, 'invalid_grant', 'the pre-block refresh token after the block is lifted');
    await assertWorks(s, await signIn(s, IDA), 'a sign-in after the block is lifted');
    assert.equal(event?.reason, 'config', 'the block at the second start was a user_blocked security event');
    assert.deepEqual(event?.details, { refresh_token_families_revoked: 1 });
  });
});
