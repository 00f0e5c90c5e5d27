/**
 * Issue #14 "Tests": MSAL Node's code flow (`getAuthCodeUrl` +
 * `acquireTokenByCode`) against the hosted sign-in over HTTPS (MSAL insists
 * on https authorities), the person signing in in Chromium. MSAL sends its
 * own parameters (client_info, x-client-*), which the authorization
 * endpoint ignores; the session cookie is `Secure` on https. The API is named
 * Entra-style (`{identifier}/{scope}`), as MSAL apps name it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CryptoProvider, ProtocolMode, PublicClientApplication } from '@azure/msal-node';
import { decodeJwt } from 'jose';
import type { Browser } from 'playwright-core';
import { API, ALICE } from '../helpers/fixtures.js';
import { chromiumUnavailableReason, launchBrowser } from '../helpers/browser.js';
import { networkModule } from '../helpers/msal.js';
import { startHttpsTestServer, tlsUnavailableReason, type HttpsTestServer } from '../helpers/tls.js';
import { codeFlowTenant, SPA, startCallbackServer, submitPassword, type CallbackServer } from './code-flow-helpers.js';

describe('MSAL Node: authorization code flow with PKCE on the hosted sign-in', {
  skip: chromiumUnavailableReason() ?? tlsUnavailableReason(),
}, () => {
  let https: HttpsTestServer;
  let browser: Browser;
  let callbackServer: CallbackServer;

  before(async () => {
    callbackServer = await startCallbackServer();
    https = await startHttpsTestServer({ tenants: [await codeFlowTenant(callbackServer.url)] });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await https?.close();
    await callbackServer?.close();
  });

  it('getAuthCodeUrl, sign-in on the page, acquireTokenByCode: an access token for the API, an id_token and an account', async () => {
    const pca = new PublicClientApplication({
      auth: { clientId: SPA.client_id, authority: https.issuer(), knownAuthorities: [https.host] },
      system: { protocolMode: ProtocolMode.OIDC, networkClient: networkModule(https.fetch) },
    });
    const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
    const scopes = [`${API}/read:sample`];
    const authUrl = await pca.getAuthCodeUrl({
      scopes,
      redirectUri: callbackServer.url,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
      state: 'msal-state',
    });
    // The page trusts the test certificate as MSAL's network module does.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(authUrl);
    assert.match(new URL(page.url()).pathname, /\/acme\/login$/);
    await submitPassword(page);
    await page.waitForURL((u) => u.href.startsWith(callbackServer.url));
    const landed = new URL(page.url());
    assert.equal(landed.searchParams.get('state'), 'msal-state');
    assert.equal(landed.searchParams.get('iss'), https.issuer());
    const session = (await context.cookies()).find((c) => c.name === 'latchkey_session');
    assert.equal(session?.secure, true, 'Secure on https');

    const result = await pca.acquireTokenByCode({
      code: landed.searchParams.get('code') ?? '',
      scopes,
      redirectUri: callbackServer.url,
      codeVerifier: verifier,
    });
    assert.ok(result.account);
    assert.equal(result.account.username, ALICE.username);
    const at = decodeJwt(result.accessToken);
    assert.ok(([] as unknown[]).concat(at.aud).includes(API));
    assert.match(String(at.scope), /read:sample/);
    assert.equal(decodeJwt(result.idToken).aud, SPA.client_id);
    await context.close();
  });
});
