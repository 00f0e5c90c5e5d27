/**
 * examples/device-login works as its README says (issue #14 point 9):
 * Latchkey runs with the tenant of examples/device-login/latchkey.yaml, the
 * CLI runs as its README starts it (`node examples/device-login/login.mjs`,
 * a child process, with its built-in client_id, scope and audience, so the
 * defaults and the YAML are proven to agree), and a person in Chromium opens
 * the address it prints, signs in as the YAML's user and answers. Confirm:
 * `Signed in.` and the claims; deny: `Not signed in: access_denied`, exit 1.
 * The CLI polls at the YAML's interval (5 s) for real.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { parse } from 'yaml';
import { chromiumUnavailableReason, launchBrowser, newPage, pageProblems } from '../helpers/browser.js';
import { REPO_ROOT, RunningProcess } from '../helpers/cli-process.js';
import { startTestServer, type TenantInput, type TestServer } from '../helpers/server.js';

interface ExampleConfig {
  tenants: Array<TenantInput & { users: Array<{ username: string; password: string; name: string; email: string }> }>;
}

const example = parse(readFileSync(`${REPO_ROOT}examples/device-login/latchkey.yaml`, 'utf8')) as ExampleConfig;
const tenant = example.tenants[0] ?? assert.fail('the example config has a tenant');
const user = tenant.users[0] ?? assert.fail('the example config has a user');

describe('examples/device-login: a CLI signing in with the device flow through openid-client', {
  skip: chromiumUnavailableReason(),
}, () => {
  let server: TestServer;
  let browser: Browser;
  const clis: RunningProcess[] = [];

  before(async () => {
    // The example's tenant as the YAML declares it; only the listener and database are the test server's.
    server = await startTestServer({ tenants: [tenant] });
    browser = await launchBrowser();
  });
  after(async () => {
    for (const cli of clis) await cli.stop();
    await browser?.close();
    await server?.close();
  });

  /** The README's command; returns the CLI and the verification_uri_complete it printed. */
  async function startCli(): Promise<{ cli: RunningProcess; link: string }> {
    const cli = RunningProcess.start(process.execPath, ['examples/device-login/login.mjs'], {
      env: { LATCHKEY_ISSUER: server.issuer(tenant.name) },
    });
    clis.push(cli);
    const first = await cli.waitForLine((line) => line.startsWith('To sign in, open '));
    assert.match(first, new RegExp(`^To sign in, open ${server.issuer(tenant.name)}activate and enter the code [A-Z]{4}-[A-Z]{4}$`));
    const line = await cli.waitForLine((l) => l.startsWith('or open '));
    return { cli, link: line.slice('or open '.length) };
  }

  async function answer(link: string, action: 'confirm' | 'deny'): Promise<string> {
    const page = await newPage(browser);
    await page.goto(link);
    await Promise.all([page.waitForURL((u) => u.pathname === `/${tenant.name}/login`), page.click('form button[type=submit]')]);
    await page.fill('input[name=username]', user.username);
    await page.fill('input[name=password]', user.password);
    await Promise.all([page.waitForURL((u) => u.pathname === `/${tenant.name}/activate`), page.click('form button[type=submit]')]);
    assert.match((await page.textContent('main')) ?? '', /Acme CLI/, 'the decision page names the application');
    await Promise.all([page.waitForLoadState(), page.click(`button[name=action][value=${action}]`)]);
    assert.deepEqual(pageProblems(page), []);
    return (await page.textContent('h1')) ?? '';
  }

  it('confirm: the CLI prints "Signed in." and the id_token claims of the YAML’s user, with a refresh token', async () => {
    const { cli, link } = await startCli();
    assert.equal(await answer(link, 'confirm'), 'Device connected');
    await cli.waitForLine((line) => line === 'Signed in.', 30_000);
    const claimsLine = await cli.waitForLine((line) => line.startsWith('id_token claims: '));
    const claims = JSON.parse(claimsLine.slice('id_token claims: '.length)) as Record<string, unknown>;
    assert.equal(claims.iss, server.issuer(tenant.name));
    assert.equal(claims.email, user.email);
    await cli.waitForLine((line) => line === 'refresh token: yes');
    assert.equal((await cli.exited).code, 0, cli.describe());
  });

  it('deny: the CLI prints "Not signed in: access_denied" and exits with status 1', async () => {
    const { cli, link } = await startCli();
    assert.equal(await answer(link, 'deny'), 'Request denied');
    assert.equal((await cli.exited).code, 1, cli.describe());
    assert.match(cli.stderr, /Not signed in: access_denied/);
  });
});
