/**
 * DESIGN.md §9, issue #15 point 2: a user token for the Management API comes
 * only from a browser sign-in of one of the tenant's `administrators`, with
 * a second factor, in a real Chromium:
 *
 * - an administrator without a factor signs in with the authorization code
 *   flow for `{issuer}api/v2/`, is made to enrol TOTP on the page, redeems
 *   the code, and the token calls `GET /api/v2/connections`; the next
 *   sign-in asks for the TOTP code;
 * - a user not in `administrators` (right password, TOTP enrolled or not)
 *   comes back to the callback with `error=access_denied`;
 * - the device flow and the password grant for that audience are refused;
 * - an administrator removed from the list (a restart with another file)
 *   gets 403 from the API with the token they already hold.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as client from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { DEVICE_CODE_GRANT } from '../../src/domain/grant-types.js';
import { chromiumUnavailableReason, launchBrowser, newPage } from '../helpers/browser.js';
import { ALICE, JOE, WEB } from '../helpers/fixtures.js';
import { get, postForm } from '../helpers/http.js';
import { totpCode } from '../helpers/mfa-otp.js';
import { startTestServer, type TenantInput, type TestServer } from '../helpers/server.js';
import {
  authorizationRequest,
  codeFlowTenant,
  publicClientConfig,
  redeemAtCallback,
  startCallbackServer,
  submitPassword,
  type CallbackServer,
  type PkceRequest,
} from '../browser/code-flow-helpers.js';

const TV = { client_id: 'acme-admin-tv' };

describe('administrators sign in to the Management API in the browser, with a second factor (DESIGN.md §9)', {
  skip: chromiumUnavailableReason(),
}, () => {
  let server: TestServer;
  let browser: Browser;
  let callbackServer: CallbackServer;
  let config: client.Configuration;
  let tenant: TenantInput;
  let secret = '';
  let adminToken = '';

  const managementApi = () => `${server.issuer()}api/v2/`;
  const managementRequest = () =>
    authorizationRequest(config, callbackServer.url, { audience: managementApi(), scope: 'openid read:connections' });
  const connections = (token: string) => get(`${managementApi()}connections`, { authorization: `Bearer ${token}` });

  // One data directory for both starts (the restart finds the first one's keys and users); removed at the end.
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-admin-sign-in-'));

  /** The restart listens where the first start did: the token's issuer and audience name that address. */
  async function start(administrators: string[], at?: TestServer): Promise<void> {
    const sameAddress = at === undefined ? {} : { extra: { public_url: at.url, listen: { port: Number(new URL(at.url).port) } } };
    const started = await startTestServer({ tenants: [{ ...tenant, administrators }], dir, ...sameAddress });
    server = at === undefined ? started : { ...started, url: at.url, issuer: at.issuer, at: at.at };
    config = await publicClientConfig(server);
  }

  /** Password, then the TOTP code the page asks for; returns at the callback. */
  async function signInWithTotp(page: Page, request: PkceRequest, password: string, username: string): Promise<void> {
    await page.goto(request.url.href);
    await submitPassword(page, password, username);
    assert.equal(await page.title(), 'Verify it is you · acme');
    await page.fill('input[name=otp]', totpCode(server, secret));
    await page.click('form:first-of-type button[type=submit]');
    await page.waitForURL((u) => u.href.startsWith(callbackServer.url));
  }

  before(async () => {
    callbackServer = await startCallbackServer();
    tenant = await codeFlowTenant(callbackServer.url);
    tenant.applications = [...(tenant.applications ?? []), { ...TV, token_endpoint_auth_method: 'none', grant_types: [DEVICE_CODE_GRANT] }];
    await start([ALICE.username]);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await callbackServer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an administrator without a factor enrols TOTP on the page, redeems the code, and the token calls GET /api/v2/connections', async () => {
    const page = await newPage(browser);
    const request = await managementRequest();
    await page.goto(request.url.href);
    await submitPassword(page);
    assert.equal(await page.title(), 'Set up a second step · acme', 'a second factor is required for the Management API');
    secret = ((await page.textContent('p.code')) ?? '').trim();
    await page.fill('input[name=otp]', totpCode(server, secret));
    await page.click('form button[type=submit]');
    assert.equal(await page.title(), 'Your recovery code · acme');
    await page.click('form button[type=submit]');
    await page.waitForURL((u) => u.href.startsWith(callbackServer.url));
    const tokens = await redeemAtCallback(config, page, request);
    assert.ok((tokens.claims()?.amr as string[] | undefined)?.includes('mfa'));
    adminToken = tokens.access_token;

    const listed = await connections(adminToken);
    assert.equal(listed.status, 200, listed.text);
    assert.ok(Array.isArray(listed.body), listed.text);
    assert.ok((listed.body as unknown as Array<{ name: string }>).some((c) => c.name === 'Username-Password-Authentication'));
  });

  it('the next sign-in asks for the TOTP code before the token', async () => {
    assert.ok(secret, 'the enrolment test ran first');
    server.clock.advance(30); // the next TOTP step: the enrolment's code is spent (RFC 6238 §5.2)
    const page = await newPage(browser);
    const request = await managementRequest();
    await signInWithTotp(page, request, ALICE.password, ALICE.username);
    const tokens = await redeemAtCallback(config, page, request);
    assert.equal((await connections(tokens.access_token)).status, 200);
  });

  it('a user not in administrators comes back to the callback with access_denied, and no code', async () => {
    const page = await newPage(browser);
    const request = await managementRequest();
    await page.goto(request.url.href);
    await submitPassword(page, JOE.password, JOE.username);
    // Not the login form again (typing again cannot help): the page says why, and its link takes the error back.
    assert.equal(await page.title(), 'Access denied · acme');
    assert.match((await page.textContent('[role=alert]')) ?? '', /administrators/);
    await page.getByRole('link', { name: /^Return to/ }).click();
    await page.waitForURL((u) => u.href.startsWith(callbackServer.url));
    const callback = new URL(page.url());
    assert.equal(callback.searchParams.get('error'), 'access_denied', callback.href);
    assert.equal(callback.searchParams.get('code'), null);
    assert.equal(callback.searchParams.get('state'), request.state);
  });

  it('the password grant and the device flow for the Management API are refused, even for an administrator', async () => {
    const byPassword = await postForm(server.at('/oauth/token'), {
      grant_type: 'password',
      ...WEB,
      username: ALICE.username,
      password: ALICE.password,
      audience: managementApi(),
    });
    assert.equal(byPassword.status, 403, byPassword.text);
    assert.equal(byPassword.body.error, 'access_denied');

    const byDevice = await postForm(server.at('/oauth/device/code'), {
      client_id: TV.client_id,
      audience: managementApi(),
      scope: 'openid',
    });
    assert.equal(byDevice.status, 403, byDevice.text);
    assert.equal(byDevice.body.error, 'access_denied');
  });

  it('an administrator removed from the list (a restart with another file) gets 403 from the API with the token they hold', async () => {
    assert.ok(adminToken, 'the enrolment test ran first');
    const first = server;
    await first.close();
    await start([], first);
    const refused = await connections(adminToken);
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.body.statusCode, 403);
    assert.equal(typeof refused.body.errorCode, 'string');
  });
});
