/**
 * Issue #14 "Tests": the device flow end to end, a real client on the
 * device and a person in Chromium (Debian's chromium through playwright-core)
 * on the verification page and the sign-in page.
 *
 * openid-client v6 (`initiateDeviceAuthorization` + `pollDeviceAuthorizationGrant`)
 * as a public client that names the API with `audience` and reads
 * `verification_uri_complete`; the person opens it, confirms the pre-filled
 * code with a press (RFC 8628 §5.4), signs in on /T/login, and answers on the
 * decision page. Approve gives openid-client validated tokens, deny makes its
 * poll fail with access_denied. The same with JavaScript disabled. A user
 * locked by brute-force protection cannot sign in to approve, and the device
 * stays pending. axe-core finds no serious or critical violation on any
 * page of the verification flow.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { checkAccessibility, chromiumUnavailableReason, launchBrowser, newPage, pageProblems } from '../helpers/browser.js';
import { TV, deviceFixture, poll, requestDeviceCode } from '../helpers/device-flow.js';
import { ALICE, API, JOE } from '../helpers/fixtures.js';
import { assertStatus } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const LOCK_THRESHOLD = 3;

describe('The device flow in Chromium with openid-client (RFC 8628)', { skip: chromiumUnavailableReason() }, () => {
  let server: TestServer;
  let browser: Browser;
  let config: client.Configuration;

  before(async () => {
    const { tenant } = await deviceFixture();
    server = await startTestServer({
      tenants: [
        {
          ...tenant,
          // One second between polls keeps openid-client's real waits short.
          device_flow: { expires_in: 300, interval: 1 },
          attack_protection: { brute_force: { threshold: LOCK_THRESHOLD, block_seconds: 600 } },
        },
      ],
    });
    browser = await launchBrowser();
    config = await client.discovery(new URL(server.issuer()), TV.client_id, undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  /** The person: opens the link, confirms the code, signs in, and answers. Returns the page where they end. */
  async function answer(
    page: Page,
    link: string,
    action: 'confirm' | 'deny',
    credentials = ALICE,
    check: (page: Page) => Promise<void> = async () => undefined,
  ): Promise<void> {
    await page.goto(link);
    assert.equal(await page.inputValue('input[name=user_code]'), new URL(link).searchParams.get('user_code'), 'pre-filled');
    await check(page);
    await Promise.all([page.waitForURL(/\/acme\/login\?tx=/), page.click('form button[type=submit]')]);
    await page.fill('input[name=username]', credentials.username);
    await page.fill('input[name=password]', credentials.password);
    await Promise.all([page.waitForURL(/\/acme\/activate\?tx=/), page.click('form button[type=submit]')]);
    await check(page);
    assert.match((await page.textContent('main')) ?? '', /Acme TV/);
    await Promise.all([page.waitForLoadState(), page.click(`button[name=action][value=${action}]`)]);
    await page.waitForSelector('h1');
  }

  it('approve: openid-client polls, the person confirms in the browser, the tokens are validated (id_token, access token for the audience)', async () => {
    const device = await client.initiateDeviceAuthorization(config, { scope: 'openid profile offline_access read:sample', audience: API });
    assert.ok(device.verification_uri_complete, 'verification_uri_complete');
    const tokens = client.pollDeviceAuthorizationGrant(config, device);
    const page = await newPage(browser);
    await answer(page, device.verification_uri_complete, 'confirm');
    assert.equal(await page.textContent('h1'), 'Device connected');
    const result = await tokens;
    assert.equal(result.claims()?.iss, server.issuer());
    assert.equal(result.claims()?.aud, TV.client_id);
    assert.ok(result.refresh_token, 'offline_access');
    const at = JSON.parse(Buffer.from(result.access_token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
    assert.ok((at.aud as string[]).includes(API));
    assert.match(String(at.scope), /read:sample/);
    assert.deepEqual(pageProblems(page), []);
  });

  it('deny: the poll fails with access_denied, and the page says so', async () => {
    const device = await client.initiateDeviceAuthorization(config, { scope: 'openid', audience: API });
    const tokens = client.pollDeviceAuthorizationGrant(config, device).then(
      () => assert.fail('a token after a deny'),
      (err: unknown) => err,
    );
    const page = await newPage(browser);
    await answer(page, device.verification_uri_complete ?? '', 'deny');
    assert.equal(await page.textContent('h1'), 'Request denied');
    const err = (await tokens) as { error?: string };
    assert.equal(err.error, 'access_denied');
  });

  it('without JavaScript: the code, the sign-in and the decision all work', async () => {
    const device = await requestDeviceCode(server, { client_id: TV.client_id, audience: API });
    const page = await newPage(browser, { javaScriptEnabled: false });
    await answer(page, device.verification_uri_complete, 'confirm');
    assert.equal(await page.textContent('h1'), 'Device connected');
    assertStatus(await poll(server, device.device_code), 200, undefined, 'approved without JavaScript');
  });

  it('a user locked by brute-force protection cannot sign in to approve; the device stays pending', async () => {
    const device = await requestDeviceCode(server, { client_id: TV.client_id, audience: API });
    const page = await newPage(browser);
    await page.goto(device.verification_uri_complete);
    await Promise.all([page.waitForURL(/\/acme\/login\?tx=/), page.click('form button[type=submit]')]);
    for (let i = 0; i <= LOCK_THRESHOLD; i++) {
      await page.fill('input[name=username]', JOE.username);
      await page.fill('input[name=password]', i < LOCK_THRESHOLD ? `wrong password ${i}` : JOE.password);
      await Promise.all([page.waitForLoadState(), page.click('form button[type=submit]')]);
      await page.waitForSelector('[role=alert]');
    }
    assert.match(new URL(page.url()).pathname, /\/acme\/login$/, 'still on the sign-in page');
    assert.match(
      (await page.textContent('[role=alert]')) ?? '',
      /Too many failed sign-in attempts for this account/,
      'the right password, refused',
    );
    assertStatus(await poll(server, device.device_code), 400, 'authorization_pending', 'nothing approved');
  });

  it('axe-core: no serious or critical violation on the code form (empty, pre-filled, wrong code, too many), the decision page and the answers', async () => {
    const page = await newPage(browser);
    await page.goto(`${server.issuer()}activate`);
    await checkAccessibility(page);
    await page.fill('input[name=user_code]', 'BBBB-BBBB');
    await Promise.all([page.waitForLoadState(), page.click('form button[type=submit]')]);
    assert.match((await page.textContent('[role=alert]')) ?? '', /not valid/);
    await checkAccessibility(page);

    const approved = await requestDeviceCode(server, { client_id: TV.client_id, audience: API, scope: 'openid read:sample' });
    await answer(await newPage(browser), approved.verification_uri_complete, 'confirm', ALICE, checkAccessibility);
    const denied = await requestDeviceCode(server, { client_id: TV.client_id });
    const deniedPage = await newPage(browser);
    await answer(deniedPage, denied.verification_uri_complete, 'deny', ALICE);
    await checkAccessibility(deniedPage);

    // Ten wrong codes from this browser's IP, then the refusal page.
    const guesser = await newPage(browser);
    await guesser.goto(`${server.issuer()}device`);
    for (let i = 0; i < 10; i++) {
      await guesser.fill('input[name=user_code]', `BCDF-GHJ${'BCDFGHJKLM'[i]}`);
      await Promise.all([guesser.waitForLoadState(), guesser.click('form button[type=submit]')]);
    }
    assert.match((await guesser.textContent('[role=alert]')) ?? '', /Too many wrong codes/);
    await checkAccessibility(guesser);
  });
});
