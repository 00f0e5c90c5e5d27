/**
 * DESIGN.md §7: the sign-in page keys the brute-force lock on the browser's
 * IP, which is the TCP peer, or the X-Forwarded-For client when the peer is
 * one of the tenant's `trusted_proxies` (never a header a client picks
 * otherwise). Driven over HTTP as a proxy would forward it: the lock of one
 * forwarded IP leaves another IP free. (That the header is ignored from any
 * other peer is proven for the token endpoint in test/protection/, by the
 * same requestOrigin.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as client from 'openid-client';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { authorizationRequest, codeFlowTenant, publicClientConfig, startCallbackServer, type CallbackServer } from './code-flow-helpers.js';

const VICTIM = 'dave@acme.test';

/** One sign-in attempt as a browser behind a proxy sends it: GET the form (its CSRF cookie and token), POST the password. */
async function attempt(
  server: TestServer,
  authorizeUrl: URL,
  forwardedFor: string,
  password: string,
): Promise<{ status: number; alert: string }> {
  const headers = { 'x-forwarded-for': forwardedFor };
  const toLogin = await fetch(authorizeUrl, { headers, redirect: 'manual' });
  const loginUrl = toLogin.headers.get('location') ?? assert.fail('no redirect to the sign-in page');
  const form = await fetch(loginUrl, { headers });
  const html = await form.text();
  const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? assert.fail(`no ${name}`);
  const cookie = form.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const res = await fetch(`${server.issuer()}login`, {
    method: 'POST',
    headers: { ...headers, cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      _csrf: field('_csrf'),
      tx: field('tx'),
      step: 'password',
      username: VICTIM,
      password,
    }),
    redirect: 'manual',
  });
  const alert = /role="alert">([^<]*)</.exec(await res.text())?.[1] ?? '';
  return { status: res.status, alert };
}

describe("The sign-in page's lock is keyed on the browser's IP: X-Forwarded-For only from trusted_proxies", () => {
  let server: TestServer;
  let callbackServer: CallbackServer;
  let config: client.Configuration;

  before(async () => {
    callbackServer = await startCallbackServer();
    const tenant = await codeFlowTenant(callbackServer.url, {
      trusted_proxies: ['127.0.0.1'],
      attack_protection: { brute_force: { threshold: 3, block_seconds: 600 } },
    });
    server = await startTestServer({ tenants: [tenant] });
    config = await publicClientConfig(server);
  });
  after(async () => {
    await server?.close();
    await callbackServer?.close();
  });

  it('three failures from one forwarded IP lock that IP for the name; another forwarded IP is still only told the password is wrong', async () => {
    const { url } = await authorizationRequest(config, callbackServer.url);
    for (let i = 0; i < 3; i++) {
      const res = await attempt(server, url, '203.0.113.5', `guess ${i}`);
      assert.equal(res.alert, 'Wrong email or password.', `attempt ${i}`);
    }
    const locked = await attempt(server, url, '203.0.113.5', 'guess 4');
    assert.equal(locked.status, 429);
    assert.notEqual(locked.alert, 'Wrong email or password.');
    const elsewhere = await attempt(server, url, '198.51.100.7', 'guess 5');
    assert.equal(elsewhere.status, 400);
    assert.equal(elsewhere.alert, 'Wrong email or password.');
  });
});
