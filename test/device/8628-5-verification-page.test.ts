/**
 * RFC 8628 §3.3 and §5: the verification page /T/activate (alias
 * /T/device) as a browser without JavaScript uses it, plain HTTP against a
 * started server, and its hostile cases. The sign-in page is not the point
 * here: a signed-in browser holds a session the store wrote (test/helpers/
 * device-flow.ts); test/device/device-browser.test.ts signs in for real.
 *
 * §3.3: "the authorization server … prompts the user to enter the user code
 * … the user code … SHOULD be confirmed" when it comes in
 * verification_uri_complete (§3.3.1). §5.1: "the authorization server
 * [must] rate-limit user code attempts". §5.4 (remote phishing): show
 * "information about the device" before the user approves. §5.5 (session
 * spying): the decision needs a press. DESIGN.md §7: inputs named
 * `user_code`, decisions `action=confirm|deny`, CSRF tokens in hidden
 * inputs, labels on every input, CSP `frame-ancestors 'none'`, no-store.
 *
 * Proven here: the forms' contract and headers; a pre-filled code still
 * needs the press; the 11th guess from one IP is refused (429) even when
 * right, another IP is not, and the window passes (server.clock); the way
 * through the sign-in (303 /T/login?tx=); the decision page's details; a
 * deny followed by the back button and confirm issues no token, nor does a
 * second tab; missing or wrong CSRF tokens decide nothing; a user blocked,
 * or whose password changed, after approving gets no token; post-login
 * hooks run with the device grant's name and their deny reaches the device;
 * a session without the second factor the application needs is sent to
 * sign in again, once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEVICE_CODE_GRANT } from '../../src/domain/grant-types.js';
import { ALICE, API, BLOCKED, JOE, SEED_USER } from '../helpers/fixtures.js';
import {
  PageClient,
  TV,
  answerOnPage,
  deviceFixture,
  enterUserCode,
  inputValue,
  poll,
  requestDeviceCode,
  signedIn,
  txOf,
} from '../helpers/device-flow.js';
import { assertStatus, decodeJwt } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** A device application whose policy wants a second factor. */
const STRICT_TV = { client_id: 'acme-strict-tv' };
/** A device application for one connection only. */
const EMPLOYEES_TV = { client_id: 'acme-employees-tv' };
const GRANT_CLAIM = 'https://device.test/grant_type';

/** Denies Joe on devices; marks every other device sign-in with the grant type the hook saw. */
const HOOK = `
export async function onExecutePostLogin(event, api) {
  if (event.grant_type !== '${DEVICE_CODE_GRANT}') return;
  if (event.user.username === '${JOE.username}') return api.access.deny('Devices are not allowed for this account.');
  api.accessToken.setCustomClaim('${GRANT_CLAIM}', event.grant_type);
}
`;

describe('RFC 8628 §3.3, §5: the verification page', () => {
  let server: TestServer;
  let hookDir: string;

  before(async () => {
    hookDir = mkdtempSync(join(tmpdir(), 'latchkey-device-hook-'));
    const hook = join(hookDir, 'device.mjs');
    writeFileSync(hook, HOOK);
    const { tenant } = await deviceFixture();
    tenant.applications?.push(
      { ...STRICT_TV, name: 'Strict TV', token_endpoint_auth_method: 'none', grant_types: [DEVICE_CODE_GRANT], mfa: 'always' },
      {
        ...EMPLOYEES_TV,
        token_endpoint_auth_method: 'none',
        grant_types: [DEVICE_CODE_GRANT],
        connections: ['employees'],
      },
    );
    server = await startTestServer({
      tenants: [
        { ...tenant, hooks: { post_login: [hook] }, trusted_proxies: ['127.0.0.1'], device_flow: { expires_in: 600, interval: 5 } },
      ],
    });
  });
  after(async () => {
    await server.close();
    rmSync(hookDir, { recursive: true, force: true });
  });

  const tvCode = () => requestDeviceCode(server, { client_id: TV.client_id, scope: 'openid read:sample', audience: API });
  /** A person on a network of their own (X-Forwarded-For through the trusted proxy), so guess counts do not mix. */
  let network = 0;
  const person = () => {
    const client = new PageClient(server);
    client.headers['x-forwarded-for'] = `198.51.100.${++network}`;
    return client;
  };

  describe('the code form (DESIGN.md §7 contract)', () => {
    it('GET /T/activate: a fillable user_code input with its label, a CSRF token, a plain submit button; the page headers', async () => {
      for (const path of ['/activate', '/device']) {
        const page = await person().get(server.at(path));
        assert.equal(page.status, 200, path);
        assert.match(page.html, /<label for="user_code">/);
        assert.match(page.html, /<input type="text" id="user_code" name="user_code" value=""/);
        assert.match(page.html, /<input type="hidden" name="_csrf" value="[^"]+">/);
        assert.match(page.html, /<button type="submit">Continue<\/button>/, 'a plain button, not named action');
        assert.equal(page.headers.get('cache-control'), 'no-store');
        assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
        assert.doesNotMatch(page.headers.get('content-security-policy') ?? '', /script-src[^;]*'unsafe-inline'/);
        assert.equal(page.headers.get('x-frame-options'), 'DENY');
        assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
        assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
      }
    });

    it('§3.3.1 verification_uri_complete pre-fills the code, and nothing happens until the press', async () => {
      const code = await tvCode();
      const client = person().withSession(await signedIn(server, ALICE.username));
      const page = await client.get(code.verification_uri_complete);
      assert.equal(page.status, 200);
      assert.equal(inputValue(page.html, 'user_code'), code.user_code);
      assert.match(page.html, /Check that this code is the one your device shows/);
      assertStatus(await poll(server, code.device_code), 400, 'authorization_pending', 'opening the link decided nothing');
    });

    it('the code is read whatever the case and dashes; a right code without a session goes to the sign-in (303 /T/login?tx=)', async () => {
      const code = await tvCode();
      const typed = code.user_code.replace('-', '').toLowerCase();
      const entered = await enterUserCode(person(), ` ${typed} `);
      assert.equal(entered.status, 303, entered.html);
      assert.ok(entered.location?.startsWith(`${server.issuer()}login?tx=`), entered.location ?? '');
      assert.ok(txOf(entered.location).startsWith('tx.'), 'a sealed sign-in transaction');
    });

    it('a right code with a session goes to the decision page, which shows the application, scopes, the device’s IP, user agent and time (UTC), and two buttons named action', async () => {
      const code = await requestDeviceCode(server, { client_id: TV.client_id, scope: 'openid read:sample', audience: API });
      const client = person().withSession(await signedIn(server, ALICE.username));
      const entered = await enterUserCode(client, code.user_code);
      assert.equal(entered.status, 303);
      assert.ok(entered.location?.startsWith(`${server.issuer()}activate?tx=`), entered.location ?? '');
      const page = await client.get(entered.location ?? '');
      assert.equal(page.status, 200, page.html);
      assert.match(page.html, /Acme TV/, 'the application’s name');
      assert.match(page.html, /read:sample/, 'the scopes');
      assert.match(page.html, new RegExp(API.replace(/[.]/g, '\\.')), 'the API');
      assert.match(page.html, /127\.0\.0\.1/, 'where the device asked');
      assert.match(page.html, /node/i, 'the device’s user agent (fetch’s)');
      assert.match(page.html, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/, 'when, in UTC');
      assert.match(page.html, new RegExp(code.user_code), 'the code, to compare with the device');
      assert.match(page.html, /alice@acme\.test/, 'who is about to approve');
      assert.match(page.html, /<button type="submit" name="action" value="confirm">/);
      assert.match(page.html, /<button type="submit" name="action" value="deny" class="secondary">/);
      assert.ok(inputValue(page.html, 'tx'));
      assert.ok(inputValue(page.html, '_csrf'));
      assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, 'the decision page refuses frames');
      assert.equal(page.headers.get('x-frame-options'), 'DENY');
    });

    it('a malformed or wrong code shows the form again with the message in role="alert"', async () => {
      const client = person();
      const malformed = await enterUserCode(client, 'ABC');
      assert.equal(malformed.status, 400);
      assert.match(malformed.html, /role="alert"[^>]*>A code is 8 letters/);
      const wrong = await enterUserCode(client, 'BBBB-BBBB');
      assert.equal(wrong.status, 400);
      assert.match(wrong.html, /role="alert"[^>]*>That code is not valid or has expired/);
      assert.equal(inputValue(wrong.html, 'user_code'), 'BBBB-BBBB', 'kept for correction');
    });
  });

  describe('§5.1 wrong codes per IP', () => {
    it('ten wrong codes from one IP, then the 11th is refused with 429 even when right; another IP is not; the window passes', async () => {
      const code = await tvCode();
      const guesser = person();
      for (let i = 0; i < 10; i++) {
        const wrong = await enterUserCode(guesser, `BCDF-GH${'JKLMNPQRST'[i]}${'BCDFGHJKLM'[i]}`);
        assert.equal(wrong.status, 400, `guess ${i + 1}`);
      }
      const eleventh = await enterUserCode(guesser, code.user_code);
      assert.equal(eleventh.status, 429, 'the 11th, although right');
      assert.match(eleventh.html, /role="alert"[^>]*>Too many wrong codes/);
      assert.ok(Number(eleventh.headers.get('retry-after')) > 0, 'Retry-After');
      assert.ok(
        server.logs.some(
          (l) => l.includes('"security_event":"user_code_guesses_exceeded"') && l.includes(guesser.headers['x-forwarded-for'] ?? '-'),
        ),
        'a security event names the IP',
      );
      const elsewhere = await enterUserCode(person(), code.user_code);
      assert.equal(elsewhere.status, 303, 'a person on another network');
      server.clock.advance(601);
      const later = await enterUserCode(guesser, (await tvCode()).user_code);
      assert.equal(later.status, 303, 'after the 10-minute window');
    });

    it('right codes are not counted: one person may connect many devices', async () => {
      const client = person();
      for (let i = 0; i < 12; i++) assert.equal((await enterUserCode(client, (await tvCode()).user_code)).status, 303, `device ${i + 1}`);
    });
  });

  describe('deciding, and what can go wrong', () => {
    it('a deny, then the back button and confirm: nothing changes, the page says so, and no token ever follows', async () => {
      const code = await tvCode();
      const client = person().withSession(await signedIn(server, ALICE.username));
      const { decisionPage, result } = await answerOnPage(client, code.user_code, 'deny');
      assert.match(result.html, /Request denied/);
      // The back button: the decision page's form, sent again with confirm.
      const again = await client.post(server.at('/activate'), {
        _csrf: inputValue(decisionPage.html, '_csrf') ?? '',
        tx: inputValue(decisionPage.html, 'tx') ?? '',
        action: 'confirm',
      });
      assert.equal(again.status, 409);
      assert.match(again.html, /already denied; nothing was changed/);
      const reloaded = await client.get(server.at(`/activate?tx=${encodeURIComponent(inputValue(decisionPage.html, 'tx') ?? '')}`));
      assert.match(reloaded.html, /Already denied/);
      for (let i = 0; i < 3; i++) {
        assertStatus(await poll(server, code.device_code), 400, 'access_denied', `poll ${i + 1}`);
        server.clock.advance(5);
      }
    });

    it('two tabs: confirm in one, deny in the other: the second changes nothing and the device gets its tokens once', async () => {
      const code = await tvCode();
      const client = person().withSession(await signedIn(server, ALICE.username));
      const entered = await enterUserCode(client, code.user_code);
      const tab = await client.get(entered.location ?? '');
      const fields = { _csrf: inputValue(tab.html, '_csrf') ?? '', tx: inputValue(tab.html, 'tx') ?? '' };
      assert.match((await client.post(server.at('/activate'), { ...fields, action: 'confirm' })).html, /Device connected/);
      const second = await client.post(server.at('/device'), { ...fields, action: 'deny' });
      assert.equal(second.status, 409);
      assert.match(second.html, /already confirmed/);
      assertStatus(await poll(server, code.device_code), 200, undefined, 'approved');
      server.clock.advance(5);
      assertStatus(await poll(server, code.device_code), 400, 'invalid_grant', 'once');
    });

    it('a missing or wrong CSRF token is refused (403) and decides nothing; an unknown action is a plain sentence', async () => {
      const code = await tvCode();
      const client = person().withSession(await signedIn(server, ALICE.username));
      const entered = await enterUserCode(client, code.user_code);
      const page = await client.get(entered.location ?? '');
      const tx = inputValue(page.html, 'tx') ?? '';
      const missing = await client.post(server.at('/activate'), { tx, action: 'confirm' });
      assert.equal(missing.status, 403);
      assert.match(missing.html, /This form has expired/);
      const wrong = await client.post(server.at('/activate'), { _csrf: 'forged-token', tx, action: 'confirm' });
      assert.equal(wrong.status, 403);
      const stranger = new PageClient(server).withSession(await signedIn(server, ALICE.username));
      const foreign = await stranger.post(server.at('/activate'), { _csrf: inputValue(page.html, '_csrf') ?? '', tx, action: 'confirm' });
      assert.equal(foreign.status, 403, 'a token minted for another browser');
      const noCode = await new PageClient(server).post(server.at('/activate'), { user_code: code.user_code });
      assert.equal(noCode.status, 403, 'the code form needs its token too');
      const odd = await client.post(server.at('/activate'), { _csrf: inputValue(page.html, '_csrf') ?? '', tx, action: 'approve' });
      assert.equal(odd.status, 400);
      assert.match(odd.html, /Choose Confirm or Deny/);
      assertStatus(await poll(server, code.device_code), 400, 'authorization_pending', 'nothing was decided');
    });

    it('a forged or foreign tx is a plain sentence, never a decision', async () => {
      const client = person().withSession(await signedIn(server, ALICE.username));
      const page = await client.get(server.at('/activate'));
      const res = await client.post(server.at('/activate'), {
        _csrf: inputValue(page.html, '_csrf') ?? '',
        tx: 'tx.forged',
        action: 'confirm',
      });
      assert.equal(res.status, 400);
      assert.match(res.html, /no longer valid/);
    });

    it('a user blocked after approving gets no token at redemption; nor one whose password changed', async () => {
      const { runtime } = server.server;
      const tenant = runtime.catalog.tenant('acme');
      const connection = tenant?.connections.get('Username-Password-Authentication');
      assert.ok(tenant && connection);
      for (const change of ['block', 'password'] as const) {
        const username = change === 'block' ? SEED_USER.username : ALICE.username;
        const user = await runtime.stores.users.findByLogin(tenant.id, connection.id, username);
        assert.ok(user);
        const code = await tvCode();
        await answerOnPage(person().withSession(await signedIn(server, username)), code.user_code, 'confirm');
        server.clock.advance(1);
        if (change === 'block') await runtime.stores.users.setBlocked(user.id, true, server.clock.now());
        else await runtime.stores.users.setPasswordHash(user.id, user.passwordHash ?? '', { passwordChangedAt: server.clock.now() });
        assertStatus(await poll(server, code.device_code), 400, 'invalid_grant', change);
      }
    });

    it('a blocked user’s browser session does not count: the code leads to the sign-in', async () => {
      const entered = await enterUserCode(person().withSession(await signedIn(server, BLOCKED.username)), (await tvCode()).user_code);
      assert.ok(entered.location?.startsWith(`${server.issuer()}login?tx=`), entered.location ?? '');
    });

    it('an expired code: the form says not valid; a decision page left open says expired (409)', async () => {
      const code = await tvCode();
      const client = person().withSession(await signedIn(server, ALICE.username));
      const entered = await enterUserCode(client, code.user_code);
      const page = await client.get(entered.location ?? '');
      server.clock.advance(601);
      const late = await client.post(server.at('/activate'), {
        _csrf: inputValue(page.html, '_csrf') ?? '',
        tx: inputValue(page.html, 'tx') ?? '',
        action: 'confirm',
      });
      assert.equal(late.status, 409);
      assert.match(late.html, /expired/);
      assert.equal((await enterUserCode(client, code.user_code)).status, 400);
      assertStatus(await poll(server, code.device_code), 400, 'expired_token', 'the device');
    });

    it('an account of a connection the application does not use is refused on the page; the request stays pending', async () => {
      const code = await requestDeviceCode(server, { client_id: EMPLOYEES_TV.client_id });
      const { result } = await answerOnPage(person().withSession(await signedIn(server, ALICE.username)), code.user_code, 'confirm');
      assert.equal(result.status, 403);
      assert.match(result.html, /role="alert"[^>]*>Your account cannot be used with acme-employees-tv/);
      assert.match(result.html, /<a class="button" href="[^"]*\/acme\/login\?tx=tx\.[^"]+">Sign in with another account<\/a>/);
      assertStatus(await poll(server, code.device_code, { client_id: EMPLOYEES_TV.client_id }), 400, 'authorization_pending', 'still open');
    });
  });

  describe('post-login hooks and the second factor', () => {
    it('hooks run at the approval with event.grant_type = the device URN; their claims reach the token, and they do not run again at redemption', async () => {
      const code = await tvCode();
      await answerOnPage(person().withSession(await signedIn(server, ALICE.username)), code.user_code, 'confirm');
      const tokens = await poll(server, code.device_code);
      assertStatus(tokens, 200, undefined, 'approved');
      assert.equal(decodeJwt(tokens.body.access_token as string).payload[GRANT_CLAIM], DEVICE_CODE_GRANT);
    });

    it('a hook’s deny is shown on the page (403, role="alert") and the device gets access_denied', async () => {
      const code = await tvCode();
      const { result } = await answerOnPage(person().withSession(await signedIn(server, JOE.username)), code.user_code, 'confirm');
      assert.equal(result.status, 403);
      assert.match(result.html, /role="alert"[^>]*>Devices are not allowed for this account\./);
      assertStatus(await poll(server, code.device_code), 400, 'access_denied', 'denied by the hook');
    });

    it('a session without the second factor the application needs: a fresh sign-in (303 /T/login?tx=), and once back without it, a sentence, never a loop', async () => {
      const code = await requestDeviceCode(server, { client_id: STRICT_TV.client_id });
      const { decisionPage, result } = await answerOnPage(
        person().withSession(await signedIn(server, ALICE.username)),
        code.user_code,
        'confirm',
      );
      assert.equal(result.status, 303, result.html);
      const stepUp = txOf(result.location);
      assert.ok(result.location?.startsWith(`${server.issuer()}login?tx=`));
      assert.notEqual(stepUp, inputValue(decisionPage.html, 'tx'), 'a new transaction, asking for a fresh sign-in');
      // Back from a sign-in that still brought no second factor.
      const back = person().withSession(await signedIn(server, ALICE.username));
      const page = await back.get(server.at(`/activate?tx=${encodeURIComponent(stepUp)}`));
      assert.equal(page.status, 200, page.html);
      const refused = await back.post(server.at('/activate'), {
        _csrf: inputValue(page.html, '_csrf') ?? '',
        tx: stepUp,
        action: 'confirm',
      });
      assert.equal(refused.status, 403);
      assert.match(refused.html, /needs a sign-in with a second factor/);
      // With the second factor, the same request is approved.
      const strong = person().withSession(await signedIn(server, ALICE.username, { amr: ['pwd', 'otp', 'mfa'] }));
      const strongPage = await strong.get(server.at(`/activate?tx=${encodeURIComponent(stepUp)}`));
      const approved = await strong.post(server.at('/activate'), {
        _csrf: inputValue(strongPage.html, '_csrf') ?? '',
        tx: stepUp,
        action: 'confirm',
      });
      assert.match(approved.html, /Device connected/);
      const tokens = await poll(server, code.device_code, { client_id: STRICT_TV.client_id });
      assertStatus(tokens, 200, undefined, 'approved with MFA');
      assert.deepEqual(decodeJwt(tokens.body.access_token as string).payload.amr, ['pwd', 'otp', 'mfa']);
    });
  });
});
