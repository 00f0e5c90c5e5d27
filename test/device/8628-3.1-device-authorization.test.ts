/**
 * RFC 8628 §3.1–3.2 and §4: the device authorization endpoint at every
 * provider's path (DESIGN.md §7), against a started server.
 *
 * §3.1: "The client makes a device authorization request … client_id
 * REQUIRED if the client is not authenticating with the authorization
 * server … scope OPTIONAL." §3.2: the response holds "device_code
 * REQUIRED", "user_code REQUIRED", "verification_uri REQUIRED",
 * "verification_uri_complete OPTIONAL", "expires_in REQUIRED", "interval
 * OPTIONAL". §6.1: the user code is short and typed by a person. §5.2:
 * device codes are high-entropy secrets. Seed 000: `POST /{tenant}/devicecode`
 * with `client_id` and `scope`. Entra adds `message`.
 *
 * Proven here: each path answers in its provider's shape with numeric
 * expires_in and interval (tenant `device_flow`); user codes are 8
 * characters of BCDFGHJKLMNPQRSTVWXZ shown XXXX-XXXX; device codes carry
 * 256 bits and only their hash is stored; client authentication is the
 * application's method; the device grant is opt-in per application;
 * `audience`, `resource` and Entra-style scopes choose the API, an unknown
 * one is invalid_target; discovery names the endpoint and the grant.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { DEVICE_CODE_GRANT } from '../../src/domain/grant-types.js';
import { API, ENTRA, SEED_API } from '../helpers/fixtures.js';
import { KIOSK, NO_DEVICE, TV, deviceFixture, requestDeviceCode } from '../helpers/device-flow.js';
import { assertStatus, get, postForm, postJson } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** A device application with a budget of 2 requests a minute (its `rate_limit`). */
const LIMITED = { client_id: 'acme-limited-tv' };
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

describe('RFC 8628 §3.1–3.2: the device authorization endpoint', () => {
  let server: TestServer;

  before(async () => {
    const { tenant } = await deviceFixture();
    tenant.applications?.push({
      ...LIMITED,
      token_endpoint_auth_method: 'none',
      grant_types: [DEVICE_CODE_GRANT],
      rate_limit: { requests: 2, per_seconds: 60 },
    });
    server = await startTestServer({ tenants: [{ ...tenant, device_flow: { expires_in: 600, interval: 7 } }] });
  });
  after(() => server.close());

  describe('§3.2 the response, in each provider’s shape', () => {
    it('Auth0 POST /T/oauth/device/code: device_code, user_code XXXX-XXXX, verification_uri {issuer}activate, verification_uri_complete, numeric expires_in and interval from device_flow', async () => {
      const res = await requestDeviceCode(server, { client_id: TV.client_id, scope: 'openid offline_access', audience: API });
      assert.match(res.user_code, USER_CODE);
      assert.equal(res.verification_uri, `${server.issuer()}activate`);
      assert.equal(res.verification_uri_complete, `${server.issuer()}activate?user_code=${res.user_code}`);
      assert.equal(res.expires_in, 600);
      assert.equal(res.interval, 7);
      assert.equal(res.message, undefined, 'no Entra message on the Auth0 path');
      assert.deepEqual(Object.keys(res).sort(), [
        'device_code',
        'expires_in',
        'interval',
        'user_code',
        'verification_uri',
        'verification_uri_complete',
      ]);
    });

    for (const path of ['/oauth2/v2.0/devicecode', '/devicecode', '/oauth/devicecode']) {
      it(`Entra ${path}: the same members plus message naming the page and the code`, async () => {
        const res = await requestDeviceCode(
          server,
          { client_id: ENTRA.client_id, scope: `${API}/read:sample openid profile offline_access` },
          path,
        );
        assert.match(res.user_code, USER_CODE);
        assert.equal(typeof res.expires_in, 'number');
        assert.equal(typeof res.interval, 'number');
        assert.equal(
          res.message,
          `To sign in, use a web browser to open the page ${server.issuer()}activate and enter the code ${res.user_code} to authenticate.`,
        );
      });
    }

    it('PingFederate POST /T/as/device_authz.oauth2: the RFC 8628 members, no message', async () => {
      const res = await requestDeviceCode(server, { client_id: TV.client_id, scope: 'openid' }, '/as/device_authz.oauth2');
      assert.match(res.user_code, USER_CODE);
      assert.equal(res.message, undefined);
      assert.equal(res.interval, 7);
    });

    it('seed 000: POST /{tenant}/devicecode with client_id and scope, form-encoded', async () => {
      const res = await postForm(server.at('/devicecode'), { client_id: ENTRA.client_id, scope: 'user.read openid profile' });
      assertStatus(res, 200, undefined, 'the seed’s request');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.ok(typeof res.body.device_code === 'string' && typeof res.body.message === 'string');
    });

    it('the Auth0 path takes JSON, as its token endpoint does; the Entra path takes forms only', async () => {
      const json = await postJson(server.at('/oauth/device/code'), { client_id: TV.client_id, audience: API });
      assertStatus(json, 200, undefined, 'JSON on the Auth0 path');
      const entra = await postJson(server.at('/oauth2/v2.0/devicecode'), { client_id: ENTRA.client_id });
      assertStatus(entra, 400, 'invalid_request', 'JSON on the Entra path');
    });

    it('§5.2 a device code carries 256 bits; user codes differ between requests; only the device code’s SHA-256 is stored', async () => {
      const first = await requestDeviceCode(server, { client_id: TV.client_id });
      const second = await requestDeviceCode(server, { client_id: TV.client_id });
      assert.ok(Buffer.from(first.device_code, 'base64url').length >= 32, 'at least 32 random bytes');
      assert.notEqual(first.user_code, second.user_code);
      assert.notEqual(first.device_code, second.device_code);
      const db = new Database(join(server.dir, 'latchkey.db'), { readonly: true });
      try {
        const rows = db.prepare('select * from device_codes').all() as Array<Record<string, unknown>>;
        const stored = JSON.stringify(rows);
        assert.ok(!stored.includes(first.device_code), 'the plain device code is nowhere in the table');
        assert.ok(stored.includes(first.user_code.replace('-', '')), 'the user code is stored normalised (no dash)');
      } finally {
        db.close();
      }
    });
  });

  describe('§3.1 client authentication and opt-in', () => {
    it('a public client sends client_id alone (token_endpoint_auth_method none)', async () => {
      await requestDeviceCode(server, { client_id: TV.client_id });
    });

    it('a confidential client authenticates as registered; a wrong or missing secret is invalid_client', async () => {
      await requestDeviceCode(server, { ...KIOSK });
      assertStatus(
        await postForm(server.at('/oauth/device/code'), { client_id: KIOSK.client_id, client_secret: 'wrong-secret-000' }),
        401,
        'invalid_client',
        'wrong secret',
      );
      assertStatus(await postForm(server.at('/oauth/device/code'), { client_id: KIOSK.client_id }), 401, 'invalid_client', 'no secret');
    });

    it('no client at all, or an unknown one, is invalid_client', async () => {
      assertStatus(await postForm(server.at('/oauth/device/code'), { scope: 'openid' }), 401, 'invalid_client', 'no client_id');
      assertStatus(await postForm(server.at('/devicecode'), { client_id: 'nobody' }), 401, 'invalid_client', 'unknown client');
    });

    it(`an application without ${DEVICE_CODE_GRANT} in grant_types is unauthorized_client`, async () => {
      assertStatus(
        await postForm(server.at('/oauth/device/code'), { client_id: NO_DEVICE.client_id }),
        400,
        'unauthorized_client',
        'not opted in',
      );
    });

    it('the application’s rate limit counts device authorization requests as the token endpoint does: 429 too_many_attempts beyond it', async () => {
      await requestDeviceCode(server, { ...LIMITED });
      await requestDeviceCode(server, { ...LIMITED });
      const refused = await postForm(server.at('/oauth/device/code'), { ...LIMITED });
      assertStatus(refused, 429, 'too_many_attempts', 'the third in the minute');
      assert.ok(Number(refused.headers.get('retry-after')) > 0, 'Retry-After');
    });

    it('an unknown tenant is 404, a repeated parameter invalid_request', async () => {
      assertStatus(await postForm(`${server.url}/nope/oauth/device/code`, { client_id: TV.client_id }), 404, 'not_found', 'unknown tenant');
      const repeated = await fetch(server.at('/oauth/device/code'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'client_id=acme-tv&scope=openid&scope=profile',
      });
      assert.equal(repeated.status, 400);
    });
  });

  describe('the API: audience, resource and Entra-style scopes, as at the token endpoint', () => {
    it('audience or resource naming an API of the tenant is accepted; an unknown one is invalid_target (RFC 8707)', async () => {
      await requestDeviceCode(server, { client_id: TV.client_id, audience: API });
      await requestDeviceCode(server, { client_id: TV.client_id, resource: SEED_API });
      assertStatus(
        await postForm(server.at('/oauth/device/code'), { client_id: TV.client_id, audience: 'https://unknown.example' }),
        400,
        'invalid_target',
        'unknown audience',
      );
      assertStatus(
        await postForm(server.at('/oauth/device/code'), { client_id: TV.client_id, audience: API, resource: SEED_API }),
        400,
        'invalid_target',
        'audience and resource disagree',
      );
    });

    it('Entra-style {identifier}/{scope} and {identifier}/.default name the API; two APIs at once are invalid_target', async () => {
      await requestDeviceCode(server, { client_id: ENTRA.client_id, scope: `${API}/.default openid` }, '/oauth2/v2.0/devicecode');
      assertStatus(
        await postForm(server.at('/oauth2/v2.0/devicecode'), {
          client_id: ENTRA.client_id,
          scope: `${API}/read:sample ${SEED_API}/read:sample`,
        }),
        400,
        'invalid_target',
        'two APIs',
      );
    });

    it('a scope with characters RFC 6749 §3.3 forbids is invalid_request', async () => {
      assertStatus(
        await postForm(server.at('/oauth/device/code'), { client_id: TV.client_id, scope: 'openid "x"' }),
        400,
        'invalid_request',
        'bad scope',
      );
    });
  });

  describe('§4 discovery', () => {
    it('names device_authorization_endpoint ({issuer}oauth/device/code) and the grant by its URN only', async () => {
      for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
        const doc = (await get(server.at(path))).body;
        assert.equal(doc.device_authorization_endpoint, `${server.issuer()}oauth/device/code`, path);
        const grants = doc.grant_types_supported as string[];
        assert.ok(grants.includes(DEVICE_CODE_GRANT), path);
        assert.ok(!grants.includes('device_code'), `${path}: the alias is not advertised`);
      }
    });
  });
});
