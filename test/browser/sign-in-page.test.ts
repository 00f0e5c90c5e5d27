/**
 * The sign-in page runs the password grant's core unchanged (DESIGN.md §7,
 * issue #14 point 3): realms from the tenant's connections, blocked users,
 * the brute-force lock keyed on the browser's IP, and post-login hooks with
 * `event.grant_type` authorization_code, whose deny is shown on the page and
 * sent to the client as access_denied. And the authorization request's
 * options: login_hint, max_age, audience/resource; the code grant at the
 * token endpoint's three paths, for a confidential client too; a code older
 * than 60 seconds.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import type * as client from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { ALICE, API, BLOCKED, EMPLOYEE } from '../helpers/fixtures.js';
import { checkAccessibility, chromiumUnavailableReason, launchBrowser, newPage } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  authorizationRequest,
  codeFlowTenant,
  publicClientConfig,
  startCallbackServer,
  submitPassword,
  WEBAPP,
  type CallbackServer,
  type PkceRequest,
  redeemAtCallback,
} from './code-flow-helpers.js';

/** An application whose users come from the `employees` connection only. */
const STAFF_APP = 'acme-staff';

const HOOK = `
export async function onExecutePostLogin(event, api) {
  if (event.user.username.startsWith('bob')) return api.access.deny('Employees sign in with the staff portal.');
  api.accessToken.setCustomClaim('https://hooks.test/grant_type', event.grant_type);
}
`;

describe('The sign-in page: the password grant core, hooks, and the authorization options (DESIGN.md §7)', {
  skip: chromiumUnavailableReason(),
}, () => {
  let server: TestServer;
  let browser: Browser;
  let callbackServer: CallbackServer;
  let config: client.Configuration;
  let hookDir: string;

  before(async () => {
    hookDir = mkdtempSync(join(tmpdir(), 'latchkey-page-hooks-'));
    writeFileSync(join(hookDir, 'hook.mjs'), HOOK);
    callbackServer = await startCallbackServer();
    const tenant = await codeFlowTenant(callbackServer.url, {
      hooks: { post_login: [join(hookDir, 'hook.mjs')], timeout_ms: 5000 },
      attack_protection: { brute_force: { threshold: 3, block_seconds: 600 } },
    });
    tenant.applications = [
      ...(tenant.applications ?? []),
      {
        client_id: STAFF_APP,
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        callbacks: [callbackServer.url],
        connections: ['employees'],
      },
    ];
    server = await startTestServer({ tenants: [tenant] });
    browser = await launchBrowser();
    config = await publicClientConfig(server);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await callbackServer?.close();
    rmSync(hookDir, { recursive: true, force: true });
  });

  /** Signs in with these credentials (choosing `realm` when given) and returns the page where the browser ends. */
  async function signIn(page: Page, request: PkceRequest, credentials: { username: string; password: string }, realm?: string) {
    await page.goto(request.url.href);
    if (realm !== undefined) await page.selectOption('select[name=realm]', realm);
    await submitPassword(page, credentials.password, credentials.username);
  }

  const redeem = (request: PkceRequest, code: string, path = 'oauth/token', extra: Record<string, string> = {}, headers = {}) =>
    fetch(`${server.issuer()}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: 'acme-spa',
        code,
        redirect_uri: callbackServer.url,
        code_verifier: request.verifier,
        ...extra,
      }),
    });

  it('offers a realm choice when the application may use several connections, and checks the password in the chosen one only', async () => {
    const page = await newPage(browser);
    const request = await authorizationRequest(config, callbackServer.url);
    await signIn(page, request, EMPLOYEE);
    assert.equal((await page.textContent('[role=alert]'))?.trim(), 'Wrong email or password.', 'the default realm does not hold her');
    await page.selectOption('select[name=realm]', 'employees');
    await page.fill('input[name=password]', EMPLOYEE.password);
    await page.click('form button[type=submit]');
    // The hook denies employees: the page says why, and its link takes access_denied to the application.
    assert.equal(await page.title(), 'Access denied · acme');
    assert.equal((await page.textContent('[role=alert]'))?.trim(), 'Employees sign in with the staff portal.');
    await checkAccessibility(page);
    await page.click('a.button');
    await page.waitForURL((u) => u.href.startsWith(callbackServer.url));
    const landed = new URL(page.url());
    assert.equal(landed.searchParams.get('error'), 'access_denied');
    assert.equal(landed.searchParams.get('state'), request.state);
    assert.equal(landed.searchParams.get('code'), null);
  });

  it('post-login hooks run with event.grant_type authorization_code, and their claims reach the access token', async () => {
    const page = await newPage(browser);
    const request = await authorizationRequest(config, callbackServer.url, { audience: API, scope: 'openid read:sample' });
    await signIn(page, request, ALICE);
    await page.waitForURL((u) => u.href.startsWith(callbackServer.url));
    const tokens = await redeemAtCallback(config, page, request);
    const access = decodeJwt(tokens.access_token);
    assert.equal(access['https://hooks.test/grant_type'], 'authorization_code');
    assert.ok(([] as unknown[]).concat(access.aud).includes(API), 'audience chose the API');
    assert.equal(access.scope, 'openid profile email address phone read:sample');
  });

  it('a blocked user is told so only after the right password; a wrong one gets the usual sentence', async () => {
    const page = await newPage(browser);
    await signIn(page, await authorizationRequest(config, callbackServer.url), { ...BLOCKED, password: 'wrong password' });
    assert.equal((await page.textContent('[role=alert]'))?.trim(), 'Wrong email or password.');
    await page.fill('input[name=password]', BLOCKED.password);
    await page.click('form button[type=submit]');
    assert.equal((await page.textContent('[role=alert]'))?.trim(), 'The user is blocked.');
  });

  it("the brute-force lock is keyed on the browser's IP: after the threshold, even the right password is refused on the page", async () => {
    const page = await newPage(browser);
    const victim = { username: 'carol@acme.test', password: 'nobody knows' };
    await signIn(page, await authorizationRequest(config, callbackServer.url), victim);
    for (let i = 0; i < 3; i++) {
      await page.fill('input[name=password]', `guess ${i}`);
      const response = page.waitForResponse((r) => r.url().endsWith('/acme/login'));
      await page.click('form button[type=submit]');
      if (i === 2) assert.equal((await response).status(), 429);
    }
    assert.match((await page.textContent('[role=alert]')) ?? '', /too many|attempts|blocked/i);
  });

  it('login_hint fills the username; max_age asks for a new sign-in once the session is older', async () => {
    const page = await newPage(browser);
    const hinted = await authorizationRequest(config, callbackServer.url, { login_hint: ALICE.username });
    await page.goto(hinted.url.href);
    assert.equal(await page.inputValue('input[name=username]'), ALICE.username);
    await page.fill('input[name=password]', ALICE.password);
    await page.click('form button[type=submit]');
    await page.waitForURL((u) => u.href.startsWith(callbackServer.url));
    server.clock.advance(120);
    await page.goto((await authorizationRequest(config, callbackServer.url, { max_age: '600' })).url.href);
    assert.ok(new URL(page.url()).href.startsWith(callbackServer.url), 'a session younger than max_age answers at once');
    await page.goto((await authorizationRequest(config, callbackServer.url, { max_age: '60' })).url.href);
    assert.match(new URL(page.url()).pathname, /\/acme\/login$/, 'older than max_age: sign in again');
  });

  it('the code is redeemed at the Entra and PingFederate token paths too, by a confidential client with its secret, and not after 60 seconds', async () => {
    const page = await newPage(browser);
    const codeOf = async (clientId = 'acme-spa', extra: Record<string, string> = {}) => {
      const request = await authorizationRequest(config, callbackServer.url, extra);
      request.url.searchParams.set('client_id', clientId);
      await page.goto(request.url.href);
      if (new URL(page.url()).pathname.endsWith('/login')) await submitPassword(page);
      await page.waitForURL((u) => u.href.startsWith(callbackServer.url));
      return { request, code: new URL(page.url()).searchParams.get('code') ?? '' };
    };
    for (const path of ['oauth2/v2.0/token', 'as/token.oauth2']) {
      const { request, code } = await codeOf();
      const res = await redeem(request, code, path);
      assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
    }
    const secret = await codeOf(WEBAPP.client_id);
    const unauthenticated = await redeem(secret.request, secret.code, 'oauth/token', { client_id: WEBAPP.client_id });
    assert.equal(unauthenticated.status, 401);
    const fresh = await codeOf(WEBAPP.client_id);
    const basic = `Basic ${Buffer.from(`${WEBAPP.client_id}:${WEBAPP.client_secret}`).toString('base64')}`;
    const authenticated = await redeem(fresh.request, fresh.code, 'oauth/token', { client_id: WEBAPP.client_id }, { authorization: basic });
    assert.equal(authenticated.status, 200);
    const late = await codeOf();
    server.clock.advance(61);
    const expired = await redeem(late.request, late.code);
    assert.equal(expired.status, 400);
    assert.equal(((await expired.json()) as { error: string }).error, 'invalid_grant');
  });

  it('max_age=0 asks for the password again even with a fresh session, and the sign-in then completes (no loop)', async () => {
    const page = await newPage(browser);
    await signIn(page, await authorizationRequest(config, callbackServer.url), ALICE);
    await page.waitForURL((u) => u.href.startsWith(callbackServer.url));
    const again = await authorizationRequest(config, callbackServer.url, { max_age: '0' });
    await page.goto(again.url.href);
    assert.match(new URL(page.url()).pathname, /\/acme\/login$/);
    await submitPassword(page);
    await page.waitForURL((u) => u.href.startsWith(callbackServer.url));
    assert.ok(new URL(page.url()).searchParams.get('code'));
  });

  it('a session of another connection does not sign a user in to an application limited to its connections; `connection` preselects the realm', async () => {
    const page = await newPage(browser);
    await signIn(page, await authorizationRequest(config, callbackServer.url), ALICE);
    await page.waitForURL((u) => u.href.startsWith(callbackServer.url));
    const staffConfig = await publicClientConfig(server, STAFF_APP);
    const silent = await authorizationRequest(staffConfig, callbackServer.url, { prompt: 'none', scope: 'openid' });
    await page.goto(silent.url.href);
    assert.equal(new URL(page.url()).searchParams.get('error'), 'login_required');
    const staff = await authorizationRequest(staffConfig, callbackServer.url, { scope: 'openid' });
    await page.goto(staff.url.href);
    assert.match(new URL(page.url()).pathname, /\/acme\/login$/, 'her session is of a connection this application does not use');
    const everyone = await authorizationRequest(config, callbackServer.url, { connection: 'employees' });
    await page.goto(everyone.url.href);
    assert.equal(new URL(page.url()).pathname.endsWith('/login'), false, 'the SPA may use her connection: no form');
    await page.context().clearCookies();
    await page.goto((await authorizationRequest(config, callbackServer.url, { connection: 'employees' })).url.href);
    assert.equal(await page.inputValue('select[name=realm]'), 'employees');
  });
});
