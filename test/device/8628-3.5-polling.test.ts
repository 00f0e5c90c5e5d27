/**
 * RFC 8628 §3.4–3.5: the device access token request, on every token path
 * (DESIGN.md §7), against a started server; the person answers on the
 * verification page over plain HTTP, from a browser session the store holds
 * (the sign-in page is not the point here).
 *
 * §3.4: "grant_type REQUIRED. Value MUST be set to
 * urn:ietf:params:oauth:grant-type:device_code. device_code REQUIRED."
 * §3.5: "authorization_pending … slow_down: A variant of
 * authorization_pending, … the interval MUST be increased by 5 seconds for
 * this and all subsequent requests. access_denied … expired_token".
 * MSAL posts the short `device_code` and polls at once; its first poll must
 * be authorization_pending, never slow_down. Entra ID names a denial
 * `authorization_declined` and an unknown code `bad_verification_code`.
 *
 * Proven here: pending on the first poll, slow_down only on a second poll
 * inside the interval, with the interval growing by 5 s each time; the alias
 * on every path; tokens once after confirm, invalid_grant after; access_denied
 * (authorization_declined on the Entra path) after deny; expired_token after
 * expires_in (server.clock); another client's code and an unknown code are
 * invalid_grant (bad_verification_code on the Entra path); the polling
 * client authenticates as registered; the grant is opt-in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEVICE_CODE_GRANT } from '../../src/domain/grant-types.js';
import { API, ENTRA } from '../helpers/fixtures.js';
import {
  KIOSK,
  NO_DEVICE,
  PageClient,
  TV,
  answerOnPage,
  deviceFixture,
  poll,
  requestDeviceCode,
  signedIn,
} from '../helpers/device-flow.js';
import { assertStatus, decodeJwt, postForm } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN_PATHS = ['/oauth/token', '/oauth2/v2.0/token', '/as/token.oauth2'];
const INTERVAL = 5;

describe('RFC 8628 §3.4–3.5: polling the token endpoint', () => {
  let server: TestServer;
  let alice: string;

  before(async () => {
    const { tenant } = await deviceFixture();
    server = await startTestServer({ tenants: [{ ...tenant, device_flow: { expires_in: 300, interval: INTERVAL } }] });
    alice = await signedIn(server, 'alice@acme.test');
  });
  after(() => server.close());

  const tvCode = (params: Record<string, string> = {}) =>
    requestDeviceCode(server, { client_id: TV.client_id, scope: 'openid offline_access read:sample', audience: API, ...params });

  describe('§3.5 authorization_pending and slow_down', () => {
    it('the first poll, sent at once, is authorization_pending (400), never slow_down: on every path, by the URN and by MSAL’s `device_code`', async () => {
      for (const path of TOKEN_PATHS) {
        for (const grantType of [DEVICE_CODE_GRANT, 'device_code']) {
          const { device_code } = await tvCode();
          const res = await postForm(server.at(path), { grant_type: grantType, device_code, client_id: TV.client_id });
          assertStatus(res, 400, 'authorization_pending', `${path} ${grantType}`);
          assert.equal(res.headers.get('cache-control'), 'no-store');
        }
      }
    });

    it('a device waiting is not news: authorization_pending and slow_down are not logged as refusals at info', async () => {
      const { device_code } = await tvCode();
      const before = server.logs.length;
      assertStatus(await poll(server, device_code), 400, 'authorization_pending', 'first poll');
      assertStatus(await poll(server, device_code), 400, 'slow_down', 'too fast');
      const refusals = server.logs.slice(before).filter((line) => line.includes('"msg":"request refused"'));
      assert.deepEqual(refusals, []);
    });

    it('a second poll inside the interval is slow_down, and the interval grows by 5 s for this and every later poll', async () => {
      const { device_code } = await tvCode();
      assertStatus(await poll(server, device_code), 400, 'authorization_pending', 'first poll');
      assertStatus(await poll(server, device_code), 400, 'slow_down', 'at once: too fast');
      // The interval is now 10 s: 6 s later is still too fast (it would have been enough before), and grows it to 15 s.
      server.clock.advance(INTERVAL + 1);
      assertStatus(await poll(server, device_code), 400, 'slow_down', '6 s after: the interval grew to 10 s');
      server.clock.advance(2 * INTERVAL + 1);
      assertStatus(await poll(server, device_code), 400, 'slow_down', '11 s after: the interval grew to 15 s');
      server.clock.advance(4 * INTERVAL);
      assertStatus(
        await poll(server, device_code),
        400,
        'authorization_pending',
        '20 s after: the interval grew to 20 s, and this is polite',
      );
      server.clock.advance(4 * INTERVAL);
      assertStatus(await poll(server, device_code), 400, 'authorization_pending', 'and at 20 s again');
    });

    it('polls at the interval are never slow_down', async () => {
      const { device_code } = await tvCode();
      for (let i = 0; i < 4; i++) {
        assertStatus(await poll(server, device_code), 400, 'authorization_pending', `poll ${i + 1}`);
        server.clock.advance(INTERVAL);
      }
    });
  });

  describe('§3.5 the answers after the person decided', () => {
    it('confirm: the next poll gets the tokens (access token for the API, refresh token, id_token) exactly once; then invalid_grant', async () => {
      const code = await tvCode();
      assertStatus(await poll(server, code.device_code), 400, 'authorization_pending', 'before');
      const { result } = await answerOnPage(new PageClient(server).withSession(alice), code.user_code, 'confirm');
      assert.equal(result.status, 200, result.html);
      assert.match(result.html, /return to your device/);
      server.clock.advance(INTERVAL);
      const tokens = await poll(server, code.device_code);
      assertStatus(tokens, 200, undefined, 'approved');
      const access = decodeJwt(tokens.body.access_token as string).payload;
      assert.equal(access.client_id, TV.client_id);
      assert.ok((access.aud as string[]).includes(API));
      const scopes = (access.scope as string).split(' ');
      assert.ok(scopes.includes('read:sample') && scopes.includes('openid'), access.scope as string);
      assert.ok(!scopes.includes('write:sample'), 'only the API scope asked for');
      assert.equal(typeof tokens.body.refresh_token, 'string', 'offline_access and the refresh_token grant');
      const id = decodeJwt(tokens.body.id_token as string).payload;
      assert.equal(id.aud, TV.client_id);
      assert.equal(id.sub, access.sub);

      server.clock.advance(INTERVAL);
      assertStatus(await poll(server, code.device_code), 400, 'invalid_grant', 'redeemed twice');

      const logs = server.logs.join('\n');
      for (const secret of [
        code.device_code,
        code.user_code,
        code.user_code.replace('-', ''),
        tokens.body.access_token,
        tokens.body.refresh_token,
      ]) {
        assert.ok(!logs.includes(secret as string), 'no code or token reaches a log line');
      }
      assert.match(logs, /"security_event":"device_approved"/);
    });

    it('the refresh token of a device sign-in refreshes (grant refresh_token)', async () => {
      const code = await tvCode();
      await answerOnPage(new PageClient(server).withSession(alice), code.user_code, 'confirm');
      const tokens = await poll(server, code.device_code);
      assertStatus(tokens, 200, undefined, 'approved');
      const refreshed = await postForm(server.at('/oauth/token'), {
        grant_type: 'refresh_token',
        refresh_token: tokens.body.refresh_token as string,
        client_id: TV.client_id,
      });
      assertStatus(refreshed, 200, undefined, 'refresh');
    });

    it('deny: access_denied (400) at every later poll, authorization_declined on the Entra path', async () => {
      const code = await tvCode();
      const { result } = await answerOnPage(new PageClient(server).withSession(alice), code.user_code, 'deny');
      assert.equal(result.status, 200);
      assert.match(result.html, /Request denied/);
      assertStatus(await poll(server, code.device_code), 400, 'access_denied', 'Auth0 path');
      server.clock.advance(INTERVAL);
      assertStatus(
        await poll(server, code.device_code, { client_id: TV.client_id }, '/as/token.oauth2'),
        400,
        'access_denied',
        'Ping path',
      );
      server.clock.advance(INTERVAL);
      assertStatus(
        await poll(server, code.device_code, { client_id: TV.client_id }, '/oauth2/v2.0/token'),
        400,
        'authorization_declined',
        'Entra path',
      );
    });

    it('expired_token once expires_in has passed, on every path (Entra’s name too), approved or not', async () => {
      const pending = await tvCode();
      const approved = await tvCode();
      await answerOnPage(new PageClient(server).withSession(alice), approved.user_code, 'confirm');
      server.clock.advance(300);
      for (const path of TOKEN_PATHS) {
        assertStatus(await poll(server, pending.device_code, { client_id: TV.client_id }, path), 400, 'expired_token', `pending, ${path}`);
        assertStatus(
          await poll(server, approved.device_code, { client_id: TV.client_id }, path),
          400,
          'expired_token',
          `approved, ${path}`,
        );
      }
    });
  });

  describe('wrong codes and wrong clients', () => {
    it('an unknown device code is invalid_grant; on the Entra path bad_verification_code', async () => {
      assertStatus(await poll(server, 'not-a-device-code'), 400, 'invalid_grant', 'Auth0 path');
      assertStatus(
        await poll(server, 'not-a-device-code', { client_id: TV.client_id }, '/as/token.oauth2'),
        400,
        'invalid_grant',
        'Ping path',
      );
      assertStatus(
        await poll(server, 'not-a-device-code', { client_id: ENTRA.client_id }, '/oauth2/v2.0/token'),
        400,
        'bad_verification_code',
        'Entra path',
      );
    });

    it('a device code of another client is invalid_grant, even approved, and stays redeemable by its own client', async () => {
      const code = await requestDeviceCode(server, { ...KIOSK });
      await answerOnPage(new PageClient(server).withSession(alice), code.user_code, 'confirm');
      assertStatus(await poll(server, code.device_code, { client_id: TV.client_id }), 400, 'invalid_grant', 'TV presents the kiosk’s code');
      assertStatus(
        await poll(server, code.device_code, { client_id: ENTRA.client_id }, '/oauth2/v2.0/token'),
        400,
        'bad_verification_code',
        'Entra path',
      );
      assertStatus(await poll(server, code.device_code, { ...KIOSK }), 200, undefined, 'the kiosk itself');
    });

    it('the polling client authenticates as registered: the kiosk without its secret is invalid_client', async () => {
      const code = await requestDeviceCode(server, { ...KIOSK });
      assertStatus(await poll(server, code.device_code, { client_id: KIOSK.client_id }), 401, 'invalid_client', 'no secret');
    });

    it('an application without the device grant is unauthorized_client; a poll without device_code is invalid_request', async () => {
      const code = await tvCode();
      assertStatus(await poll(server, code.device_code, { client_id: NO_DEVICE.client_id }), 400, 'unauthorized_client', 'not opted in');
      assertStatus(
        await postForm(server.at('/oauth/token'), { grant_type: DEVICE_CODE_GRANT, client_id: TV.client_id }),
        400,
        'invalid_request',
        'no device_code',
      );
    });
  });
});
