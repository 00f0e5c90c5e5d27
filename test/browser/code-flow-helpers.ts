/**
 * Shared by the browser suites: a tenant with applications for the code
 * flow, openid-client configured against a test server, a loopback server
 * standing for the application's callback, and a page that signs in through
 * the hosted form.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import type { Page } from 'playwright-core';
import { acmeFixture, ALICE } from '../helpers/fixtures.js';
import type { TenantInput, TestServer } from '../helpers/server.js';

export const SPA = { client_id: 'acme-spa' };
export const OTHER_SPA = { client_id: 'acme-other-spa' };
export const WEBAPP = { client_id: 'acme-webapp', client_secret: 'acme-webapp-secret-0123456789' };

/** acme plus three code-flow applications whose callbacks are `callback` (a loopback URL nothing listens on). */
export async function codeFlowTenant(callback: string, overrides: Partial<TenantInput> = {}): Promise<TenantInput> {
  const { tenant } = await acmeFixture(overrides);
  const grant_types = ['authorization_code', 'refresh_token'] as const;
  tenant.applications = [
    ...(tenant.applications ?? []),
    {
      client_id: SPA.client_id,
      name: 'Acme SPA',
      token_endpoint_auth_method: 'none',
      grant_types: [...grant_types],
      callbacks: [callback],
    },
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

/** The application's callback: a loopback server that answers every request with a small page and keeps the last form body. */
export interface CallbackServer {
  url: string;
  /** The body of the last POST (response_mode=form_post). */
  lastPost(): string;
  close(): Promise<void>;
}

export async function startCallbackServer(): Promise<CallbackServer> {
  let posted = '';
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    request.on('end', () => {
      if (request.method === 'POST') posted = body;
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end('<!doctype html><html lang="en"><title>callback</title><main><p>ok</p></main></html>');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/callback`,
    lastPost: () => posted,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
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

/** The code at the URL the browser landed on, redeemed by openid-client, which checks state, iss, nonce and the id_token. */
export function redeemAtCallback(config: client.Configuration, page: Page, request: PkceRequest) {
  return client.authorizationCodeGrant(config, new URL(page.url()), {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
  });
}
