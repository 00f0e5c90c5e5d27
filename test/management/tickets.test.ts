/**
 * DESIGN.md §9, issue #15 point 2: `POST /tickets/password-change` and
 * `POST /tickets/email-verification` in Auth0's shapes. A ticket is a link
 * (201 `{ticket}`) to the same single-use pages the account emails lead to
 * (DESIGN.md §8); nothing is emailed. The user is named by `user_id`
 * (Latchkey's id, or Auth0's `auth0|<id>`) or, for a reset, by `email` with
 * `connection_id`. Auth0's options hold when the link is spent:
 * `result_url` (the page redirects there with `success` and `message`),
 * `includeEmailInRedirect`, `mark_email_as_verified`, `ttl_sec` (the link
 * expires; 0 or absent: 5 days). Hostile: unknown users (and another
 * tenant's) are 404 inexistent_user, bad bodies 400, a used link an error
 * page, a token without create:user_tickets 403.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManagementClient } from 'auth0';
import { EMPLOYEE, JOE, SEED_USER, WEB } from '../helpers/fixtures.js';
import { tlsUnavailableReason, type HttpsTestServer } from '../helpers/tls.js';
import { assertManagementError, MGMT_CLIENT, managementToken, mgmt, startManagementServer } from './helpers.js';

const RESULT_URL = 'https://app.acme.test/after?from=latchkey';
const GLOBEX_USER = { username: 'gina@globex.test', password: 'globex user password 1' };

describe('Management API tickets (DESIGN.md §9)', { skip: tlsUnavailableReason() }, () => {
  let server: HttpsTestServer;
  let token: string;

  before(async () => {
    server = await startManagementServer({
      otherTenants: () => [
        {
          name: 'globex',
          connections: [{ name: 'db', type: 'database' }],
          users: [{ connection: 'db', username: GLOBEX_USER.username, email: GLOBEX_USER.username, password: GLOBEX_USER.password }],
        },
      ],
    });
    token = await managementToken(server);
  });
  after(() => server?.close());

  const runtime = () => server.server.server.runtime;
  const connectionId = (tenant: string, name: string): string => runtime().catalog.tenant(tenant)?.connections.get(name)?.id ?? '';
  const userOf = async (tenant: string, connection: string, login: string) => {
    const tenantId = runtime().catalog.tenant(tenant)?.id ?? '';
    const user = await runtime().stores.users.findByLogin(tenantId, connectionId(tenant, connection), login);
    assert.ok(user, login);
    return user;
  };
  const signIn = (username: string, password: string, realm: string) =>
    server.postForm(server.at('/oauth/token'), {
      grant_type: 'http://auth0.com/oauth/grant-type/password-realm',
      ...WEB,
      username,
      password,
      realm,
    });

  /** The reset page as a browser uses it: GET (its CSRF cookie and hidden input), then the form posted url-encoded. */
  async function resetThroughPage(link: string, password: string): Promise<Response> {
    const page = await server.fetch(link);
    assert.equal(page.status, 200, 'the reset page opens');
    const html = await page.text();
    const cookie = page.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const hidden = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '';
    return server.fetch(`${server.issuer()}reset-password`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({
        _csrf: hidden('_csrf'),
        ticket: hidden('ticket'),
        password,
        password_confirmation: password,
      }).toString(),
    });
  }

  it('password-change by user_id: a link to the reset page; spent, it sets the password, verifies the email and redirects to result_url with the email', async () => {
    const employee = await userOf('acme', 'employees', EMPLOYEE.username);
    assert.equal(employee.emailVerified, false);
    const created = await mgmt(server, token).post('/tickets/password-change', {
      user_id: `auth0|${employee.id}`,
      result_url: RESULT_URL,
      mark_email_as_verified: true,
      includeEmailInRedirect: true,
    });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(Object.keys(created.body), ['ticket']);
    const link = String(created.body.ticket);
    assert.match(link, new RegExp(`^${server.issuer().replaceAll('.', '\\.')}reset-password\\?ticket=[A-Za-z0-9_-]{43}$`));

    const newPassword = 'employee password set by ticket 2';
    const done = await resetThroughPage(link, newPassword);
    assert.equal(done.status, 303, await done.text());
    const location = new URL(done.headers.get('location') ?? '');
    assert.equal(`${location.origin}${location.pathname}`, 'https://app.acme.test/after');
    assert.equal(location.searchParams.get('from'), 'latchkey', "result_url's own query is kept");
    assert.equal(location.searchParams.get('success'), 'true');
    assert.equal(location.searchParams.get('email'), EMPLOYEE.username);
    assert.ok(location.searchParams.get('message'));

    assert.equal((await signIn(EMPLOYEE.username, newPassword, 'employees')).status, 200, 'the new password signs in');
    assert.equal(
      (await signIn(EMPLOYEE.username, EMPLOYEE.password, 'employees')).body.error,
      'invalid_grant',
      'the old one no longer does',
    );
    assert.equal((await userOf('acme', 'employees', EMPLOYEE.username)).emailVerified, true, 'mark_email_as_verified');

    const again = await server.fetch(link);
    assert.equal(again.status, 410, 'the link works once');
  });

  it('password-change by email and connection_id; without result_url the page says it is done; nothing is emailed', async () => {
    const created = await mgmt(server, token).post('/tickets/password-change', {
      email: SEED_USER.username,
      connection_id: connectionId('acme', 'Username-Password-Authentication'),
    });
    assert.equal(created.status, 201, created.text);
    const done = await resetThroughPage(String(created.body.ticket), 'seed user password set by ticket');
    assert.equal(done.status, 200);
    assert.match(await done.text(), /Your password is changed/);
    assert.equal(
      (await userOf('acme', 'Username-Password-Authentication', SEED_USER.username)).emailVerified,
      false,
      'not asked to verify',
    );
    const outbox = join(server.server.dir, 'outbox');
    assert.deepEqual(existsSync(outbox) ? readdirSync(outbox) : [], [], 'no email: Auth0 returns the link');
  });

  it('email-verification: the link marks the email verified and redirects to result_url; spent, it shows an error page', async () => {
    const user = await userOf('acme', 'Username-Password-Authentication', SEED_USER.username);
    assert.equal(user.emailVerified, false);
    const created = await mgmt(server, token).post('/tickets/email-verification', { user_id: user.id, result_url: RESULT_URL });
    assert.equal(created.status, 201, created.text);
    const link = String(created.body.ticket);
    assert.match(link, /\/acme\/verify-email\?ticket=[A-Za-z0-9_-]{43}$/);
    const opened = await server.fetch(link, { redirect: 'manual' });
    assert.equal(opened.status, 302);
    const location = new URL(opened.headers.get('location') ?? '');
    assert.equal(location.searchParams.get('success'), 'true');
    assert.equal(location.searchParams.get('email'), null, 'no email unless includeEmailInRedirect');
    assert.equal((await userOf('acme', 'Username-Password-Authentication', SEED_USER.username)).emailVerified, true);
    assert.equal((await server.fetch(link)).status, 410);
  });

  it('unknown users are 404 inexistent_user: an unknown id, an email unknown in the connection, a user of another tenant', async () => {
    const client = mgmt(server, token);
    const globexUser = await userOf('globex', 'db', GLOBEX_USER.username);
    assertManagementError(await client.post('/tickets/password-change', { user_id: 'auth0|no-such-user' }), 404, 'inexistent_user');
    assertManagementError(await client.post('/tickets/password-change', { user_id: globexUser.id }), 404, 'inexistent_user');
    assertManagementError(await client.post('/tickets/email-verification', { user_id: globexUser.id }), 404, 'inexistent_user');
    assertManagementError(
      await client.post('/tickets/password-change', { email: 'nobody@acme.test', connection_id: connectionId('acme', 'employees') }),
      404,
      'inexistent_user',
    );
    assertManagementError(
      await client.post('/tickets/password-change', { email: GLOBEX_USER.username, connection_id: connectionId('globex', 'db') }),
      404,
      'inexistent_connection',
    );
    // findByLogin also matches a username: a username is no email.
    assertManagementError(
      await client.post('/tickets/password-change', {
        email: `${JOE.username}@x.test`,
        connection_id: connectionId('acme', 'Username-Password-Authentication'),
      }),
      404,
      'inexistent_user',
    );
  });

  it('bad bodies are 400 invalid_body; a user without an email gets no verification ticket', async () => {
    const client = mgmt(server, token);
    const employee = await userOf('acme', 'employees', EMPLOYEE.username);
    const joe = await userOf('acme', 'Username-Password-Authentication', JOE.username);
    const bodies: unknown[] = [
      {},
      { user_id: employee.id, email: EMPLOYEE.username, connection_id: connectionId('acme', 'employees') },
      { email: EMPLOYEE.username },
      { connection_id: connectionId('acme', 'employees') },
      { user_id: employee.id, ttl_sec: -1 },
      { user_id: employee.id, ttl_sec: 31 * 86_400 },
      { user_id: employee.id, ttl_sec: 'soon' },
      { user_id: employee.id, result_url: 'javascript:alert(1)' },
      { user_id: employee.id, result_url: 'not a url' },
      { user_id: employee.id, mark_email_as_verified: 'yes' },
      { user_id: 42 },
    ];
    for (const body of bodies) assertManagementError(await client.post('/tickets/password-change', body), 400, 'invalid_body');
    assertManagementError(await client.post('/tickets/email-verification', {}), 400, 'invalid_body');
    assertManagementError(await client.post('/tickets/email-verification', { user_id: joe.id }), 400, 'invalid_body');
  });

  it("Auth0's SDK (ManagementClient v7, unchanged) makes both tickets", async () => {
    const sdk = new ManagementClient({ domain: `${server.host}/acme`, token, fetch: server.fetch as typeof fetch });
    const employee = await userOf('acme', 'employees', EMPLOYEE.username);
    const reset = await sdk.tickets.changePassword({ user_id: employee.id, result_url: RESULT_URL, ttl_sec: 3600 });
    assert.match(reset.ticket, /\/acme\/reset-password\?ticket=/);
    assert.equal((await server.fetch(reset.ticket)).status, 200);
    const verify = await sdk.tickets.verifyEmail({ user_id: employee.id });
    assert.match(verify.ticket, /\/acme\/verify-email\?ticket=/);
  });

  it('tickets take create:user_tickets (403 insufficient_scope otherwise)', async () => {
    const reader = await managementToken(server, MGMT_CLIENT, 'acme', 'read:users');
    const employee = await userOf('acme', 'employees', EMPLOYEE.username);
    assertManagementError(await mgmt(server, reader).post('/tickets/password-change', { user_id: employee.id }), 403, 'insufficient_scope');
    assertManagementError(
      await mgmt(server, reader).post('/tickets/email-verification', { user_id: employee.id }),
      403,
      'insufficient_scope',
    );
  });
  // Last: it moves the server's clock past every token of the suite.
  it('ttl_sec: the link stops working after it (0 or absent is 5 days)', async () => {
    const user = await userOf('acme', 'employees', EMPLOYEE.username);
    const short = await mgmt(server, token).post('/tickets/password-change', { user_id: user.id, ttl_sec: 60 });
    const lasting = await mgmt(server, token).post('/tickets/password-change', { user_id: user.id, ttl_sec: 0 });
    assert.equal(short.status, 201, short.text);
    assert.equal(lasting.status, 201, lasting.text);
    server.server.clock.advance(61);
    assert.equal((await server.fetch(String(short.body.ticket))).status, 410, 'expired after 60 s');
    assert.equal((await server.fetch(String(lasting.body.ticket))).status, 200, 'ttl_sec 0: still open');
    server.server.clock.advance(5 * 86_400);
    assert.equal((await server.fetch(String(lasting.body.ticket))).status, 410, 'ttl_sec 0: gone after 5 days');
  });
});
