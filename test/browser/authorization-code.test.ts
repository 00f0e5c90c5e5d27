/**
 * RFC 6749 §4.1 with PKCE (RFC 7636, RFC 9700 §2.1.1) and RFC 9207 through
 * the hosted pages (DESIGN.md §7, issue #14), in a real Chromium: openid-client
 * v6 signs in and redeems (it checks state, iss, nonce and the id_token); a
 * second authorization rides the session; prompt=none and prompt=login; the
 * same sign-in with JavaScript off; and the hostile cases, each a test:
 * plain or missing PKCE, a redirect_uri one character off or with a query,
 * an unregistered client, a replayed code (its refresh token revoked), a code
 * redeemed by another client, a missing or wrong CSRF token, framing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { ALICE } from '../helpers/fixtures.js';
import { checkAccessibility, chromiumUnavailableReason, launchBrowser, newPage, pageProblems } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  authorizationRequest,
  codeFlowTenant,
  startCallbackServer,
  type CallbackServer,
  publicClientConfig,
  signInThrough,
  submitPassword,
  OTHER_SPA,
} from './code-flow-helpers.js';

const TOKEN_FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('Authorization code flow with PKCE through the hosted sign-in (RFC 6749 §4.1, RFC 7636, RFC 9207)', {
  skip: chromiumUnavailableReason(),
}, () => {
  let server: TestServer;
  let browser: Browser;
  let callback: string;
  let callbackServer: CallbackServer;
  let config: client.Configuration;

  before(async () => {
    callbackServer = await startCallbackServer();
    callback = callbackServer.url;
    server = await startTestServer({ tenants: [await codeFlowTenant(callback)] });
    browser = await launchBrowser();
    config = await publicClientConfig(server);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await callbackServer?.close();
  });

  it('openid-client signs in on the page and redeems the code; a wrong password first shows the form again with an alert', async () => {
    const page = await newPage(browser);
    const request = await authorizationRequest(config, callback);
    await page.goto(request.url.href);
    assert.equal(await page.title(), 'Sign in · acme');
    assert.match((await page.textContent('main')) ?? '', /Acme SPA/);
    await checkAccessibility(page);
    await submitPassword(page, 'not the password');
    assert.match(new URL(page.url()).pathname, /\/acme\/login$/, 'no redirect after a wrong password');
    assert.equal((await page.textContent('[role=alert]'))?.trim(), 'Wrong email or password.');
    assert.equal(await page.inputValue('input[name=username]'), ALICE.username);
    await submitPassword(page);
    await page.waitForURL((u) => u.href.startsWith(callback));
    const landed = new URL(page.url());
    assert.equal(landed.searchParams.get('iss'), server.issuer(), 'RFC 9207: iss is exactly the issuer');
    assert.equal(landed.searchParams.get('state'), request.state);
    const tokens = await client.authorizationCodeGrant(config, landed, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    assert.equal(tokens.claims()?.nonce, request.nonce);
    assert.equal(tokens.claims()?.email, ALICE.username);
    assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(refreshed.access_token);
    const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims()?.sub ?? '');
    assert.equal(info.email, ALICE.username);

    // The session: a second authorization needs no form, prompt=none included; prompt=login shows the form.
    const again = await authorizationRequest(config, callback, { prompt: 'none' });
    await page.goto(again.url.href);
    await page.waitForURL((u) => u.href.startsWith(callback));
    assert.ok(new URL(page.url()).searchParams.get('code'));
    const forced = await authorizationRequest(config, callback, { prompt: 'login' });
    await page.goto(forced.url.href);
    assert.match(new URL(page.url()).pathname, /\/acme\/login$/);
    assert.deepEqual(
      pageProblems(page).filter((p) => !p.includes('status of 400')),
      [],
    );
  });

  it('prompt=none without a session answers login_required at the callback, with state and iss', async () => {
    const page = await newPage(browser);
    const request = await authorizationRequest(config, callback, { prompt: 'none' });
    await page.goto(request.url.href);
    const landed = new URL(page.url());
    assert.equal(landed.searchParams.get('error'), 'login_required');
    assert.equal(landed.searchParams.get('state'), request.state);
    assert.equal(landed.searchParams.get('iss'), server.issuer());
  });

  it('signs in with JavaScript disabled', async () => {
    const page = await newPage(browser, { javaScriptEnabled: false });
    const request = await authorizationRequest(config, callback);
    const landed = await signInThrough(page, request.url, callback);
    const tokens = await client.authorizationCodeGrant(config, landed, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    assert.ok(tokens.id_token);
  });

  it('response_mode=form_post posts code, state and iss to the callback', async () => {
    const page = await newPage(browser);
    const request = await authorizationRequest(config, callback, { response_mode: 'form_post' });
    await page.goto(request.url.href);
    await submitPassword(page);
    await page.waitForURL((u) => u.href.startsWith(callback));
    const fields = new URLSearchParams(callbackServer.lastPost());
    assert.ok(fields.get('code'));
    assert.equal(fields.get('state'), request.state);
    assert.equal(fields.get('iss'), server.issuer());
  });

  it('response_mode=form_post without JavaScript: a Continue button posts the answer (no inline script)', async () => {
    const page = await newPage(browser, { javaScriptEnabled: false });
    const request = await authorizationRequest(config, callback, { response_mode: 'form_post' });
    await page.goto(request.url.href);
    await submitPassword(page);
    assert.equal(await page.title(), 'Signing you in · acme');
    assert.equal(await page.locator('script:not([src])').count(), 0);
    await checkAccessibility(page);
    await page.click('form button[type=submit]');
    await page.waitForURL((u) => u.href.startsWith(callback));
    assert.equal(new URLSearchParams(callbackServer.lastPost()).get('state'), request.state);
  });

  describe('hostile requests', () => {
    it('plain or missing PKCE is invalid_request at the registered callback (no downgrade)', async () => {
      const variants: Array<Record<string, string>> = [{ code_challenge_method: 'plain' }, { code_challenge: '' }];
      for (const pkce of variants) {
        const request = await authorizationRequest(config, callback, pkce);
        if (pkce.code_challenge === '') request.url.searchParams.delete('code_challenge');
        const res = await fetch(request.url, { redirect: 'manual' });
        assert.equal(res.status, 302, JSON.stringify(pkce));
        const location = new URL(res.headers.get('location') ?? '');
        assert.ok(location.href.startsWith(callback));
        assert.equal(location.searchParams.get('error'), 'invalid_request');
        assert.equal(location.searchParams.get('iss'), server.issuer());
      }
    });

    it('a redirect_uri one character off, with a trailing slash or an extra query is an HTML page at Latchkey, never a redirect, also when signed in', async () => {
      const page = await newPage(browser);
      await signInThrough(page, (await authorizationRequest(config, callback)).url, callback);
      for (const bad of [`${callback}/`, `${callback}?next=1`, callback.replace('callback', 'callbacc'), `${callback}x`]) {
        const request = await authorizationRequest(config, bad);
        const response = await page.goto(request.url.href);
        assert.equal(response?.status(), 400, bad);
        assert.equal(new URL(page.url()).origin, new URL(server.url).origin, `stayed at Latchkey for ${bad}`);
        assert.match((await page.textContent('[role=alert]')) ?? '', /not registered/);
      }
      await checkAccessibility(page);
    });

    it('the Entra and PingFederate authorization paths are the same endpoint: a page for a bad client, the sign-in for a good request', async () => {
      for (const path of ['oauth2/v2.0/authorize', 'as/authorization.oauth2']) {
        const request = await authorizationRequest(config, callback);
        const url = new URL(`${server.issuer()}${path}${request.url.search}`);
        const good = await fetch(url, { redirect: 'manual' });
        assert.equal(good.status, 302, path);
        assert.match(new URL(good.headers.get('location') ?? '').pathname, /\/acme\/login$/, path);
        url.searchParams.set('client_id', 'nobody');
        const bad = await fetch(url, { redirect: 'manual' });
        assert.equal(bad.status, 400, path);
        assert.equal(bad.headers.get('location'), null, path);
      }
    });

    it('an unregistered client is a page, not a redirect', async () => {
      const request = await authorizationRequest(config, callback);
      request.url.searchParams.set('client_id', 'nobody');
      const res = await fetch(request.url, { redirect: 'manual' });
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('location'), null);
      assert.match(await res.text(), /not known/);
    });

    it('a replayed code is refused and revokes the refresh token its first redemption issued (RFC 6749 §4.1.2)', async () => {
      const page = await newPage(browser);
      const request = await authorizationRequest(config, callback);
      const landed = await signInThrough(page, request.url, callback);
      const code = landed.searchParams.get('code') ?? '';
      const redeem = () =>
        fetch(`${server.issuer()}oauth/token`, {
          method: 'POST',
          headers: TOKEN_FORM,
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            client_id: 'acme-spa',
            code,
            redirect_uri: callback,
            code_verifier: request.verifier,
          }),
        });
      const first = await redeem();
      assert.equal(first.status, 200);
      const tokens = (await first.json()) as { refresh_token: string; access_token: string };
      const second = await redeem();
      assert.equal(second.status, 400);
      assert.equal(((await second.json()) as { error: string }).error, 'invalid_grant');
      const refresh = await fetch(`${server.issuer()}oauth/token`, {
        method: 'POST',
        headers: TOKEN_FORM,
        body: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'acme-spa', refresh_token: tokens.refresh_token }),
      });
      assert.equal(refresh.status, 400, 'the family of the replayed code is revoked');
      const userinfo = await fetch(`${server.issuer()}userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(userinfo.status, 401, 'the access token of the replayed code is revoked');
    });

    it('a code redeemed by another client, or with a wrong verifier or redirect_uri, is invalid_grant', async () => {
      const page = await newPage(browser);
      for (const variant of ['client', 'verifier', 'redirect_uri'] as const) {
        const request = await authorizationRequest(config, callback);
        const landed = await signInThrough(page, request.url, callback).catch(async () => {
          await page.goto(request.url.href);
          await page.waitForURL((u) => u.href.startsWith(callback));
          return new URL(page.url());
        });
        const res = await fetch(`${server.issuer()}oauth/token`, {
          method: 'POST',
          headers: TOKEN_FORM,
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            client_id: variant === 'client' ? OTHER_SPA.client_id : 'acme-spa',
            code: landed.searchParams.get('code') ?? '',
            redirect_uri: variant === 'redirect_uri' ? `${callback}/` : callback,
            code_verifier: variant === 'verifier' ? client.randomPKCECodeVerifier() : request.verifier,
          }),
        });
        assert.equal(res.status, 400, variant);
        assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant', variant);
      }
    });

    it('a sign-in form posted without its CSRF token, or with a wrong one, is refused with a page (403) and signs nobody in', async () => {
      const page = await newPage(browser);
      const request = await authorizationRequest(config, callback);
      await page.goto(request.url.href);
      const tx = await page.inputValue('input[name=tx]');
      const token = await page.inputValue('input[name=_csrf]');
      const cookies = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
      for (const csrf of [undefined, `${token.slice(0, -2)}xx`]) {
        const body = new URLSearchParams({ tx, step: 'password', username: ALICE.username, password: ALICE.password });
        if (csrf !== undefined) body.set('_csrf', csrf);
        const res = await fetch(`${server.issuer()}login`, {
          method: 'POST',
          redirect: 'manual',
          headers: { ...TOKEN_FORM, cookie: cookies },
          body,
        });
        assert.equal(res.status, 403, `csrf ${csrf ?? 'missing'}`);
        assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
        assert.equal(res.headers.get('set-cookie')?.includes('latchkey_session'), undefined);
      }
    });

    it('every page refuses framing and sends the headers of DESIGN.md §7; the session cookie is HttpOnly, SameSite=Lax, scoped to /acme/', async () => {
      const page = await newPage(browser);
      const request = await authorizationRequest(config, callback);
      const response = await page.goto(request.url.href);
      const headers = response?.headers() ?? {};
      assert.match(headers['content-security-policy'] ?? '', /frame-ancestors 'none'/);
      assert.doesNotMatch(headers['content-security-policy'] ?? '', /script-src[^;]*'unsafe-inline'/);
      assert.equal(headers['x-frame-options'], 'DENY');
      assert.equal(headers['cache-control'], 'no-store');
      assert.equal(headers['x-content-type-options'], 'nosniff');
      assert.equal(headers['referrer-policy'], 'no-referrer');
      await submitPassword(page);
      await page.waitForURL((u) => u.href.startsWith(callback));
      const session = (await page.context().cookies()).find((c) => c.name === 'latchkey_session');
      assert.ok(session);
      assert.equal(session.httpOnly, true);
      assert.equal(session.sameSite, 'Lax');
      assert.equal(session.path, '/acme/');
      // A page that frames the sign-in shows nothing of it.
      const framing = await newPage(browser);
      await framing.setContent(`<iframe src="${request.url.href}"></iframe>`);
      const frame = framing.frames()[1];
      const framed = frame ? await frame.content().catch(() => '') : '';
      assert.doesNotMatch(framed, /name="password"/);
    });
  });
});
