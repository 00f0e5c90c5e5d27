/**
 * OpenID Connect RP-Initiated Logout 1.0 and Auth0's /v2/logout at /T/logout,
 * /T/v2/logout and /T/oidc/logout (issue #14 point 6, DESIGN.md §7), in a
 * real Chromium signed in through the hosted page, with openid-client v6's
 * code flow and `buildEndSessionUrl`.
 *
 * §2: "When an id_token_hint parameter is present, the OP MUST validate that
 * it was the issuer of the ID Token. The OP SHOULD accept ID Tokens when the
 * RP identified by the ID Token's aud claim and/or sid claim has a current
 * session or had a recent session at the OP, even when the exp time has
 * passed." "When both client_id and id_token_hint are present, the OP MUST
 * verify that the Client Identifier matches the one used when issuing the ID
 * Token." "the OP MUST ask the End-User this question if an id_token_hint
 * was not provided or if the supplied ID Token does not belong to the
 * current OP session with the RP and/or currently logged in End-User."
 * §3: "The OP also MUST NOT perform post-logout redirection if the
 * post_logout_redirect_uri value supplied does not exactly match one of the
 * previously registered post_logout_redirect_uris values."
 *
 * Proven here: a valid hint from the code flow and a registered address
 * redirect at once with `state`, on every path, and the session is over
 * (prompt=none then gets login_required) while the refresh token still
 * works; Auth0's `returnTo` + `client_id` and a request with no hint are
 * asked first (`action=confirm`), `deny` changes nothing; a hint for
 * another user is asked too; an expired hint is still a hint. Hostile: an
 * address one character off, with a query, a slash, of another
 * application, or foreign is never redirected to (open redirect through
 * logout); hints that are not this tenant's id_tokens are not taken; a
 * client_id that disagrees with the hint, a confirmation without its CSRF
 * token, repeated parameters are refused with a page; an application's
 * cross-site POST still ends the session; the pages refuse framing, carry
 * the page headers, and pass axe-core.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import type { Browser, Cookie, Page, Response } from 'playwright-core';
import { ALICE, JOE, WEB } from '../helpers/fixtures.js';
import { checkAccessibility, chromiumUnavailableReason, launchBrowser, newPage, pageProblems } from '../helpers/browser.js';
import { decodeJwt, get, postForm, type JsonResponse } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { member } from '../helpers/token-requests.js';
import {
  SPA,
  WEBAPP,
  authorizationRequest,
  codeFlowTenant,
  publicClientConfig,
  startCallbackServer,
  submitPassword,
  type CallbackServer,
  redeemAtCallback,
} from './code-flow-helpers.js';

const ID_TOKEN_LIFETIME = 300;

/** The page-kit headers of DESIGN.md §7, on every logout answer. */
function assertPageHeaders(headers: Record<string, string>, what: string): void {
  assert.match(headers['content-security-policy'] ?? '', /frame-ancestors 'none'/, what);
  assert.doesNotMatch(headers['content-security-policy'] ?? '', /'unsafe-inline'/, what);
  assert.equal(headers['x-frame-options'], 'DENY', what);
  assert.equal(headers['cache-control'], 'no-store', what);
  assert.equal(headers['x-content-type-options'], 'nosniff', what);
  assert.equal(headers['referrer-policy'], 'no-referrer', what);
}

/** The answer came from Latchkey's signed-out page: 200, no Location, the "not registered" sentence when `unregistered`. */
function assertSignedOutPage(res: JsonResponse, unregistered: boolean, what: string): void {
  assert.equal(res.status, 200, `${what}: ${res.text}`);
  assert.equal(res.headers.get('location'), null, `${what}: no redirect`);
  assert.match(res.text, /<h1>You are signed out<\/h1>/, what);
  if (unregistered) assert.match(res.text, /has not registered/, `${what}: says the address was not registered`);
  else assert.doesNotMatch(res.text, /has not registered/, what);
}

describe('RP-Initiated Logout 1.0 and Auth0 /v2/logout in Chromium (issue #14 point 6)', { skip: chromiumUnavailableReason() }, () => {
  let server: TestServer;
  let browser: Browser;
  let callback: string;
  let config: client.Configuration;
  /** The application's web server: its callback, and the addresses logout returns to. */
  let application: CallbackServer;
  /** Registered for SPA and WEB (acme-web). */
  let signedOut: string;
  /** Registered for SPA, with its own query. */
  let bye: string;
  /** Registered for WEBAPP only. */
  let webappSignedOut: string;

  before(async () => {
    application = await startCallbackServer();
    callback = application.url;
    const origin = new URL(callback).origin;
    signedOut = `${origin}/signed-out`;
    bye = `${origin}/bye?from=latchkey`;
    webappSignedOut = `${origin}/webapp/signed-out`;
    const logoutUrls: Record<string, string[]> = {
      [SPA.client_id]: [signedOut, bye],
      [WEB.client_id]: [signedOut],
      [WEBAPP.client_id]: [webappSignedOut],
    };
    const withLogoutUrls = async (name: string) => {
      const tenant = await codeFlowTenant(callback, { name, id_token_lifetime: ID_TOKEN_LIFETIME });
      tenant.applications = tenant.applications?.map((app) => ({ ...app, allowed_logout_urls: logoutUrls[app.client_id] ?? [] }));
      return tenant;
    };
    server = await startTestServer({ tenants: [await withLogoutUrls('acme'), await withLogoutUrls('beta')] });
    browser = await launchBrowser();
    config = await publicClientConfig(server);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await application?.close();
  });

  const logoutAt = (path: string, params: Record<string, string>, tenant = 'acme') =>
    `${server.at(path, tenant)}?${new URLSearchParams(params).toString()}`;

  /** A fresh browser signed in as `user` through the page, and the tokens openid-client redeemed for it. */
  async function signedIn(
    user = ALICE,
  ): Promise<{ page: Page; tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers; cookie: Cookie }> {
    const page = await newPage(browser);
    const request = await authorizationRequest(config, callback);
    await page.goto(request.url.href);
    await submitPassword(page, user.password, user.username);
    await page.waitForURL((u) => u.href.startsWith(callback));
    const tokens = await redeemAtCallback(config, page, request);
    return { page, tokens, cookie: (await sessionCookie(page)) ?? assert.fail('no session cookie after the sign-in') };
  }

  /** prompt=none in the same browser: a code while the session lives, login_required once it is over. */
  async function sessionAlive(page: Page): Promise<boolean> {
    const request = await authorizationRequest(config, callback, { prompt: 'none' });
    await page.goto(request.url.href);
    await page.waitForURL((u) => u.href.startsWith(callback));
    const landed = new URL(page.url());
    if (landed.searchParams.get('code')) return true;
    assert.equal(landed.searchParams.get('error'), 'login_required', landed.href);
    return false;
  }

  const sessionCookie = async (page: Page) => (await page.context().cookies()).find((c) => c.name === 'latchkey_session');

  /** Over in the browser and on the server: the old session id, put back in the browser, names no session either. */
  async function assertSessionOver(page: Page, cookie: Cookie, what: string): Promise<void> {
    assert.equal(await sessionAlive(page), false, `${what}: prompt=none afterwards gets login_required`);
    await page.context().addCookies([cookie]);
    assert.equal(await sessionAlive(page), false, `${what}: the old session cookie, presented again`);
  }
  const idTokenOf = (tokens: client.TokenEndpointResponse) => tokens.id_token ?? assert.fail('no id_token');
  const decodeJwtPayload = (jwt: string): Record<string, unknown> =>
    JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;

  /** The response that started a redirect chain ending in `response`. */
  async function firstOf(response: Response | null): Promise<Response> {
    let request = response?.request() ?? assert.fail('no response');
    while (request.redirectedFrom()) request = request.redirectedFrom() ?? request;
    return (await request.response()) ?? assert.fail('no first response');
  }

  it('discovery names /acme/logout as end_session_endpoint, and openid-client builds its logout URL there', async () => {
    const res = await get(server.at('/.well-known/openid-configuration'));
    assert.equal(res.body.end_session_endpoint, `${server.issuer()}logout`);
    assert.equal(config.serverMetadata().end_session_endpoint, `${server.issuer()}logout`);
    const url = client.buildEndSessionUrl(config, { post_logout_redirect_uri: signedOut });
    assert.equal(`${url.origin}${url.pathname}`, `${server.issuer()}logout`);
  });

  it('a valid id_token_hint and a registered post_logout_redirect_uri: redirected at once with state; the session is over; the refresh token still works', async () => {
    const { page, tokens, cookie } = await signedIn();
    assert.ok(await sessionCookie(page), 'signed in');
    const state = client.randomState();
    const url = client.buildEndSessionUrl(config, { id_token_hint: idTokenOf(tokens), post_logout_redirect_uri: signedOut, state });
    const response = await page.goto(url.href);
    const landed = new URL(page.url());
    assert.equal(`${landed.origin}${landed.pathname}`, signedOut, 'at the application');
    assert.equal(landed.searchParams.get('state'), state);
    const first = await firstOf(response);
    assert.equal(first.status(), 303, 'no page in between');
    assertPageHeaders(first.headers(), 'the redirect');
    assert.match((await first.headerValue('set-cookie')) ?? '', /latchkey_session=;.*Path=\/acme\//, 'the cookie is cleared');
    assert.equal(await sessionCookie(page), undefined);
    await assertSessionOver(page, cookie, 'prompt=none after logout: login_required');
    // DESIGN.md §7: logout is the browser's; the application's refresh token stays.
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token ?? assert.fail('no refresh token'));
    assert.ok(refreshed.access_token);
    const event = server.logs.find((line) => line.includes('"security_event":"logout"'));
    assert.ok(event, 'a logout security event');
    assert.match(event, /"reason":"id_token_hint"/);
    assert.match(event, new RegExp(`"client_id":"${SPA.client_id}"`));
    assert.ok(!server.logs.some((line) => line.includes(idTokenOf(tokens))), 'the hint never reaches the log');
  });

  it('/acme/v2/logout and /acme/oidc/logout do the same', async () => {
    for (const path of ['/v2/logout', '/oidc/logout']) {
      const { page, tokens, cookie } = await signedIn();
      await page.goto(logoutAt(path, { id_token_hint: idTokenOf(tokens), post_logout_redirect_uri: signedOut, state: 's1' }));
      assert.equal(page.url(), `${signedOut}?state=s1`, path);
      await assertSessionOver(page, cookie, path);
    }
  });

  it("Auth0's returnTo and client_id without a hint: asked first (action=confirm), then sent to returnTo exactly; axe finds nothing serious", async () => {
    const { page, cookie } = await signedIn();
    const response = await page.goto(logoutAt('/v2/logout', { client_id: SPA.client_id, returnTo: bye }));
    assert.equal(response?.status(), 200);
    assertPageHeaders(response?.headers() ?? {}, 'the confirmation page');
    assert.equal(await page.title(), 'Sign out of acme? · acme');
    assert.match((await page.textContent('main')) ?? '', /Acme SPA asks to sign you out/);
    assert.match((await page.textContent('main')) ?? '', new RegExp(`signed in as ${ALICE.username}`));
    assert.equal(await page.locator('form input[type=hidden][name=_csrf]').count(), 1);
    assert.equal(await page.locator('button[name=action][value=confirm]').count(), 1);
    assert.equal(await page.locator('button[name=action][value=deny]').count(), 1);
    await checkAccessibility(page);
    assert.ok(await sessionCookie(page), 'nothing ended by asking');
    await page.click('button[name=action][value=confirm]');
    await page.waitForURL((u) => u.href.startsWith(new URL(bye).origin) && u.pathname === '/bye');
    assert.equal(page.url(), bye, 'the registered address, its own query kept');
    await assertSessionOver(page, cookie, 'after logout');
    assert.deepEqual(pageProblems(page), []);
  });

  it('no hint and nowhere to go: asked, then the signed-out page; both pass axe', async () => {
    const { page, cookie } = await signedIn();
    await page.goto(server.at('/logout'));
    assert.equal(await page.title(), 'Sign out of acme? · acme');
    assert.match((await page.textContent('main')) ?? '', /An application asks to sign you out/);
    await page.click('button[name=action][value=confirm]');
    await page.waitForLoadState();
    assert.equal(await page.title(), 'You are signed out · acme');
    assert.match((await page.textContent('main')) ?? '', /You have signed out of acme\./);
    assert.doesNotMatch((await page.textContent('main')) ?? '', /has not registered/);
    await checkAccessibility(page);
    assert.equal(await sessionCookie(page), undefined);
    await assertSessionOver(page, cookie, 'after logout');
  });

  it('"Stay signed in" (action=deny) changes nothing and goes nowhere', async () => {
    const { page } = await signedIn();
    const before = await sessionCookie(page);
    await page.goto(logoutAt('/logout', { client_id: SPA.client_id, post_logout_redirect_uri: signedOut, state: 'kept' }));
    await page.click('button[name=action][value=deny]');
    await page.waitForLoadState();
    assert.equal(await page.title(), 'You are still signed in · acme');
    assert.ok(page.url().startsWith(server.issuer()), 'still at Latchkey');
    await checkAccessibility(page);
    assert.equal((await sessionCookie(page))?.value, before?.value);
    assert.equal(await sessionAlive(page), true);
  });

  it("another user's id_token_hint is not enough: the person is asked, and confirming sends them to the hint's application", async () => {
    const { tokens: joes } = await signedIn(JOE);
    const { page, cookie } = await signedIn(ALICE);
    await page.goto(logoutAt('/logout', { id_token_hint: idTokenOf(joes), post_logout_redirect_uri: signedOut, state: 'j' }));
    assert.equal(await page.title(), 'Sign out of acme? · acme', 'asked, not signed out at once');
    assert.ok(await sessionCookie(page));
    await page.click('button[name=action][value=confirm]');
    await page.waitForURL((u) => u.pathname === '/signed-out');
    assert.equal(page.url(), `${signedOut}?state=j`);
    await assertSessionOver(page, cookie, 'after logout');
  });

  it("the same user's id_token from another sign-in (another sid) is not enough: the person is asked; this session's own hint ends it at once", async () => {
    const { tokens: earlier } = await signedIn(ALICE);
    const { page, tokens: current } = await signedIn(ALICE);
    const sidOf = (tokens: client.TokenEndpointResponse) => decodeJwtPayload(idTokenOf(tokens)).sid;
    assert.equal(typeof sidOf(current), 'string', 'an id_token from a browser session names it (sid)');
    assert.notEqual(sidOf(earlier), sidOf(current));
    await page.goto(logoutAt('/logout', { id_token_hint: idTokenOf(earlier), post_logout_redirect_uri: signedOut }));
    assert.equal(await page.title(), 'Sign out of acme? · acme', 'an older sign-in of the same user is asked about');
    await page.goto(logoutAt('/logout', { id_token_hint: idTokenOf(current), post_logout_redirect_uri: signedOut, state: 'own' }));
    assert.equal(page.url(), `${signedOut}?state=own`, 'its own session: at once');
  });

  it("client_id that is not the hint's audience: a page says so (400) and the session stays", async () => {
    const { page, tokens } = await signedIn();
    const response = await page.goto(
      logoutAt('/logout', { id_token_hint: idTokenOf(tokens), client_id: WEBAPP.client_id, post_logout_redirect_uri: webappSignedOut }),
    );
    assert.equal(response?.status(), 400);
    assertPageHeaders(response?.headers() ?? {}, 'the error page');
    assert.match((await page.textContent('main')) ?? '', /names two different applications/);
    assert.ok(page.url().startsWith(server.issuer()), 'no redirect');
    await checkAccessibility(page);
    assert.equal(await sessionAlive(page), true);
  });

  it("an application's cross-site POST (form-serialised, §2) ends the session too: answered with a 303 to the same GET, which carries the SameSite=Lax cookie", async () => {
    const { page, tokens, cookie } = await signedIn();
    // A page of another site (localhost is not 127.0.0.1's site: the application's server, reached by that name) posts
    // the logout form, as an application may.
    await page.goto(`http://localhost:${new URL(callback).port}/app`);
    await page.setContent(`<!doctype html><html lang="en"><title>app</title><form method="post" action="${server.at('/logout')}">
<input type="hidden" name="id_token_hint" value="${idTokenOf(tokens)}">
<input type="hidden" name="post_logout_redirect_uri" value="${signedOut}">
<input type="hidden" name="state" value="posted">
<button type="submit">Sign out</button></form></html>`);
    assert.equal(new URL(page.url()).hostname, 'localhost');
    await page.click('button');
    await page.waitForURL((u) => u.pathname === '/signed-out');
    assert.equal(page.url(), `${signedOut}?state=posted`);
    await assertSessionOver(page, cookie, 'the session the browser held is over');
  });

  describe('hostile requests', () => {
    it('open redirect through logout: an address one character off, with a slash or a query, of another application, or foreign is never redirected to', async () => {
      const acmeHint = await passwordIdToken('acme');
      const origin = new URL(signedOut).origin;
      const refused = [
        `${signedOut}x`,
        `${signedOut}/`,
        `${signedOut}?next=https://evil.example/`,
        `${signedOut}#x`,
        `${origin}/Signed-out`,
        `${origin}/bye`,
        `${bye}&x=1`,
        webappSignedOut,
        'https://evil.example/signed-out',
        signedOut.replace('http://', 'https://'),
      ];
      for (const uri of refused) {
        const shapes: Array<Record<string, string>> = [
          { id_token_hint: acmeHint, post_logout_redirect_uri: uri, state: 's' },
          { client_id: SPA.client_id, returnTo: uri },
        ];
        for (const params of shapes) {
          for (const path of ['/logout', '/v2/logout', '/oidc/logout']) {
            assertSignedOutPage(await get(logoutAt(path, params)), true, `${path} ${JSON.stringify(uri)}`);
          }
        }
      }
      // No application named at all: nothing to compare with, so nowhere to go.
      assertSignedOutPage(await get(logoutAt('/logout', { post_logout_redirect_uri: signedOut })), true, 'no client');
      assertSignedOutPage(
        await get(logoutAt('/logout', { client_id: 'nobody', post_logout_redirect_uri: signedOut })),
        true,
        'unknown client',
      );
      // The control: the registered address itself redirects.
      const good = await fetch(logoutAt('/logout', { id_token_hint: acmeHint, post_logout_redirect_uri: signedOut, state: 's' }), {
        redirect: 'manual',
      });
      assert.equal(good.status, 303);
      assert.equal(good.headers.get('location'), `${signedOut}?state=s`);
    });

    it('in the browser, a valid hint with an unregistered address ends the session and stays at Latchkey, saying why', async () => {
      const { page, tokens, cookie } = await signedIn();
      await page.goto(logoutAt('/logout', { id_token_hint: idTokenOf(tokens), post_logout_redirect_uri: `${signedOut}x`, state: 's' }));
      assert.ok(page.url().startsWith(server.issuer()), 'no redirect');
      assert.equal(await page.title(), 'You are signed out · acme');
      assert.match((await page.textContent('main')) ?? '', /has not registered/);
      await checkAccessibility(page);
      await assertSessionOver(page, cookie, 'after logout');
    });

    it("only id_tokens this tenant signed are hints: an access token, a forged one, alg none, another tenant's, garbage are not taken", async () => {
      const acmeTokens = await passwordTokensOf('acme');
      const betaTokens = await passwordTokensOf('beta');
      const idToken = member(acmeTokens, 'id_token');
      const [header, payload, signature] = idToken.split('.');
      const claims = decodeJwt(idToken).payload;
      const forgedPayload = Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url');
      const noneHeader = Buffer.from(JSON.stringify({ ...decodeJwt(idToken).header, alg: 'none' })).toString('base64url');
      const notHints: Array<[string, string]> = [
        ['an access token (typ at+jwt)', member(acmeTokens, 'access_token')],
        ['a changed payload under the old signature', `${header}.${forgedPayload}.${signature}`],
        ['alg none', `${noneHeader}.${payload}.`],
        ["beta's id_token for the same client_id", member(betaTokens, 'id_token')],
        ['not a JWT', 'not-a-jwt'],
      ];
      // The hint would be the only word for the application (acme-web, which registered the address): not taken, no redirect.
      for (const [what, hint] of notHints) {
        const res = await get(logoutAt('/logout', { id_token_hint: hint, post_logout_redirect_uri: signedOut }));
        assertSignedOutPage(res, true, what);
      }
      assert.ok(
        server.logs.some((line) => line.includes('"id_token_hint_refused"')),
        'the reason is logged',
      );
      // The control: acme's own id_token for acme-web is taken.
      const taken = await fetch(logoutAt('/logout', { id_token_hint: idToken, post_logout_redirect_uri: signedOut }), {
        redirect: 'manual',
      });
      assert.equal(taken.status, 303);
      assert.equal(taken.headers.get('location'), signedOut);
    });

    it("with a session, beta's id_token at acme is no hint: the person is asked", async () => {
      const { page } = await signedIn();
      const betaTokens = await passwordTokensOf('beta');
      await page.goto(logoutAt('/logout', { id_token_hint: member(betaTokens, 'id_token'), post_logout_redirect_uri: signedOut }));
      assert.equal(await page.title(), 'Sign out of acme? · acme');
      // The refused hint is not carried into the form.
      assert.equal(await page.locator('input[name=id_token_hint]').count(), 0);
      assert.equal(await sessionAlive(page), true);
    });

    it('the confirmation posted without its CSRF token, or with a wrong one, is refused with a page (403) and ends nothing', async () => {
      const { page } = await signedIn();
      await page.goto(server.at('/logout'));
      await page.evaluate("document.querySelector('input[name=_csrf]').remove()");
      await page.click('button[name=action][value=confirm]');
      await page.waitForLoadState();
      assert.equal(await page.title(), 'This form has expired · acme');
      assert.equal(await sessionAlive(page), true);
      await page.goto(server.at('/logout'));
      await page.evaluate("document.querySelector('input[name=_csrf]').value = 'forged'");
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST'),
        page.click('button[name=action][value=confirm]'),
      ]);
      assert.equal(response.status(), 403);
      assert.equal(await sessionAlive(page), true);
      // And from outside the browser, no cookie at all.
      const outside = await postForm(server.at('/logout'), { action: 'confirm' });
      assert.equal(outside.status, 403);
      // With its token but neither button's value: a sentence, nothing ended.
      await page.goto(server.at('/logout'));
      await page.evaluate("document.querySelector('button[name=action][value=confirm]').value = 'maybe'");
      const [odd] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST'),
        page.click('button[name=action][value=maybe]'),
      ]);
      assert.equal(odd.status(), 400);
      assert.match((await page.textContent('main')) ?? '', /not answered with one of its buttons/);
      assert.equal(await sessionAlive(page), true);
    });

    it('bad requests are pages with a sentence, never a 500: repeated parameters, returnTo and post_logout_redirect_uri that differ, an unknown tenant', async () => {
      const cases: Array<[string, string, number, RegExp]> = [
        ['repeated state', `${server.at('/logout')}?state=a&state=b`, 400, /repeated/],
        [
          'returnTo and post_logout_redirect_uri differ',
          logoutAt('/logout', { post_logout_redirect_uri: signedOut, returnTo: bye }),
          400,
          /two different addresses/,
        ],
        ['an unknown tenant', `${server.url}/nowhere/logout`, 404, /No tenant/],
      ];
      for (const [what, url, status, sentence] of cases) {
        const res = await get(url);
        assert.equal(res.status, status, `${what}: ${res.text}`);
        assert.match(res.headers.get('content-type') ?? '', /^text\/html/, what);
        assert.match(res.text, sentence, what);
      }
    });

    it('the logout pages refuse framing: an iframe shows nothing of them', async () => {
      const { page } = await signedIn();
      const framing = await page.context().newPage();
      await framing.setContent(`<iframe src="${server.at('/logout')}"></iframe>`);
      const frame = framing.frames()[1];
      const framed = frame ? await frame.content().catch(() => '') : '';
      assert.doesNotMatch(framed, /name="action"/);
      for (const url of [server.at('/logout'), logoutAt('/v2/logout', { returnTo: 'https://evil.example/' })]) {
        const res = await fetch(url);
        assertPageHeaders(Object.fromEntries(res.headers), url);
      }
      assert.equal(await sessionAlive(page), true, 'the framed confirmation ended nothing');
    });
  });

  // Last: it moves the server's clock past the id_token's lifetime.
  it('an expired id_token_hint is still a hint (§2): the session ends at once', async () => {
    const { page, tokens, cookie } = await signedIn();
    server.clock.advance(ID_TOKEN_LIFETIME + 120);
    const exp = decodeJwt(idTokenOf(tokens)).payload.exp as number;
    assert.ok(exp * 1000 < server.clock.now().getTime(), 'the hint has expired on the server');
    await page.goto(logoutAt('/logout', { id_token_hint: idTokenOf(tokens), post_logout_redirect_uri: signedOut, state: 'late' }));
    assert.equal(page.url(), `${signedOut}?state=late`);
    await assertSessionOver(page, cookie, 'after logout');
  });

  /** acme-web's password grant (scope openid) at `tenant`: an id_token whose aud is acme-web, and a JWT access token. */
  async function passwordTokensOf(tenant: string): Promise<JsonResponse> {
    const res = await postForm(server.at('/oauth/token', tenant), {
      grant_type: 'password',
      ...WEB,
      username: ALICE.username,
      password: ALICE.password,
      scope: 'openid',
    });
    assert.equal(res.status, 200, res.text);
    return res;
  }

  async function passwordIdToken(tenant: string): Promise<string> {
    return member(await passwordTokensOf(tenant), 'id_token');
  }
});
