/**
 * DESIGN.md §7 / issue #14 point 3: the second factor on the hosted page,
 * in a real Chromium, with real TOTP codes. An application whose policy is
 * `always` makes a user without a factor enrol on the page (a QR code image,
 * the key, a confirming code, then the recovery code shown once); the next
 * sign-in asks for the app's code, refuses a wrong one in plain words, and
 * the id_token says how the user signed in (`amr` with `mfa`). A user whose
 * factor is email gets a code by email on the page.
 */
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { checkAccessibility, chromiumUnavailableReason, launchBrowser, newPage } from '../helpers/browser.js';
import { enrollByEmail, MFA_GRANT_TYPES, Outbox } from '../helpers/mfa-email.js';
import { totpCode, wrongCode } from '../helpers/mfa-otp.js';
import { JOE } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  authorizationRequest,
  codeFlowTenant,
  publicClientConfig,
  startCallbackServer,
  submitPassword,
  type CallbackServer,
  redeemAtCallback,
} from './code-flow-helpers.js';

/** A password-grant client that enrols Joe's email factor through the MFA API first. */
const EMAIL_MFA_CLIENT = { client_id: 'acme-email-mfa', client_secret: 'acme-email-mfa-secret-012345' };

describe('MFA on the sign-in page: enrolment and challenge with TOTP (DESIGN.md §7)', { skip: chromiumUnavailableReason() }, () => {
  let server: TestServer;
  let browser: Browser;
  let callbackServer: CallbackServer;
  let config: client.Configuration;
  let secret = '';
  let recoveryCode = '';

  before(async () => {
    callbackServer = await startCallbackServer();
    const tenant = await codeFlowTenant(callbackServer.url);
    tenant.applications = [
      ...(tenant.applications ?? []).map((app) => (app.client_id === 'acme-spa' ? { ...app, mfa: 'always' as const } : app)),
      { ...EMAIL_MFA_CLIENT, grant_types: [...MFA_GRANT_TYPES], mfa: 'always' as const },
    ];
    server = await startTestServer({ tenants: [tenant] });
    browser = await launchBrowser();
    config = await publicClientConfig(server);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await callbackServer?.close();
  });

  it('a user without a factor enrols on the page: QR image, key, confirming code, recovery code once; the tokens say mfa', async () => {
    const page = await newPage(browser);
    const request = await authorizationRequest(config, callbackServer.url);
    await page.goto(request.url.href);
    await submitPassword(page);
    assert.equal(await page.title(), 'Set up a second step · acme');
    const qr = await page.getAttribute('img.qr', 'src');
    assert.match(qr ?? '', /^data:image\/png;base64,/);
    secret = ((await page.textContent('p.code')) ?? '').trim();
    assert.match(secret, /^[A-Z2-7]+=*$/);
    await checkAccessibility(page);
    await page.fill('input[name=otp]', wrongCode(server, secret));
    await page.click('form button[type=submit]');
    assert.ok(await page.textContent('[role=alert]'), 'a wrong code is said on the page');
    assert.equal(await page.getAttribute('img.qr', 'src'), qr, 'the same enrolment is shown again');
    await page.fill('input[name=otp]', totpCode(server, secret));
    await page.click('form button[type=submit]');
    assert.equal(await page.title(), 'Your recovery code · acme');
    recoveryCode = ((await page.textContent('p.code')) ?? '').trim();
    assert.match(recoveryCode, /^[A-Z0-9]{24}$/);
    await checkAccessibility(page);
    await page.click('form button[type=submit]');
    await page.waitForURL((u) => u.href.startsWith(callbackServer.url));
    const tokens = await redeemAtCallback(config, page, request);
    assert.ok((tokens.claims()?.amr as string[] | undefined)?.includes('mfa'));
  });

  it('the next sign-in asks for the code, refuses a wrong one, and completes with the right one', async () => {
    assert.ok(secret, 'the enrolment test ran first');
    server.clock.advance(30); // the next TOTP step: the enrolment's code is spent (RFC 6238 §5.2)
    const page = await newPage(browser);
    const request = await authorizationRequest(config, callbackServer.url);
    await page.goto(request.url.href);
    await submitPassword(page);
    assert.equal(await page.title(), 'Verify it is you · acme');
    assert.equal(await page.getAttribute('input[name=otp]', 'autocomplete'), 'one-time-code');
    await checkAccessibility(page);
    await page.fill('input[name=otp]', wrongCode(server, secret));
    await page.click('form:first-of-type button[type=submit]');
    assert.ok(await page.textContent('[role=alert]'));
    await page.fill('input[name=otp]', totpCode(server, secret));
    await page.click('form:first-of-type button[type=submit]');
    await page.waitForURL((u) => u.href.startsWith(callbackServer.url));
    const tokens = await redeemAtCallback(config, page, request);
    assert.deepEqual(tokens.claims()?.amr, ['pwd', 'otp', 'mfa']);
  });

  it('a user whose factor is email gets a code by email on the page', async () => {
    const outbox = new Outbox(join(server.dir, 'outbox'));
    await enrollByEmail(server, outbox, EMAIL_MFA_CLIENT, JOE, 'joe@acme.test', { email: 'joe@acme.test' });
    const page = await newPage(browser);
    const request = await authorizationRequest(config, callbackServer.url);
    await page.goto(request.url.href);
    await submitPassword(page, JOE.password, JOE.username);
    assert.match((await page.textContent('main')) ?? '', /We emailed you a code/);
    await page.fill('input[name=otp]', outbox.takeCode('joe@acme.test', 'page challenge'));
    await page.click('form:first-of-type button[type=submit]');
    await page.waitForURL((u) => u.href.startsWith(callbackServer.url));
    const tokens = await redeemAtCallback(config, page, request);
    assert.deepEqual(tokens.claims()?.amr, ['pwd', 'mail', 'mfa']);
  });

  it('the recovery code signs in instead of the app, and the page shows the one that replaces it, once', async () => {
    assert.ok(recoveryCode, 'the enrolment test ran first');
    const page = await newPage(browser);
    const request = await authorizationRequest(config, callbackServer.url);
    await page.goto(request.url.href);
    await submitPassword(page);
    await page.fill('input[name=recovery_code]', recoveryCode);
    await page.click('form:last-of-type button[type=submit]');
    assert.equal(await page.title(), 'Your recovery code · acme');
    const next = ((await page.textContent('p.code')) ?? '').trim();
    assert.match(next, /^[A-Z0-9]{24}$/);
    assert.notEqual(next, recoveryCode);
    await page.click('form button[type=submit]');
    await page.waitForURL((u) => u.href.startsWith(callbackServer.url));
    const tokens = await redeemAtCallback(config, page, request);
    assert.deepEqual(tokens.claims()?.amr, ['pwd', 'kba', 'mfa']);
  });
});
