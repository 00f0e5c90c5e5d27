/**
 * The device flow's test fixtures (RFC 8628, DESIGN.md §7): the acme tenant
 * with device applications, the device's requests, and a person on the
 * verification page as plain HTTP (cookies kept, the CSRF token read from
 * each form). Signing in is the sign-in page's job; tests that are not about
 * it start from a browser session written through the store, as a sign-in
 * would leave it (`signedIn`).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sha256Base64Url } from '../../src/crypto/secrets.js';
import { DEVICE_CODE_GRANT } from '../../src/domain/grant-types.js';
import { ENTRA, acmeFixture, type AcmeFixture } from './fixtures.js';
import type { TenantInput } from './server.js';
import { postForm, type JsonResponse } from './http.js';
import type { TestServer } from './server.js';

type GrantTypes = NonNullable<NonNullable<TenantInput['applications']>[number]['grant_types']>;

/** A public device client (most devices: a TV, a CLI), with refresh tokens. */
export const TV = { client_id: 'acme-tv' };
/** A confidential device client. */
export const KIOSK = { client_id: 'acme-kiosk', client_secret: 'acme-kiosk-secret-0123456789' };
/** A public client without the device grant. */
export const NO_DEVICE = { client_id: 'acme-no-device' };

export async function deviceFixture(): Promise<AcmeFixture> {
  const fixture = await acmeFixture();
  const apps = fixture.tenant.applications ?? [];
  fixture.tenant.applications = [
    // MSAL's public client of the suites may use the device flow too (grant_types names the URN; MSAL sends `device_code`).
    ...apps.map((app) =>
      app.client_id === ENTRA.client_id ? { ...app, grant_types: [...(app.grant_types ?? []), DEVICE_CODE_GRANT] as GrantTypes } : app,
    ),
    { ...TV, name: 'Acme TV', token_endpoint_auth_method: 'none', grant_types: [DEVICE_CODE_GRANT, 'refresh_token'] as GrantTypes },
    { ...KIOSK, name: 'Lobby kiosk', token_endpoint_auth_method: 'client_secret_post', grant_types: [DEVICE_CODE_GRANT] as GrantTypes },
    { ...NO_DEVICE, token_endpoint_auth_method: 'none', grant_types: ['password'] as GrantTypes },
  ];
  return fixture;
}

export interface DeviceCodeResponse {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
  message?: string;
}

/** POST /T/oauth/device/code (or another path) and the parsed answer, asserting 200. */
export async function requestDeviceCode(
  server: TestServer,
  params: Record<string, string>,
  path = '/oauth/device/code',
): Promise<DeviceCodeResponse> {
  const res = await postForm(server.at(path), params);
  assert.equal(res.status, 200, `device authorization: ${res.text}`);
  return res.body as unknown as DeviceCodeResponse;
}

/** One poll of the token endpoint with the device code. */
export function poll(
  server: TestServer,
  deviceCode: string,
  params: Record<string, string> = { client_id: TV.client_id },
  path = '/oauth/token',
) {
  return postForm(server.at(path), { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode, ...params });
}

/** A browser session for `username`, as the sign-in page leaves it: only the id's hash stored, the id in the cookie. */
export async function signedIn(server: TestServer, username: string, options: { amr?: string[]; tenant?: string } = {}): Promise<string> {
  const { runtime } = server.server;
  const tenant = runtime.catalog.tenant(options.tenant ?? 'acme');
  assert.ok(tenant, 'tenant');
  let userId: string | undefined;
  for (const connection of tenant.connections.values()) {
    const user = await runtime.stores.users.findByLogin(tenant.id, connection.id, username);
    if (user) userId = user.id;
  }
  assert.ok(userId, `user ${username}`);
  const id = randomBytes(32).toString('base64url');
  const now = server.clock.now();
  await runtime.stores.browserSessions.create({
    idHash: sha256Base64Url(id),
    tenantId: tenant.id,
    userId,
    authTime: now,
    amr: options.amr ?? ['pwd'],
    createdAt: now,
    idleExpiresAt: new Date(now.getTime() + 3600_000),
    expiresAt: new Date(now.getTime() + 7200_000),
  });
  return id;
}

export interface PageResponse {
  status: number;
  headers: Headers;
  html: string;
  /** The Location of a redirect. */
  location: string | null;
}

/**
 * A browser without JavaScript, as plain HTTP: keeps cookies per name,
 * follows no redirect by itself, sends forms as a browser does.
 */
export class PageClient {
  readonly cookies = new Map<string, string>();
  /** Sent with every request (X-Forwarded-For through a tenant's trusted_proxies: a person on another network). */
  readonly headers: Record<string, string> = {};

  constructor(readonly server: TestServer) {}

  /** Starts signed in with a session cookie (see signedIn). */
  withSession(id: string): this {
    this.cookies.set('latchkey_session', id);
    return this;
  }

  async get(url: string): Promise<PageResponse> {
    return this.send(url, { method: 'GET' });
  }

  async post(url: string, fields: Record<string, string>): Promise<PageResponse> {
    return this.send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }

  private async send(url: string, init: RequestInit): Promise<PageResponse> {
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const headers = new Headers({ ...this.headers, ...(init.headers as Record<string, string> | undefined) });
    if (cookie !== '') headers.set('cookie', cookie);
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const index = pair?.indexOf('=') ?? -1;
      if (pair && index > 0) this.cookies.set(pair.slice(0, index).trim(), pair.slice(index + 1).trim());
    }
    return { status: response.status, headers: response.headers, html: await response.text(), location: response.headers.get('location') };
  }
}

/** The value of a form's hidden or text input, by name (the pages render one form each). */
export function inputValue(html: string, name: string): string | undefined {
  const tag = new RegExp(`<input[^>]*name="${name}"[^>]*>`).exec(html)?.[0];
  const value = tag && /value="([^"]*)"/.exec(tag)?.[1];
  return value
    ?.replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>');
}

/** The query parameter `tx` of a redirect. */
export function txOf(location: string | null): string {
  assert.ok(location, 'a redirect');
  const tx = new URL(location).searchParams.get('tx');
  assert.ok(tx, `tx in ${location}`);
  return tx;
}

/** Types the user code on /T/activate as a person would: the form, its CSRF token, the post. */
export async function enterUserCode(client: PageClient, userCode: string, path = '/activate'): Promise<PageResponse> {
  const page = await client.get(client.server.at(path));
  assert.equal(page.status, 200, page.html);
  const csrf = inputValue(page.html, '_csrf');
  assert.ok(csrf, 'the form carries a CSRF token');
  return client.post(client.server.at(path), { _csrf: csrf, user_code: userCode });
}

/**
 * From a user code to the person's answer, signed in already: the code, the
 * decision page (returned, for its details), then `action`.
 */
export async function answerOnPage(
  client: PageClient,
  userCode: string,
  action: 'confirm' | 'deny',
): Promise<{ decisionPage: PageResponse; result: PageResponse }> {
  const entered = await enterUserCode(client, userCode);
  assert.equal(entered.status, 303, entered.html);
  assert.ok(entered.location?.includes('/activate?tx='), `straight to the decision page: ${entered.location}`);
  const decisionPage = await client.get(entered.location ?? '');
  assert.equal(decisionPage.status, 200, decisionPage.html);
  const result = await client.post(client.server.at('/activate'), {
    _csrf: inputValue(decisionPage.html, '_csrf') ?? '',
    tx: inputValue(decisionPage.html, 'tx') ?? '',
    action,
  });
  return { decisionPage, result };
}

export type { JsonResponse };
