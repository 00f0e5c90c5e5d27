/**
 * examples/web-app works as its README says (issue #14 point 9): Latchkey
 * runs with the tenant of examples/web-app/latchkey.yaml, the example runs
 * as its README starts it (`node examples/web-app/server.mjs`, a child
 * process, with its built-in client_id and secret, so the defaults and the
 * YAML are proven to agree), and a real Chromium signs in through it: the
 * authorization code flow with PKCE through openid-client (which checks
 * state, iss and nonce), the claims page, userinfo, and logout.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { parse } from 'yaml';
import { chromiumUnavailableReason, launchBrowser, newPage, pageProblems } from '../helpers/browser.js';
import { REPO_ROOT, RunningProcess } from '../helpers/cli-process.js';
import { freePort, startTestServer, type TenantInput, type TestServer } from '../helpers/server.js';

interface ExampleConfig {
  tenants: Array<TenantInput & { users: Array<{ username: string; password: string; name: string; email: string }> }>;
}

const example = parse(readFileSync(`${REPO_ROOT}examples/web-app/latchkey.yaml`, 'utf8')) as ExampleConfig;
const tenant = example.tenants[0] ?? assert.fail('the example config has a tenant');
const user = tenant.users[0] ?? assert.fail('the example config has a user');
const application = tenant.applications?.[0] ?? assert.fail('the example config has an application');

describe('examples/web-app: sign-in with openid-client code flow + PKCE against Latchkey', { skip: chromiumUnavailableReason() }, () => {
  let server: TestServer;
  let app: RunningProcess;
  let appUrl: string;
  let browser: Browser;

  before(async () => {
    // The example's tenant as the YAML declares it; only the listener and database are the test server's.
    const port = await freePort();
    appUrl = `http://127.0.0.1:${port}`;
    // allowed_logout_urls are compared exactly, port included (unlike a loopback callback): the app's free port replaces 5000.
    const applications = tenant.applications?.map((a) => ({ ...a, allowed_logout_urls: [`${appUrl}/`] }));
    server = await startTestServer({ tenants: [{ ...tenant, applications }] });
    // The README's command; the callback is http://127.0.0.1:PORT/callback, a loopback callback whose port may differ (RFC 8252 §7.3).
    app = RunningProcess.start(process.execPath, ['examples/web-app/server.mjs'], {
      env: { LATCHKEY_ISSUER: server.issuer(tenant.name), PORT: String(port) },
    });
    await app.waitForLine((line) => line.startsWith('web app example listening on'));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
    await server?.close();
  });

  async function signIn(page: Page): Promise<void> {
    await page.goto(`${appUrl}/`);
    await page.click('#sign-in');
    await page.waitForURL((u) => u.pathname === `/${tenant.name}/login`);
    assert.match((await page.textContent('main')) ?? '', /Acme Web App/, 'the sign-in page names the application');
    await page.fill('input[name=username]', user.username);
    await page.fill('input[name=password]', user.password);
    await page.click('button[type=submit]');
    await page.waitForURL((u) => u.origin === appUrl && u.pathname === '/');
  }

  it('signs in on the hosted page and shows the id_token claims, then userinfo', async () => {
    const page = await newPage(browser);
    await signIn(page);
    assert.equal((await page.textContent('#who'))?.trim(), user.name);
    const claims = JSON.parse((await page.textContent('#claims')) ?? '{}') as Record<string, unknown>;
    assert.equal(claims.iss, server.issuer(tenant.name));
    assert.equal(claims.aud, application.client_id);
    assert.equal(claims.email, user.email);
    assert.equal(typeof claims.nonce, 'string', 'the nonce the example sent came back in the id_token');
    const scope = (await page.textContent('#scope')) ?? '';
    assert.deepEqual(
      scope.split(' ').sort(),
      ['email', 'offline_access', 'openid', 'profile', 'read:sample'],
      'every scope asked was granted',
    );
    assert.match((await page.textContent('main')) ?? '', /with a refresh token/);

    await page.click('#userinfo');
    const info = JSON.parse((await page.textContent('#userinfo-claims')) ?? '{}') as Record<string, unknown>;
    assert.equal(info.sub, claims.sub);
    assert.equal(info.email, user.email);
    assert.deepEqual(pageProblems(page), []);
  });

  it('signs out of the app and, when Latchkey advertises end_session_endpoint, of Latchkey too', async () => {
    const page = await newPage(browser);
    await signIn(page);
    await page.click('#logout');
    await page.waitForURL((u) => u.origin === appUrl && u.pathname === '/');
    assert.match((await page.textContent('main')) ?? '', /You are not signed in/);

    const discovery = (await (await fetch(`${server.issuer(tenant.name)}.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    await page.click('#sign-in');
    if (typeof discovery.end_session_endpoint === 'string') {
      // Latchkey's session ended with the app's: the password is asked again.
      await page.waitForURL((u) => u.pathname === `/${tenant.name}/login`);
    } else {
      // No logout endpoint yet: only the app's session ended, and Latchkey's session signs the browser straight back in.
      await page.waitForURL((u) => u.origin === appUrl && u.pathname === '/');
      assert.equal((await page.textContent('#who'))?.trim(), user.name);
    }
  });

  it('a callback the app did not start is refused with a page, not a token request', async () => {
    const res = await fetch(`${appUrl}/callback?code=forged&state=forged&iss=${encodeURIComponent(server.issuer(tenant.name))}`);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /not started here/);
  });
});
