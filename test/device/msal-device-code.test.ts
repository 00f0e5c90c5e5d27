/**
 * Issue #14 "Tests": MSAL Node's `acquireTokenByDeviceCode` against
 * Latchkey over HTTPS (MSAL insists on https authorities; the setup of
 * test/sdk/msal-node.test.ts: protocolMode OIDC, knownAuthorities, a network
 * module trusting the test certificate).
 *
 * What MSAL relies on (issue #14, "keep these exact"): it posts `client_id`
 * and Entra-style scopes to `/T/oauth/devicecode` (discovery's token
 * endpoint with `/token` replaced), needs numeric `interval` and
 * `expires_in`, hands the response (with Entra's `message`) to its
 * `deviceCodeCallback`, then polls discovery's token endpoint with
 * `grant_type=device_code` at once: that first poll must be
 * authorization_pending, since MSAL throws on anything else. Here the
 * callback hands the code to a person in Chromium, who types it on
 * /T/activate, signs in and confirms (or denies).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ProtocolMode, PublicClientApplication, type DeviceCodeRequest } from '@azure/msal-node';

/** What MSAL hands its deviceCodeCallback. */
type DeviceCodeResponse = Parameters<DeviceCodeRequest['deviceCodeCallback']>[0];
import { decodeJwt } from 'jose';
import type { Browser } from 'playwright-core';
import { chromiumUnavailableReason, launchBrowser } from '../helpers/browser.js';
import { deviceFixture } from '../helpers/device-flow.js';
import { ALICE, API, ENTRA } from '../helpers/fixtures.js';
import { networkModule } from '../helpers/msal.js';
import { startHttpsTestServer, tlsUnavailableReason, type HttpsTestServer } from '../helpers/tls.js';

describe('MSAL Node: acquireTokenByDeviceCode with the verification page in Chromium', {
  skip: chromiumUnavailableReason() ?? tlsUnavailableReason(),
}, () => {
  let https: HttpsTestServer;
  let browser: Browser;

  before(async () => {
    const { tenant } = await deviceFixture();
    // One second between polls: MSAL waits the interval for real between its polls.
    https = await startHttpsTestServer({ tenants: [{ ...tenant, device_flow: { expires_in: 300, interval: 1 } }] });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await https?.close();
  });

  const publicClient = () =>
    new PublicClientApplication({
      auth: { clientId: ENTRA.client_id, authority: https.issuer(), knownAuthorities: [https.host] },
      system: { protocolMode: ProtocolMode.OIDC, networkClient: networkModule(https.fetch) },
    });

  /** The person, on another screen: types the code MSAL showed, signs in, answers. */
  async function person(response: DeviceCodeResponse, action: 'confirm' | 'deny'): Promise<string> {
    // The page trusts the test certificate as MSAL's network module does.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      await page.goto(response.verificationUri);
      await page.fill('input[name=user_code]', response.userCode);
      await Promise.all([page.waitForURL(/\/acme\/login\?tx=/), page.click('form button[type=submit]')]);
      await page.fill('input[name=username]', ALICE.username);
      await page.fill('input[name=password]', ALICE.password);
      await Promise.all([page.waitForURL(/\/acme\/activate\?tx=/), page.click('form button[type=submit]')]);
      await Promise.all([page.waitForLoadState(), page.click(`button[name=action][value=${action}]`)]);
      return (await page.textContent('h1')) ?? '';
    } finally {
      await context.close();
    }
  }

  it('confirm: MSAL gets an access token for the API named Entra-style, an id_token and an account', async () => {
    let shown: DeviceCodeResponse | undefined;
    let answered: Promise<string> | undefined;
    const result = await publicClient().acquireTokenByDeviceCode({
      scopes: [`${API}/read:sample`],
      deviceCodeCallback: (response) => {
        shown = response;
        answered = person(response, 'confirm');
      },
    });
    assert.ok(shown);
    assert.equal(shown.verificationUri, `${https.issuer()}activate`);
    assert.match(shown.userCode, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.equal(typeof shown.interval, 'number');
    assert.equal(typeof shown.expiresIn, 'number');
    assert.ok(shown.message.includes(shown.userCode) && shown.message.includes(shown.verificationUri), shown.message);
    assert.equal(await answered, 'Device connected');

    assert.ok(result);
    assert.equal(result.account?.username, ALICE.username);
    const at = decodeJwt(result.accessToken);
    assert.ok(([] as unknown[]).concat(at.aud).includes(API));
    assert.match(String(at.scope), /read:sample/);
    assert.equal(at.client_id, ENTRA.client_id);
    assert.equal(decodeJwt(result.idToken).aud, ENTRA.client_id);
  });

  it('deny: acquireTokenByDeviceCode rejects with access_denied, and no token follows', async () => {
    let answered: Promise<string> | undefined;
    const outcome = await publicClient()
      .acquireTokenByDeviceCode({
        scopes: [`${API}/read:sample`],
        deviceCodeCallback: (response) => {
          answered = person(response, 'deny');
        },
      })
      .then(
        () => assert.fail('a token after a deny'),
        (err: unknown) => err as Error,
      );
    assert.equal(await answered, 'Request denied');
    assert.match(outcome.message, /access_denied/);
  });
});
