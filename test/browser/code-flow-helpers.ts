/**
 * Shared by the browser suites: a tenant with applications for the code
 * flow, openid-client configured against a test server, and a page that
 * signs in through the hosted form. The application's callback is answered
 * by the browser itself (page.route), so no app server is needed.
 */
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import type { Page } from 'playwright-core';
import { acmeFixture, ALICE } from '../helpers/fixtures.js';
import { freePort, type TenantInput, type TestServer } from '../helpers/server.js';

export const SPA = { client_id: 'acme-spa' };
export const OTHER_SPA = { client_id: 'acme-other-spa' };
export const WEBAPP = { client_id: 'acme-webapp', client_secret: 'acme-webapp-secret-0123456789' };

/** acme plus three code-flow applications whose callbacks are `callback` (a loopback URL nothing listens on). */
export async function codeFlowTenant(callback: string, overrides: Partial<TenantInput> = {}): Promise<TenantInput> {
  const { tenant } = await acmeFixture(overrides);
  const grant_types = ['authorization_code', 'refresh_token'] as const;
  tenant.applications = [
    ...(tenant.applications ?? []),
    { client_id: SPA.client_id, name: 'Acme SPA', token_endpoint_auth_method: 'none', grant_types: [...grant_types], callbacks: [callback] },
    { client_id: OTHER_SPA.client_id, token_endpoint_auth_method: 'none', grant_types: [...grant_types], callbacks: [callback] },
    {
      client_id: WEBAPP.client_id,
      client_secret: WEBAPP.client_secret,
      name: 'Acme Web App',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [...grant_types],
      callbacks: [callback],
    },
  ];
  return tenant;
}

export async function loopbackCallback(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}/callback`;
}

/** The browser answers the callback itself: the test reads the URL it was sent to. */
export async function answerCallbacks(page: Page, callback: string): Promise<void> {
  await page.route(`${new URL(callback).origin}/**`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>callback</title><p>ok</p>' }),
  );
}

export async function publicClientConfig(server: TestServer, clientId = SPA.client_id): Promise<client.Configuration> {
  return client.discovery(new URL(server.issuer()), clientId, undefined, client.None(), { execute: [client.allowInsecureRequests] });
}

export interface PkceRequest {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

export async function authorizationRequest(
  config: client.Configuration,
  callback: string,
  extra: Record<string, string> = {},
): Promise<PkceRequest> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: callback,
    scope: 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, verifier, state, nonce };
}

/** Fills the sign-in form and submits it with the button (which is not named `action`). */
export async function submitPassword(page: Page, password = ALICE.password, username = ALICE.username): Promise<void> {
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('form button[type=submit]');
}

/** Signs in through the page and waits for the callback; returns the URL the browser was sent to. */
export async function signInThrough(page: Page, url: URL, callback: string): Promise<URL> {
  await page.goto(url.href);
  assert.match(new URL(page.url()).pathname, /\/acme\/login$/);
  await submitPassword(page);
  await page.waitForURL((u) => u.href.startsWith(callback));
  return new URL(page.url());
}
