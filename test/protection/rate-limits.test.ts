/**
 * Token-endpoint rate limits: the tenant's rate_limits.tenant (every token
 * request, checked before client authentication), rate_limits.client (each
 * application's own, after authentication) and an application's rate_limit
 * (wins over rate_limits.client). Over a limit: 429 too_many_attempts,
 * error_reason rate_limited, Retry-After, and one rate_limited security event.
 * Every grant counts; nothing is limited by default.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ALICE, API, BASIC, PING, WEB } from '../helpers/fixtures.js';
import { basic as basicAuth, postForm, type JsonResponse } from '../helpers/http.js';
import { BACKEND, acmeWith, assertTooMany, securityEvents, type Client } from '../helpers/ip-throttle.js';
import type { TenantInput } from '../helpers/server.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('token endpoint rate limits', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(extra: Partial<TenantInput> = {}, applications: Parameters<typeof acmeWith>[1] = []): Promise<TestServer> {
    server = await startTestServer({ tenants: [await acmeWith(extra, applications)] });
    return server;
  }

  function clientCredentials(s: TestServer, client: Client & { client_secret: string }): Promise<JsonResponse> {
    return postForm(s.at('/oauth/token'), {
      grant_type: 'client_credentials',
      audience: API,
      client_id: client.client_id,
      client_secret: client.client_secret,
    });
  }

  async function assertIssued(res: Promise<JsonResponse> | JsonResponse, message = 'expected tokens'): Promise<JsonResponse> {
    const r = await res;
    assert.equal(r.status, 200, `${message}: ${r.text}`);
    assert.equal(typeof r.body.access_token, 'string', r.text);
    return r;
  }

  function rateLimitedEvents(s: TestServer): Array<Record<string, unknown>> {
    return securityEvents(s, 'rate_limited');
  }

  it('nothing is limited by default', async () => {
    const s = await start();
    for (let i = 0; i < 60; i++) await assertIssued(clientCredentials(s, i % 2 === 0 ? WEB : BACKEND), `request ${i + 1}`);
    for (let i = 0; i < 20; i++) {
      const res = await postForm(s.at('/oauth/token'), {
        grant_type: 'client_credentials',
        audience: API,
        client_id: WEB.client_id,
        client_secret: 'wrong secret 00',
      });
      assert.equal(res.status, 401, res.text);
    }
    await assertIssued(clientCredentials(s, WEB));
    assert.equal(rateLimitedEvents(s).length, 0);
  });

  describe('per tenant', () => {
    it('over the limit every client is refused (429 rate_limited, Retry-After), with one rate_limited event; the window then resets', async () => {
      const s = await start({ rate_limits: { tenant: { requests: 4, per_seconds: 60 } } });
      await assertIssued(clientCredentials(s, WEB));
      await assertIssued(clientCredentials(s, BACKEND));
      // Checked before client authentication: a request with a wrong secret spends the tenant's quota too.
      const wrong = await postForm(s.at('/oauth/token'), {
        grant_type: 'client_credentials',
        audience: API,
        client_id: WEB.client_id,
        client_secret: 'wrong secret 00',
      });
      assert.equal(wrong.status, 401, wrong.text);
      await assertIssued(clientCredentials(s, BACKEND));

      const retryAfter = assertTooMany(await clientCredentials(s, WEB), 'rate_limited');
      assert.ok(retryAfter <= 60, `Retry-After ${retryAfter} is within the window`);
      assertTooMany(await clientCredentials(s, BACKEND), 'rate_limited');
      // Refused before authentication: a wrong secret gets 429, not 401.
      assertTooMany(
        await postForm(s.at('/oauth/token'), {
          grant_type: 'client_credentials',
          audience: API,
          client_id: WEB.client_id,
          client_secret: 'wrong secret 00',
        }),
        'rate_limited',
      );
      // The password grant of any client, too.
      assertTooMany(
        await postForm(s.at('/oauth/token'), {
          grant_type: 'password',
          ...ALICE,
          client_id: WEB.client_id,
          client_secret: WEB.client_secret,
        }),
        'rate_limited',
      );

      const events = rateLimitedEvents(s);
      assert.equal(events.length, 1, JSON.stringify(events));
      assert.equal(events[0]?.reason, 'tenant');

      // Retry-After is honest: once it has passed, requests are answered again.
      s.clock.advance(retryAfter);
      await assertIssued(clientCredentials(s, WEB));
    });
  });

  describe('per client', () => {
    it("one client's limit does not touch another client", async () => {
      const s = await start({ rate_limits: { client: { requests: 3, per_seconds: 60 } } });
      for (let i = 0; i < 3; i++) await assertIssued(clientCredentials(s, WEB));
      const retryAfter = assertTooMany(await clientCredentials(s, WEB), 'rate_limited');
      assert.ok(retryAfter <= 60, `Retry-After ${retryAfter}`);

      // Every other application has its own three.
      for (let i = 0; i < 3; i++) await assertIssued(clientCredentials(s, BACKEND), `backend request ${i + 1}`);
      assertTooMany(await clientCredentials(s, BACKEND), 'rate_limited');

      const events = rateLimitedEvents(s);
      assert.deepEqual(
        events.map((e) => [e.reason, e.client_id]),
        [
          ['client', WEB.client_id],
          ['client', BACKEND.client_id],
        ],
      );
      // Still refused within the window, and no more events for it.
      assertTooMany(await clientCredentials(s, WEB), 'rate_limited');
      assert.equal(rateLimitedEvents(s).length, 2);
    });

    it("requests that fail client authentication do not spend the client's quota", async () => {
      const s = await start({ rate_limits: { client: { requests: 2, per_seconds: 60 } } });
      // Someone presenting acme-web's client_id without its secret…
      for (let i = 0; i < 5; i++) {
        const res = await postForm(s.at('/oauth/token'), {
          grant_type: 'client_credentials',
          audience: API,
          client_id: WEB.client_id,
          client_secret: 'wrong secret 00',
        });
        assert.equal(res.status, 401, res.text);
      }
      // …leaves acme-web its whole allowance.
      await assertIssued(clientCredentials(s, WEB));
      await assertIssued(clientCredentials(s, WEB));
      assertTooMany(await clientCredentials(s, WEB), 'rate_limited');
    });

    it('the window resets after it has passed', async () => {
      const s = await start({ rate_limits: { client: { requests: 2, per_seconds: 30 } } });
      await assertIssued(clientCredentials(s, WEB));
      await assertIssued(clientCredentials(s, WEB));
      const retryAfter = assertTooMany(await clientCredentials(s, WEB), 'rate_limited');
      assert.ok(retryAfter <= 30, `Retry-After ${retryAfter}`);

      // Part of the window: still refused.
      s.clock.advance(10);
      assertTooMany(await clientCredentials(s, WEB), 'rate_limited');
      // After the window: a fresh allowance, then refused again (and reported again).
      s.clock.advance(21);
      await assertIssued(clientCredentials(s, WEB));
      await assertIssued(clientCredentials(s, WEB));
      assertTooMany(await clientCredentials(s, WEB), 'rate_limited');
      assert.equal(rateLimitedEvents(s).length, 2);
    });

    it("an application's rate_limit wins over rate_limits.client, whether lower or higher", async () => {
      const STRICT = { client_id: 'acme-strict', client_secret: 'strict secret 1' };
      const GENEROUS = { client_id: 'acme-generous', client_secret: 'generous secret 1' };
      const s = await start({ rate_limits: { client: { requests: 3, per_seconds: 60 } } }, [
        {
          ...STRICT,
          token_endpoint_auth_method: 'client_secret_post',
          grant_types: ['client_credentials'],
          rate_limit: { requests: 1, per_seconds: 60 },
        },
        {
          ...GENEROUS,
          token_endpoint_auth_method: 'client_secret_post',
          grant_types: ['client_credentials'],
          rate_limit: { requests: 6, per_seconds: 60 },
        },
      ]);
      await assertIssued(clientCredentials(s, STRICT));
      assertTooMany(await clientCredentials(s, STRICT), 'rate_limited');

      for (let i = 0; i < 6; i++) await assertIssued(clientCredentials(s, GENEROUS), `generous request ${i + 1}`);
      assertTooMany(await clientCredentials(s, GENEROUS), 'rate_limited');

      // Applications without their own keep the tenant's per-client limit.
      for (let i = 0; i < 3; i++) await assertIssued(clientCredentials(s, WEB));
      assertTooMany(await clientCredentials(s, WEB), 'rate_limited');

      assert.deepEqual(
        rateLimitedEvents(s).map((e) => [e.client_id, (e.details as Record<string, unknown> | undefined)?.limit]),
        [
          [STRICT.client_id, 1],
          [GENEROUS.client_id, 6],
          [WEB.client_id, 3],
        ],
      );
    });
  });

  describe('every grant counts', () => {
    it('refresh_token requests are limited', async () => {
      const s = await start({ rate_limits: { client: { requests: 3, per_seconds: 60 } } });
      const first = await assertIssued(
        postForm(s.at('/oauth/token'), {
          grant_type: 'password',
          ...ALICE,
          audience: API,
          scope: 'offline_access',
          client_id: WEB.client_id,
          client_secret: WEB.client_secret,
        }),
      );
      let refreshToken = String(first.body.refresh_token);
      assert.ok(first.body.refresh_token, first.text);
      const refresh = () =>
        postForm(s.at('/oauth/token'), {
          grant_type: 'refresh_token',
          refresh_token: refreshToken,
          client_id: WEB.client_id,
          client_secret: WEB.client_secret,
        });
      for (let i = 0; i < 2; i++) {
        const res = await assertIssued(refresh(), `refresh ${i + 1}`);
        if (typeof res.body.refresh_token === 'string') refreshToken = res.body.refresh_token;
      }
      assertTooMany(await refresh(), 'rate_limited');
      // Refreshing is refused, not the token revoked: after the window it works.
      s.clock.advance(61);
      await assertIssued(refresh());
    });

    it('client_credentials requests are limited, with client_secret_basic too', async () => {
      const s = await start({ rate_limits: { client: { requests: 2, per_seconds: 60 } } });
      const viaBasic = () =>
        postForm(
          s.at('/oauth/token'),
          { grant_type: 'client_credentials', audience: API },
          basicAuth(BASIC.client_id, BASIC.client_secret),
        );
      await assertIssued(viaBasic());
      await assertIssued(viaBasic());
      assertTooMany(await viaBasic(), 'rate_limited');
      // Another basic client (PING has only password and refresh_token) has its own quota.
      const ping = await postForm(
        s.at('/oauth/token'),
        { grant_type: 'password', ...ALICE },
        basicAuth(PING.client_id, PING.client_secret),
      );
      assert.equal(ping.status, 200, ping.text);
    });

    it('the tenant limit covers every grant together', async () => {
      const s = await start({ rate_limits: { tenant: { requests: 3, per_seconds: 60 } } });
      const pw = await assertIssued(
        postForm(s.at('/oauth/token'), {
          grant_type: 'password',
          ...ALICE,
          audience: API,
          scope: 'offline_access',
          client_id: WEB.client_id,
          client_secret: WEB.client_secret,
        }),
      );
      await assertIssued(clientCredentials(s, BACKEND));
      await assertIssued(
        postForm(s.at('/oauth/token'), {
          grant_type: 'refresh_token',
          refresh_token: String(pw.body.refresh_token),
          client_id: WEB.client_id,
          client_secret: WEB.client_secret,
        }),
      );
      assertTooMany(await clientCredentials(s, BACKEND), 'rate_limited');
      assertTooMany(
        await postForm(s.at('/oauth/token'), {
          grant_type: 'refresh_token',
          refresh_token: String(pw.body.refresh_token),
          client_id: WEB.client_id,
          client_secret: WEB.client_secret,
        }),
        'rate_limited',
      );
    });
  });
});
