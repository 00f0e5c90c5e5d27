/**
 * The browser harness (test/helpers/browser.ts) is what the hosted pages'
 * suites stand on: this proves it against a plain node:http server serving
 * fixed pages under a strict CSP like Latchkey's — a page renders with its
 * stylesheet and nothing goes wrong, a form post round-trips (303 and a
 * cookie), contexts don't share cookies, JavaScript can be switched off,
 * CSP refusals and failed loads are reported, and the accessibility check
 * passes on a labelled form and fails, naming the rule, on an unlabeled one.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { checkAccessibility, chromiumUnavailableReason, launchBrowser, newPage, pageProblems } from '../helpers/browser.js';

const CSP =
  "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

function html(title: string, head: string, main: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${title}</title><link rel="stylesheet" href="/style.css">${head}</head>
<body><main><h1>${title}</h1>${main}</main></body>
</html>`;
}

const PAGES: Record<string, string> = {
  '/sign-in': html(
    'Sign in',
    '<script src="/enhance.js" defer></script>',
    `<p id="mode">Scripts off</p>
<form method="post" action="/sign-in">
<label for="email">Email</label> <input id="email" name="email" type="email" autocomplete="email" required>
<button type="submit">Continue</button>
</form>`,
  ),
  '/unlabeled': html(
    'Sign in',
    '',
    '<form method="post" action="/sign-in"><input id="email" name="email" type="email"> <button type="submit">Continue</button></form>',
  ),
  '/inline-style': html('Inline style', '', '<p style="color: rgb(200, 0, 0)">Refused by style-src</p>'),
  '/missing-stylesheet': html('Missing stylesheet', '<link rel="stylesheet" href="/missing.css">', '<p>One stylesheet is missing.</p>'),
};

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

interface Fixture {
  url: string;
  /** The email field of every form post the server received. */
  posts: string[];
  close(): Promise<void>;
}

async function startFixtureServer(): Promise<Fixture> {
  const sessions = new Map<string, string>();
  const posts: string[] = [];
  const send = (res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': type, 'content-security-policy': CSP, ...headers });
    res.end(body);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://fixture').pathname;
    if (req.method === 'POST' && path === '/sign-in') {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      const email = new URLSearchParams(body).get('email') ?? '';
      posts.push(email);
      const session = randomBytes(16).toString('hex');
      sessions.set(session, email);
      // Post/Redirect/Get, as the hosted pages answer a form.
      res.writeHead(303, { location: '/welcome', 'set-cookie': `session=${session}; Path=/; HttpOnly; SameSite=Lax` });
      res.end();
      return;
    }
    if (req.method !== 'GET') return send(res, 405, 'text/plain', 'method not allowed');
    if (path === '/style.css')
      return send(res, 200, 'text/css', 'body { font: 16px/1.5 sans-serif; color: #1a1a1a; background: rgb(250, 250, 250); }');
    if (path === '/enhance.js') return send(res, 200, 'text/javascript', "document.getElementById('mode').textContent = 'Scripts on';");
    if (path === '/welcome') {
      const session = /(?:^|;\s*)session=([0-9a-f]+)/.exec(req.headers.cookie ?? '')?.[1];
      const email = session === undefined ? undefined : sessions.get(session);
      return send(
        res,
        200,
        'text/html',
        html('Welcome', '', `<p id="who">${email === undefined ? 'Not signed in' : `Signed in as ${escapeHtml(email)}`}</p>`),
      );
    }
    const page = PAGES[path];
    if (page !== undefined) return send(res, 200, 'text/html', page);
    send(res, 404, 'text/plain', 'not found');
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, 'text/plain', String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    posts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const backgroundOf = (page: Page) => page.evaluate<string>('getComputedStyle(document.body).backgroundColor');

describe('browser test harness (chromium, playwright-core, axe-core)', { skip: chromiumUnavailableReason() }, () => {
  let browser: Browser;
  let fixture: Fixture;

  before(async () => {
    fixture = await startFixtureServer();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await fixture?.close();
  });

  async function signIn(page: Page, email: string): Promise<void> {
    await page.goto(`${fixture.url}/sign-in`);
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(`${fixture.url}/welcome`);
  }

  it('renders the page with its stylesheet and script, and nothing goes wrong (no CSP refusal, no failed request)', async () => {
    const page = await newPage(browser);
    const response = await page.goto(`${fixture.url}/sign-in`);
    assert.equal(response?.status(), 200);
    assert.equal(await page.title(), 'Sign in');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign in');
    assert.equal(await backgroundOf(page), 'rgb(250, 250, 250)');
    assert.equal(await page.locator('#mode').textContent(), 'Scripts on');
    assert.deepEqual(pageProblems(page), []);
  });

  it('a form post round-trips: the server gets the field, answers 303 with a cookie, and the next page shows it', async () => {
    const page = await newPage(browser);
    await signIn(page, 'ada@example.test');
    assert.equal(fixture.posts.at(-1), 'ada@example.test');
    assert.equal(await page.locator('#who').textContent(), 'Signed in as ada@example.test');
    assert.deepEqual(pageProblems(page), []);
  });

  it('each newPage() has cookies of its own; a second page of the same context shares them', async () => {
    const first = await newPage(browser);
    await signIn(first, 'grace@example.test');
    const stranger = await newPage(browser);
    await stranger.goto(`${fixture.url}/welcome`);
    assert.equal(await stranger.locator('#who').textContent(), 'Not signed in');
    const sibling = await first.context().newPage();
    await sibling.goto(`${fixture.url}/welcome`);
    assert.equal(await sibling.locator('#who').textContent(), 'Signed in as grace@example.test');
    assert.deepEqual(pageProblems(sibling), []);
  });

  it('with JavaScript disabled the page renders with its stylesheet, its script does not run, and the form still posts', async () => {
    const page = await newPage(browser, { javaScriptEnabled: false });
    await page.goto(`${fixture.url}/sign-in`);
    assert.equal(await backgroundOf(page), 'rgb(250, 250, 250)');
    assert.equal(await page.locator('#mode').textContent(), 'Scripts off');
    await page.getByLabel('Email').fill('lin@example.test');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(`${fixture.url}/welcome`);
    assert.equal(fixture.posts.at(-1), 'lin@example.test');
    assert.equal(await page.locator('#who').textContent(), 'Signed in as lin@example.test');
    assert.deepEqual(pageProblems(page), []);
  });

  it('pageProblems reports a CSP refusal and a stylesheet that failed to load', async () => {
    const inline = await newPage(browser);
    await inline.goto(`${fixture.url}/inline-style`);
    const refusals = pageProblems(inline);
    assert.equal(refusals.length, 1, refusals.join('\n'));
    assert.match(refusals[0] ?? '', /^console error: .*violates the following Content Security Policy directive 'style-src 'self''/);

    const missing = await newPage(browser);
    await missing.goto(`${fixture.url}/missing-stylesheet`);
    // Chromium also aborts the 404's body (a second line: request failed, net::ERR_ABORTED).
    const failures = pageProblems(missing);
    assert.ok(
      failures.some((line) => /^console error: Failed to load resource: .*404.*\/missing\.css\)$/.test(line)),
      failures.join('\n'),
    );
  });

  it('the accessibility check passes on the labelled form, and running it violates no CSP', async () => {
    const page = await newPage(browser);
    await page.goto(`${fixture.url}/sign-in`);
    await checkAccessibility(page);
    await checkAccessibility(page); // axe is injected once per document
    assert.deepEqual(pageProblems(page), []);
  });

  it('the accessibility check throws on the unlabeled input, naming the rule and the element', async () => {
    const page = await newPage(browser);
    await page.goto(`${fixture.url}/unlabeled`);
    await assert.rejects(checkAccessibility(page), (err: unknown) => {
      assert.ok(err instanceof assert.AssertionError);
      assert.match(err.message, /^1 serious or critical accessibility violation\(s\) on http:\/\/127\.0\.0\.1:\d+\/unlabeled:\n/);
      assert.match(
        err.message,
        /\n- label \(critical\): Form elements must have labels <https:\/\/dequeuniversity\.com\/rules\/axe\/[^>]+>\n {4}#email$/,
      );
      return true;
    });
  });

  it('the accessibility check runs on a JavaScript-disabled page and leaves its scripts off', async () => {
    const page = await newPage(browser, { javaScriptEnabled: false });
    await page.goto(`${fixture.url}/sign-in`);
    await checkAccessibility(page);
    await page.reload();
    assert.equal(await page.locator('#mode').textContent(), 'Scripts off');
    await page.goto(`${fixture.url}/unlabeled`);
    await assert.rejects(checkAccessibility(page), /- label \(critical\)/);
    assert.deepEqual(pageProblems(page), []);
  });
});
