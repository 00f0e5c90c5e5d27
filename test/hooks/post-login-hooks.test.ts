/**
 * Issue #5 §4–5: post-login hooks in Auth0 Actions' shape, black box over
 * HTTP on a real server with real hook modules (.mjs files written into a
 * temp dir).
 *
 * §4, what a hook can do:
 * - custom claims on the access token and the id_token, namespaced only
 *   (a plain or reserved name fails the hook); an Express API behind
 *   express-oauth2-jwt-bearer reads them from `req.auth.payload`;
 * - addScope / removeScope change the access token's `scope` and the
 *   response's, never the refresh token family's;
 * - access.deny: 403 access_denied with the hook's reason, no tokens, a
 *   hook_denied security event, later hooks skipped;
 * - the event: user, client, connection, request (ip, scope, audience,
 *   realm), grant_type, transaction, authentication;
 * - hooks run in order, each with its own copy of the event;
 * - hooks rerun at every refresh (grant_type refresh_token);
 * - multifactor.enable: mfa_required on a password-only sign-in, tokens with
 *   amr mfa once the second factor is shown; invalid_grant mfa_required on a
 *   refresh of a password-only family;
 * - client_credentials runs no hook.
 *
 * §5, failing closed: a throw (403 hook_failed, the message only in the
 * log), a slow hook (503 hook_timeout + Retry-After), a synchronous loop and
 * process.exit() (the worker is replaced; the next sign-in works), and
 * modules that cannot be loaded (start-up fails naming the path).
 *
 * Hook behaviour is chosen by the user's login name (`<mode>@hooks.test`),
 * so one server serves every §4 test. No timing assertions: "slow" is judged
 * by the status only.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import express, { type ErrorRequestHandler } from 'express';
import { auth, requiredScopes, UnauthorizedError } from 'express-oauth2-jwt-bearer';
import { hashPassword } from '../../src/identity/passwords.js';
import { ALL_GRANTS, API, RESOURCE_SERVER, WEB, acmeFixture } from '../helpers/fixtures.js';
import { decodeJwt, get, postForm, type JsonResponse } from '../helpers/http.js';
import { MFA_GRANTS, alignToStep, enrollOtp, mfaRequired, otpGrant, totpCode } from '../helpers/mfa-otp.js';
import { startTestServer, type TenantInput, type TestServer } from '../helpers/server.js';
import { assertOAuthError, member, refresh } from '../helpers/token-requests.js';

const NS = 'https://hooks.test/';
const PASSWORD = 'hook user password 1';
const DEFAULT_CONNECTION = 'Username-Password-Authentication';
/** A confidential backend trusted to forward the end user's IP. */
const BACKEND = { client_id: 'hooks-backend', client_secret: 'hooks-backend-secret-0123456789' };
const FORWARDED_IP = '203.0.113.45';

const user = (mode: string) => ({ username: `${mode}@hooks.test`, password: PASSWORD });

/**
 * The first hook of the chain: what it does depends on the login name. Every
 * run is appended to runs.log next to it (hooks run in two worker threads,
 * so state they share lives in files).
 */
const FIRST_HOOK = String.raw`
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
const here = (name) => new URL(name, import.meta.url);
const NS = 'https://hooks.test/';

export async function onExecutePostLogin(event, api) {
  const mode = event.user.username.split('@')[0];
  appendFileSync(here('runs.log'), 'first ' + event.grant_type + ' ' + event.user.username + '\n');
  switch (mode) {
    case 'claims':
      api.accessToken.setCustomClaim(NS + 'roles', ['reader', 'auditor']);
      api.accessToken.setCustomClaim('urn:hooks:tier', 'gold');
      api.idToken.setCustomClaim(NS + 'team', { name: 'blue', size: 3 });
      break;
    case 'plainname':
      api.accessToken.setCustomClaim('roles', ['admin']);
      break;
    case 'reserved':
      api.accessToken.setCustomClaim('sub', 'someone-else');
      break;
    case 'reservedid':
      api.idToken.setCustomClaim('email', 'mallory@evil.test');
      break;
    case 'huge':
      api.accessToken.setCustomClaim(NS + 'big', 'x'.repeat(9000));
      break;
    case 'scopes':
      api.accessToken.addScope('write:sample');
      api.accessToken.removeScope('edit');
      api.accessToken.addScope('temp:scope');
      api.accessToken.removeScope('temp:scope');
      break;
    case 'deny':
      api.access.deny('Account "deny" is\nnot allowed here');
      break;
    case 'echo':
      api.accessToken.setCustomClaim(NS + 'event', event);
      break;
    case 'order':
      // Changes to the event stay in this hook: the next one is told the original.
      event.user.username = 'changed-by-first';
      event.transaction.granted_scopes.push('injected');
      event.request.ip = '198.51.100.1';
      api.accessToken.setCustomClaim(NS + 'last', 'first');
      break;
    case 'counter': {
      const file = here('counter.txt');
      const n = existsSync(file) ? Number(readFileSync(file, 'utf8')) + 1 : 1;
      writeFileSync(file, String(n));
      api.accessToken.setCustomClaim(NS + 'count', n);
      api.accessToken.setCustomClaim(NS + 'grant', event.grant_type);
      api.idToken.setCustomClaim(NS + 'count', n);
      break;
    }
    case 'mfa':
      api.multifactor.enable('any');
      api.accessToken.setCustomClaim(NS + 'methods', event.authentication.methods.map((m) => m.name));
      api.idToken.setCustomClaim(NS + 'mfa-ok', true);
      break;
    case 'mfarefresh':
      if (event.grant_type === 'refresh_token') api.multifactor.enable();
      break;
    case 'throw':
      throw new Error('hook exploded: secret-marker-7f3a');
  }
}
`;

const SECOND_HOOK = String.raw`
import { appendFileSync } from 'node:fs';
const here = (name) => new URL(name, import.meta.url);
const NS = 'https://hooks.test/';

export async function onExecutePostLogin(event, api) {
  appendFileSync(here('runs.log'), 'second ' + event.grant_type + ' ' + event.user.username + '\n');
  if (event.user.username.startsWith('order@')) {
    api.accessToken.setCustomClaim(NS + 'last', 'second');
    api.accessToken.setCustomClaim(NS + 'seen-by-second', { username: event.user.username, granted: event.transaction.granted_scopes, ip: event.request.ip });
  }
}
`;

/** The §5 server's only hook. */
const FAILING_HOOK = `
export async function onExecutePostLogin(event, api) {
  const mode = event.user.username.split('@')[0];
  if (mode === 'slow') await new Promise((resolve) => setTimeout(resolve, 60_000));
  if (mode === 'loop') for (;;) {}
  if (mode === 'exit') process.exit(3);
  api.accessToken.setCustomClaim('https://hooks.test/ok', true);
}
`;

const MODES = ['claims', 'plainname', 'reserved', 'reservedid', 'huge', 'scopes', 'deny', 'order', 'counter', 'mfa', 'mfarefresh', 'throw'];

async function hookTenant(hooks: { post_login: string[]; timeout_ms: number }, modes: string[]): Promise<TenantInput> {
  const { tenant } = await acmeFixture();
  const hash = await hashPassword(PASSWORD);
  const applications = (tenant.applications ?? []).map((app) =>
    app.client_id === WEB.client_id ? { ...app, grant_types: [...ALL_GRANTS, ...MFA_GRANTS] } : app,
  );
  return {
    ...tenant,
    hooks,
    applications: [
      ...applications,
      {
        ...BACKEND,
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: ['password', 'refresh_token'],
        trust_forwarded_for: true,
      },
    ],
    users: [
      ...(tenant.users ?? []),
      ...modes.map((mode) => ({ connection: DEFAULT_CONNECTION, username: user(mode).username, password_hash: hash })),
      {
        connection: 'employees',
        username: user('echo').username,
        email: user('echo').username,
        email_verified: true,
        name: 'Echo Example',
        given_name: 'Echo',
        family_name: 'Example',
        password_hash: hash,
      },
    ],
  };
}

function signIn(
  server: TestServer,
  mode: string,
  extra: Record<string, string> = {},
  client: Record<string, string> = WEB,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  return postForm(server.at('/oauth/token'), { grant_type: 'password', ...user(mode), ...extra, ...client }, headers);
}

function claimsOf(res: JsonResponse, token: 'access_token' | 'id_token' = 'access_token'): Record<string, unknown> {
  return decodeJwt(member(res, token)).payload;
}

/** The security events of `type` stored for the user signed in as `mode`. */
function storedEvents(
  server: TestServer,
  type: string,
  userId?: string,
): Array<{ reason: string | null; user_id: string | null; client_id: string | null; ip: string | null }> {
  const db = new Database(join(server.dir, 'latchkey.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT reason, user_id, client_id, ip FROM security_events WHERE type = ? ORDER BY at').all(type) as Array<{
      reason: string | null;
      user_id: string | null;
      client_id: string | null;
      ip: string | null;
    }>;
    return userId === undefined ? rows : rows.filter((r) => r.user_id === userId);
  } finally {
    db.close();
  }
}

/** The user id of a login name, from the database. */
function userId(server: TestServer, mode: string): string {
  const db = new Database(join(server.dir, 'latchkey.db'), { readonly: true });
  try {
    const row = db.prepare('SELECT id FROM users WHERE username = ?').get(user(mode).username) as { id: string } | undefined;
    assert.ok(row, `no user ${mode}`);
    return row.id;
  } finally {
    db.close();
  }
}

function assertHookFailed(res: JsonResponse): void {
  assertOAuthError(res, 403, 'access_denied');
  assert.equal(res.body.error_reason, 'hook_failed', res.text);
  assert.equal(res.body.access_token, undefined, res.text);
  assert.equal(res.body.refresh_token, undefined, res.text);
}

describe('issue #5 §4: post-login hooks (what a hook can do)', () => {
  let dir: string;
  let server: TestServer;
  const runs = () =>
    existsSync(join(dir, 'runs.log'))
      ? readFileSync(join(dir, 'runs.log'), 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-hooks-'));
    writeFileSync(join(dir, 'first.mjs'), FIRST_HOOK);
    writeFileSync(join(dir, 'second.mjs'), SECOND_HOOK);
    server = await startTestServer({
      tenants: [await hookTenant({ post_login: [join(dir, 'first.mjs'), join(dir, 'second.mjs')], timeout_ms: 2000 }, MODES)],
    });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('custom claims', () => {
    it("namespaced claims land on the access token and the id_token, next to the server's own", async () => {
      const res = await signIn(server, 'claims', { scope: 'openid profile', audience: API });
      assert.equal(res.status, 200, res.text);
      const access = claimsOf(res);
      assert.deepEqual(access[`${NS}roles`], ['reader', 'auditor']);
      assert.equal(access['urn:hooks:tier'], 'gold');
      assert.equal(access[`${NS}team`], undefined, 'an id_token claim stays off the access token');
      assert.equal(access.sub, userId(server, 'claims'));
      assert.equal(access.iss, server.issuer());
      const id = claimsOf(res, 'id_token');
      assert.deepEqual(id[`${NS}team`], { name: 'blue', size: 3 });
      assert.equal(id[`${NS}roles`], undefined, 'an access-token claim stays off the id_token');
      assert.equal(id.preferred_username, user('claims').username);
    });

    it('an Express API behind express-oauth2-jwt-bearer accepts the token and reads the claims (and a hook-added scope)', async () => {
      const app = express();
      app.get('/reports', auth({ issuerBaseURL: server.issuer(), audience: API }), requiredScopes('read:sample'), (req, res) => {
        res.json({ sub: req.auth?.payload.sub, roles: req.auth?.payload[`${NS}roles`], tier: req.auth?.payload['urn:hooks:tier'] });
      });
      // write:sample is granted only by the 'scopes' hook.
      app.get('/write', auth({ issuerBaseURL: server.issuer(), audience: API }), requiredScopes('write:sample'), (req, res) => {
        res.json({ scope: req.auth?.payload.scope });
      });
      const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
        res.status(err instanceof UnauthorizedError ? err.status : 500).json({ message: err instanceof Error ? err.message : String(err) });
      };
      app.use(onError);
      const api: Server = createServer(app);
      api.listen(0, '127.0.0.1');
      await once(api, 'listening');
      const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
      try {
        const token = member(await signIn(server, 'claims', { scope: 'read:sample', audience: API }), 'access_token');
        const res = await get(`${apiUrl}/reports`, { authorization: `Bearer ${token}` });
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.body, { sub: userId(server, 'claims'), roles: ['reader', 'auditor'], tier: 'gold' });
        // Without the hook's scope the same API refuses: the scope really came from the hook.
        assert.equal((await get(`${apiUrl}/write`, { authorization: `Bearer ${token}` })).status, 403);
        const widened = member(await signIn(server, 'scopes', { scope: 'read:sample', audience: API }), 'access_token');
        const write = await get(`${apiUrl}/write`, { authorization: `Bearer ${widened}` });
        assert.equal(write.status, 200, write.text);
      } finally {
        api.closeAllConnections();
        await new Promise<void>((resolve) => api.close(() => resolve()));
      }
    });

    for (const [mode, name, expected] of [
      ['plainname', 'a plain name ("roles")', 'must be namespaced'],
      ['reserved', 'a reserved name ("sub")', '\\"sub\\" is a claim the server sets'],
      ['reservedid', 'a reserved id_token name ("email")', '\\"email\\" is a claim the server sets'],
      ['huge', 'a value over 8 KiB', 'at most 8192 bytes'],
    ] as const) {
      it(`${name} fails the hook: 403 access_denied, error_reason hook_failed, no tokens; the log says why`, async () => {
        const res = await signIn(server, mode, { scope: 'openid' });
        assertHookFailed(res);
        assert.ok(
          server.logs.some((l) => l.includes('a post-login hook threw') && l.includes(expected)),
          `no log line with ${expected}`,
        );
      });
    }
  });

  describe('scopes', () => {
    it("addScope/removeScope change the access token's scope and the response's; the refresh token family keeps the grant's", async () => {
      const res = await signIn(server, 'scopes', { scope: 'offline_access read:sample edit', audience: API });
      assert.equal(res.status, 200, res.text);
      const expected = ['offline_access', 'read:sample', 'write:sample'];
      assert.deepEqual(String(claimsOf(res).scope).split(' ').sort(), expected);
      assert.deepEqual(String(res.body.scope).split(' ').sort(), expected, "the response scope is the access token's");

      // The family has the grant's scopes (edit, not write:sample): asking a refresh for write:sample widens it.
      const widened = await refresh(server, WEB, member(res, 'refresh_token'), { scope: 'read:sample write:sample' });
      assertOAuthError(widened, 400, 'invalid_scope');
      // Narrowing to the family's edit is fine; the hook runs again and adjusts the new access token the same way.
      const narrowed = await refresh(server, WEB, member(res, 'refresh_token'), { scope: 'read:sample edit' });
      assert.equal(narrowed.status, 200, narrowed.text);
      assert.deepEqual(String(claimsOf(narrowed).scope).split(' ').sort(), ['read:sample', 'write:sample']);
      assert.deepEqual(String(narrowed.body.scope).split(' ').sort(), ['read:sample', 'write:sample']);
      const plain = await refresh(server, WEB, member(narrowed, 'refresh_token'));
      assert.equal(plain.status, 200, plain.text);
      assert.deepEqual(String(claimsOf(plain).scope).split(' ').sort(), expected);
    });
  });

  describe('access.deny', () => {
    it("403 access_denied with the hook's reason (sanitised), no tokens, a hook_denied event, and later hooks do not run", async () => {
      const res = await signIn(server, 'deny', { scope: 'openid offline_access' });
      assertOAuthError(res, 403, 'access_denied');
      assert.equal(res.body.error_description, 'Account  deny  is not allowed here');
      assert.equal(res.body.error_reason, undefined, res.text);
      for (const token of ['access_token', 'id_token', 'refresh_token', 'mfa_token']) assert.equal(res.body[token], undefined, token);
      const events = storedEvents(server, 'hook_denied', userId(server, 'deny'));
      assert.equal(events.length, 1, JSON.stringify(events));
      assert.equal(events[0]?.client_id, WEB.client_id);
      assert.equal(events[0]?.ip, '127.0.0.1');
      assert.ok(server.logs.some((l) => l.includes('"security_event":"hook_denied"')));
      const lines = runs().filter((l) => l.endsWith(` ${user('deny').username}`));
      assert.deepEqual(lines, [`first password ${user('deny').username}`], 'the second hook never ran');
    });
  });

  describe('the event', () => {
    it('carries the user, client, connection, request (ip, scope, audience, realm), transaction and grant_type', async () => {
      const res = await postForm(server.at('/oauth/token'), {
        grant_type: 'http://auth0.com/oauth/grant-type/password-realm',
        realm: 'employees',
        ...user('echo'),
        scope: 'openid read:sample',
        audience: API,
        ...WEB,
      });
      assert.equal(res.status, 200, res.text);
      const event = claimsOf(res)[`${NS}event`] as Record<string, Record<string, unknown>>;
      assert.ok(event, res.text);
      assert.equal(event.grant_type, 'http://auth0.com/oauth/grant-type/password-realm');
      assert.deepEqual(event.tenant, { id: 'acme' });
      const u = event.user as Record<string, unknown>;
      assert.equal(u.user_id, claimsOf(res).sub);
      assert.equal(u.username, user('echo').username);
      assert.equal(u.email, user('echo').username);
      assert.equal(u.email_verified, true);
      assert.equal(u.name, 'Echo Example');
      assert.equal(u.given_name, 'Echo');
      assert.equal(u.family_name, 'Example');
      assert.equal(u.groups, null);
      for (const at of ['created_at', 'updated_at']) assert.ok(!Number.isNaN(Date.parse(String(u[at]))), `${at}: ${String(u[at])}`);
      assert.deepEqual(event.client, { client_id: WEB.client_id, name: WEB.client_id });
      assert.equal(event.connection?.name, 'employees');
      assert.equal(event.connection?.strategy, 'database');
      assert.equal(typeof event.connection?.id, 'string');
      assert.deepEqual(event.request, { ip: '127.0.0.1', scope: 'openid read:sample', audience: API, realm: 'employees' });
      assert.deepEqual(event.resource_server, { identifier: API });
      assert.deepEqual(event.transaction?.requested_scopes, ['openid', 'read:sample']);
      // Granted: what the token says (the hook changed no scope), openid's standard claims included.
      assert.deepEqual([...((event.transaction?.granted_scopes ?? []) as string[])].sort(), String(claimsOf(res).scope).split(' ').sort());
      assert.ok(((event.transaction?.granted_scopes ?? []) as string[]).includes('read:sample'));
      assert.deepEqual(event.authentication, { methods: [{ name: 'pwd' }] });
    });

    it("request.ip is the end user's IP forwarded by a trusted backend; without audience or scope both are absent", async () => {
      const res = await postForm(
        server.at('/oauth/token'),
        { grant_type: 'password', ...user('echo'), realm: 'employees', ...BACKEND },
        { 'auth0-forwarded-for': FORWARDED_IP },
      );
      assert.equal(res.status, 200, res.text);
      const event = claimsOf(res)[`${NS}event`] as Record<string, Record<string, unknown>>;
      assert.equal(event.grant_type, 'password');
      assert.deepEqual(event.client, { client_id: BACKEND.client_id, name: BACKEND.client_id });
      assert.equal(event.request?.ip, FORWARDED_IP);
      assert.equal(event.request?.realm, 'employees');
      assert.equal(event.request?.audience, undefined);
      assert.equal(event.request?.scope, undefined);
      assert.equal(event.resource_server, undefined);
    });
  });

  describe('the chain', () => {
    it('hooks run in order; a later hook is told the original event whatever an earlier one changed in its copy', async () => {
      const res = await signIn(server, 'order', { scope: 'openid read:sample', audience: API });
      assert.equal(res.status, 200, res.text);
      const claims = claimsOf(res);
      assert.equal(claims[`${NS}last`], 'second', "the second hook's claim, set after the first hook's, wins");
      const seen = claims[`${NS}seen-by-second`] as { username: string; granted: string[]; ip: string };
      assert.equal(seen.username, user('order').username);
      assert.deepEqual([...seen.granted].sort(), String(claims.scope).split(' ').sort());
      assert.ok(!seen.granted.includes('injected'));
      assert.equal(seen.ip, '127.0.0.1');
      const lines = runs().filter((l) => l.endsWith(` ${user('order').username}`));
      assert.deepEqual(lines, [`first password ${user('order').username}`, `second password ${user('order').username}`]);
    });
  });

  describe('refresh', () => {
    it('every refresh runs the hooks again with grant_type refresh_token, so claims are recomputed', async () => {
      const res = await signIn(server, 'counter', { scope: 'openid offline_access' });
      assert.equal(res.status, 200, res.text);
      assert.equal(claimsOf(res)[`${NS}count`], 1);
      assert.equal(claimsOf(res)[`${NS}grant`], 'password');
      assert.equal(claimsOf(res, 'id_token')[`${NS}count`], 1);

      const first = await refresh(server, WEB, member(res, 'refresh_token'));
      assert.equal(first.status, 200, first.text);
      assert.equal(claimsOf(first)[`${NS}count`], 2);
      assert.equal(claimsOf(first)[`${NS}grant`], 'refresh_token');
      assert.equal(claimsOf(first, 'id_token')[`${NS}count`], 2);
      const second = await refresh(server, WEB, member(first, 'refresh_token'));
      assert.equal(second.status, 200, second.text);
      assert.equal(claimsOf(second)[`${NS}count`], 3);
      const lines = runs().filter((l) => l.startsWith('first') && l.endsWith(` ${user('counter').username}`));
      assert.deepEqual(
        lines.map((l) => l.split(' ')[1]),
        ['password', 'refresh_token', 'refresh_token'],
      );
    });
  });

  describe('multifactor.enable', () => {
    it("a password-only sign-in answers mfa_required; after enrolling and the mfa-otp grant the tokens carry amr mfa and the hook's claims, and refreshes keep amr", async () => {
      alignToStep(server);
      const extra = { scope: 'openid offline_access read:sample', audience: API };
      const mfaToken = await mfaRequired(server, WEB, user('mfa'), { enrollment: true }, extra);
      const mfaEvents = storedEvents(server, 'mfa_required', userId(server, 'mfa'));
      assert.deepEqual(
        mfaEvents.map((e) => e.reason),
        ['mfa_enrollment_required'],
      );
      const { secret } = await enrollOtp(server, WEB, mfaToken);

      const res = await otpGrant(server, WEB, mfaToken, totpCode(server, secret));
      assert.equal(res.status, 200, res.text);
      const access = claimsOf(res);
      assert.deepEqual(access.amr, ['pwd', 'otp', 'mfa']);
      assert.deepEqual(access[`${NS}methods`], ['pwd', 'otp', 'mfa'], 'the hook was told the factors used');
      assert.ok(String(access.scope).split(' ').includes('read:sample'), String(access.scope));
      const id = claimsOf(res, 'id_token');
      assert.deepEqual(id.amr, ['pwd', 'otp', 'mfa']);
      assert.equal(id[`${NS}mfa-ok`], true);
      const grants = runs()
        .filter((l) => l.endsWith(` ${user('mfa').username}`) && l.startsWith('first'))
        .map((l) => l.split(' ')[1]);
      assert.deepEqual(grants, ['password', 'http://auth0.com/oauth/grant-type/mfa-otp']);

      // The family remembers the second factor: the hook, run again, lets the refresh through.
      const refreshed = await refresh(server, WEB, member(res, 'refresh_token'));
      assert.equal(refreshed.status, 200, refreshed.text);
      assert.deepEqual(claimsOf(refreshed).amr, ['pwd', 'otp', 'mfa']);
      assert.deepEqual(claimsOf(refreshed)[`${NS}methods`], ['pwd', 'otp', 'mfa']);
      assert.deepEqual(claimsOf(refreshed, 'id_token').amr, ['pwd', 'otp', 'mfa']);
    });

    it('on a refresh of a password-only sign-in: 400 invalid_grant, error_reason mfa_required, no tokens', async () => {
      const res = await signIn(server, 'mfarefresh', { scope: 'openid offline_access' });
      assert.equal(res.status, 200, res.text);
      assert.equal(claimsOf(res).amr, undefined);
      const refused = await refresh(server, WEB, member(res, 'refresh_token'));
      assertOAuthError(refused, 400, 'invalid_grant');
      assert.equal(refused.body.error_reason, 'mfa_required', refused.text);
      assert.equal(refused.body.access_token, undefined);
      assert.equal(refused.body.mfa_token, undefined);
    });
  });

  describe('a hook that throws', () => {
    it('403 access_denied, error_reason hook_failed, a generic description; the message is only in the log; a hook_failure event', async () => {
      const res = await signIn(server, 'throw', { scope: 'openid' });
      assertHookFailed(res);
      assert.ok(!res.text.includes('secret-marker-7f3a'), res.text);
      assert.ok(!res.text.includes('first.mjs'), res.text);
      const logged = server.logs.filter((l) => l.includes('secret-marker-7f3a'));
      assert.ok(logged.length > 0, 'the thrown message is logged');
      assert.ok(
        logged.some((l) => l.includes(join(dir, 'first.mjs'))),
        'with the hook path',
      );
      const events = storedEvents(server, 'hook_failure', userId(server, 'throw'));
      assert.deepEqual(
        events.map((e) => e.reason),
        ['threw'],
      );
      // The server carries on.
      assert.equal((await signIn(server, 'claims')).status, 200);
    });
  });

  describe('client_credentials', () => {
    it('runs no hook: no run recorded and no custom claim', async () => {
      const before = runs().length;
      const res = await postForm(server.at('/oauth/token'), { grant_type: 'client_credentials', audience: API, ...RESOURCE_SERVER });
      assert.equal(res.status, 200, res.text);
      assert.equal(claimsOf(res).sub, RESOURCE_SERVER.client_id);
      assert.ok(Object.keys(claimsOf(res)).every((k) => !k.startsWith(NS)));
      assert.equal(runs().length, before);
    });
  });
});

describe('issue #5 §5: hooks fail closed', () => {
  // timeout_ms is the default, 2000: well above a replacement worker's start-up even on a loaded machine, so
  // "the next sign-in works" does not depend on timing (the loading case has its own suite below).

  let dir: string;
  let server: TestServer;

  /** Until `text` is in the log (a worker replaced in the background); fails after 10 s. */
  async function logged(text: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if (server.logs.some((l) => l.includes(text))) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.fail(`no log line with "${text}"`);
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-hooks-fail-'));
    writeFileSync(join(dir, 'fail.mjs'), FAILING_HOOK);
    server = await startTestServer({
      tenants: [await hookTenant({ post_login: [join(dir, 'fail.mjs')], timeout_ms: 2000 }, ['ok', 'slow', 'loop', 'exit'])],
    });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a hook slower than timeout_ms: 503 temporarily_unavailable, error_reason hook_timeout, Retry-After, a hook_failure event', async () => {
    const res = await signIn(server, 'slow', { scope: 'openid offline_access' });
    assertOAuthError(res, 503, 'temporarily_unavailable');
    assert.equal(res.body.error_reason, 'hook_timeout', res.text);
    assert.ok(Number(res.headers.get('retry-after')) >= 1, `Retry-After: ${res.headers.get('retry-after')}`);
    assert.equal(res.body.access_token, undefined);
    assert.deepEqual(
      storedEvents(server, 'hook_failure', userId(server, 'slow')).map((e) => e.reason),
      ['timeout'],
    );
    assert.ok(server.logs.some((l) => l.includes('did not finish within 2000 ms')));
    assert.equal((await signIn(server, 'ok')).status, 200);
  });

  it('a synchronous infinite loop: 503 hook_timeout; the blocked worker is replaced and sign-ins keep working', async () => {
    const res = await signIn(server, 'loop');
    assertOAuthError(res, 503, 'temporarily_unavailable');
    assert.equal(res.body.error_reason, 'hook_timeout', res.text);
    const next = await signIn(server, 'ok');
    assert.equal(next.status, 200, next.text);
    assert.equal(claimsOf(next)['https://hooks.test/ok'], true);
    await logged('replacing the worker');
    await logged('a post-login hook worker stopped; starting a new one');
    for (let i = 0; i < 3; i++) {
      const again = await signIn(server, 'ok');
      assert.equal(again.status, 200, again.text);
    }
  });

  it('process.exit() in a hook: 403 hook_failed; the worker is replaced and the next sign-in works', async () => {
    const res = await signIn(server, 'exit');
    assertHookFailed(res);
    assert.deepEqual(
      storedEvents(server, 'hook_failure', userId(server, 'exit')).map((e) => e.reason),
      ['threw'],
    );
    assert.ok(
      server.logs.some((l) => l.includes('process.exit')),
      'the log suggests the cause',
    );
    for (let i = 0; i < 3; i++) {
      const again = await signIn(server, 'ok');
      assert.equal(again.status, 200, again.text);
      assert.equal(claimsOf(again)['https://hooks.test/ok'], true);
    }
  });
});

describe('issue #5 §5: a replacement worker that is still loading', {
  skip: availableParallelism() < 2 ? 'one CPU: the server runs a single hook worker' : undefined,
}, () => {
  // Every worker takes LOAD_MS to import this module; the time limit is well below that.
  const LOAD_MS = 1500;
  const SLOW_LOADING_HOOK = `
await new Promise((resolve) => setTimeout(resolve, ${LOAD_MS}));
export async function onExecutePostLogin(event, api) {
  if (event.user.username.startsWith('exit@')) process.exit(1);
  api.accessToken.setCustomClaim('https://hooks.test/ok', true);
}
`;
  let dir: string;
  let server: TestServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-hooks-slowload-'));
    writeFileSync(join(dir, 'slow-load.mjs'), SLOW_LOADING_HOOK);
    server = await startTestServer({
      tenants: [await hookTenant({ post_login: [join(dir, 'slow-load.mjs')], timeout_ms: 500 }, ['ok', 'exit'])],
    });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets no sign-in while the other worker can answer: its start-up does not eat the time limit', async () => {
    assertHookFailed(await signIn(server, 'exit'));
    for (let i = 0; i < 3; i++) {
      const res = await signIn(server, 'ok');
      assert.equal(res.status, 200, res.text);
      assert.equal(claimsOf(res)['https://hooks.test/ok'], true);
    }
  });
});

describe('issue #5 §5: hook modules that cannot be used stop start-up', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-hooks-load-'));
    writeFileSync(join(dir, 'good.mjs'), 'export async function onExecutePostLogin() {}\n');
    writeFileSync(join(dir, 'no-export.mjs'), 'export async function onExecutePreLogin() {}\n');
    writeFileSync(join(dir, 'default-export.mjs'), 'export default async function onExecutePostLogin() {}\n');
    writeFileSync(join(dir, 'syntax.mjs'), 'export async function onExecutePostLogin(event, api) {\n  api.access.deny(\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [file, why] of [
    ['no-export.mjs', /onExecutePostLogin/],
    ['default-export.mjs', /onExecutePostLogin/],
    ['syntax.mjs', /SyntaxError|Unexpected|missing/i],
    ['missing.mjs', /Cannot find|ERR_MODULE_NOT_FOUND|not found/i],
  ] as const) {
    it(`${file}: startServer rejects with an error naming the path`, async () => {
      const path = join(dir, file);
      const data = mkdtempSync(join(tmpdir(), 'latchkey-hooks-load-data-'));
      try {
        const tenant = await hookTenant({ post_login: [join(dir, 'good.mjs'), path], timeout_ms: 2000 }, []);
        await assert.rejects(startTestServer({ tenants: [tenant], dir: data }), (err: Error) => {
          assert.equal(err.name, 'HookLoadError');
          assert.ok(err.message.includes(path), err.message);
          assert.match(err.message, why);
          return true;
        });
      } finally {
        rmSync(data, { recursive: true, force: true });
      }
    });
  }
});
