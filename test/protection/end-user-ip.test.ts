/**
 * Which IP address counts as the end user's (src/protection/end-user-ip.ts):
 * the TCP peer by default; X-Forwarded-For only through trusted_proxies; the
 * tenant's forwarded-for header only from an authenticated confidential
 * client with trust_forwarded_for: true. Shown through what the IP decides:
 * the suspicious-IP throttle (per_day small) and the per-identifier-and-IP
 * lock, plus the `ip` the security events record.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ALICE, JOE, NATIVE, WEB } from '../helpers/fixtures.js';
import type { JsonResponse } from '../helpers/http.js';
import {
  BACKEND,
  UNTRUSTED_BACKEND,
  acmeWith,
  assertNotThrottled,
  assertTooMany,
  failedLogin,
  failureIps,
  freshUsername,
  ignoredForwardWarnings,
  passwordAttempt,
  type Client,
} from '../helpers/ip-throttle.js';
import type { TenantInput } from '../helpers/server.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const PER_DAY = 3;
const FORWARDED = 'auth0-forwarded-for';

describe('end-user IP', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(extra: Partial<TenantInput> = {}, attackProtection: Record<string, unknown> = {}): Promise<TestServer> {
    server = await startTestServer({
      tenants: [await acmeWith({ attack_protection: { suspicious_ip: { per_day: PER_DAY }, ...attackProtection }, ...extra })],
    });
    return server;
  }

  /** A password attempt under a fresh username with a wrong password: judged, or refused by a throttle. */
  function wrongAttempt(s: TestServer, client: Client, headers: Record<string, string> = {}, from?: string): Promise<JsonResponse> {
    return passwordAttempt(s, client, { username: freshUsername(), password: 'wrong password 9' }, headers, from);
  }

  describe('the tenant forwarded-for header', () => {
    it("a trusted backend's header decides the IP: one forwarded IP is throttled, another is not", async () => {
      const s = await start();
      for (let i = 0; i < PER_DAY; i++) await failedLogin(s, BACKEND, { [FORWARDED]: '198.51.100.1' });
      assert.deepEqual(failureIps(s), Array(PER_DAY).fill('198.51.100.1'));

      assertTooMany(await passwordAttempt(s, BACKEND, ALICE, { [FORWARDED]: '198.51.100.1' }), 'ip_blocked');
      // Another end user behind the same backend (same TCP peer) is unaffected…
      const other = await passwordAttempt(s, BACKEND, ALICE, { [FORWARDED]: '198.51.100.2' });
      assert.equal(other.status, 200, other.text);
      // …and so is the backend's own address when it sends none, and any other client from 127.0.0.1.
      assert.equal((await passwordAttempt(s, BACKEND, JOE)).status, 200);
      assert.equal((await passwordAttempt(s, WEB, JOE)).status, 200);
      assert.equal(ignoredForwardWarnings(s).length, 0);
    });

    it("a trusted backend's header decides the per-identifier lock too", async () => {
      const s = await start({}, { suspicious_ip: { enabled: false }, brute_force: { threshold: 3, same_password_window_seconds: 0 } });
      for (let i = 0; i < 3; i++) {
        const res = await passwordAttempt(
          s,
          BACKEND,
          { username: ALICE.username, password: `wrong ${i}` },
          { [FORWARDED]: '198.51.100.9' },
        );
        assert.equal(res.body.error, 'invalid_grant', res.text);
      }
      // Alice from that IP is locked, even with her password; Alice from another forwarded IP is not.
      assertTooMany(await passwordAttempt(s, BACKEND, ALICE, { [FORWARDED]: '198.51.100.9' }), 'user_blocked');
      const elsewhere = await passwordAttempt(s, BACKEND, ALICE, { [FORWARDED]: '198.51.100.10' });
      assert.equal(elsewhere.status, 200, elsewhere.text);
    });

    it("an untrusted confidential client's header is ignored (127.0.0.1 counts), with one warning a minute naming the client", async () => {
      const s = await start();
      // A fresh forwarded IP for each guess: were it honoured, the IP would never be throttled.
      for (let i = 0; i < PER_DAY; i++) await failedLogin(s, UNTRUSTED_BACKEND, { [FORWARDED]: `198.51.100.${10 + i}` });
      assert.deepEqual(failureIps(s), Array(PER_DAY).fill('127.0.0.1'));
      assertTooMany(await wrongAttempt(s, UNTRUSTED_BACKEND, { [FORWARDED]: '198.51.100.99' }), 'ip_blocked');
      // The same peer is throttled for everyone else from it.
      assertTooMany(await passwordAttempt(s, WEB, ALICE), 'ip_blocked');

      const warnings = ignoredForwardWarnings(s);
      assert.equal(warnings.length, 1, `one warning a minute per client: ${JSON.stringify(warnings)}`);
      assert.equal(warnings[0]?.client_id, UNTRUSTED_BACKEND.client_id);
      assert.equal(warnings[0]?.reason, 'client_not_trusted');
      assert.equal(warnings[0]?.level, 'warn');

      // A minute later the next ignored header is warned about again; another client gets its own warning.
      s.clock.advance(61);
      await wrongAttempt(s, UNTRUSTED_BACKEND, { [FORWARDED]: '198.51.100.98' });
      await wrongAttempt(s, WEB, { [FORWARDED]: '198.51.100.97' });
      assert.deepEqual(
        ignoredForwardWarnings(s).map((w) => w.client_id),
        [UNTRUSTED_BACKEND.client_id, UNTRUSTED_BACKEND.client_id, WEB.client_id],
      );
    });

    it("a public client's header is ignored, whatever it holds", async () => {
      const s = await start();
      for (let i = 0; i < PER_DAY; i++) await failedLogin(s, NATIVE, { [FORWARDED]: `198.51.100.${20 + i}` });
      assert.deepEqual(failureIps(s), Array(PER_DAY).fill('127.0.0.1'));
      assertTooMany(await wrongAttempt(s, NATIVE, { [FORWARDED]: '198.51.100.90' }), 'ip_blocked');
      // Not even judged: a malformed value from a client that may not send it is just ignored.
      assertTooMany(await wrongAttempt(s, NATIVE, { [FORWARDED]: 'not an ip' }), 'ip_blocked');

      const warnings = ignoredForwardWarnings(s);
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.equal(warnings[0]?.client_id, NATIVE.client_id);
      assert.equal(warnings[0]?.reason, 'public_client');
    });

    it('a malformed value from a trusted backend is 400 invalid_request, and counts nothing', async () => {
      const s = await start();
      for (const value of ['not-an-ip', '198.51.100.1, 198.51.100.2', '999.1.1.1', '198.51.100.0/24', '', '2001:db8::g']) {
        const res = await wrongAttempt(s, BACKEND, { [FORWARDED]: value });
        assert.equal(res.status, 400, `${JSON.stringify(value)}: ${res.text}`);
        assert.equal(res.body.error, 'invalid_request', `${JSON.stringify(value)}: ${res.text}`);
      }
      // The right password with a malformed value is refused too: no tokens under a made-up IP.
      const correct = await passwordAttempt(s, BACKEND, ALICE, { [FORWARDED]: 'garbage' });
      assert.equal(correct.body.error, 'invalid_request', correct.text);
      // None of those counted against the peer: it still has its whole allowance.
      for (let i = 0; i < PER_DAY; i++) await failedLogin(s, WEB);
      assertTooMany(await wrongAttempt(s, WEB), 'ip_blocked');
    });

    it('a custom forwarded_for_header is honoured, and the default name is then ignored', async () => {
      const s = await start({}, { forwarded_for_header: 'X-End-User-IP' });
      // The default header from the trusted backend: now just a header, so the peer counts.
      for (let i = 0; i < PER_DAY; i++) await failedLogin(s, BACKEND, { [FORWARDED]: `198.51.100.${30 + i}` });
      assert.deepEqual(failureIps(s), Array(PER_DAY).fill('127.0.0.1'));
      assertTooMany(await passwordAttempt(s, BACKEND, ALICE, { [FORWARDED]: '198.51.100.40' }), 'ip_blocked');

      // The configured header (any case on the wire) names the end user's IP.
      const ok = await passwordAttempt(s, BACKEND, ALICE, { 'x-end-user-ip': '198.51.100.41' });
      assert.equal(ok.status, 200, ok.text);
      await failedLogin(s, BACKEND, { 'X-End-User-IP': '198.51.100.42' });
      assert.equal(failureIps(s).at(-1), '198.51.100.42');
      // And it is the one checked for malformed values.
      assert.equal((await wrongAttempt(s, BACKEND, { 'x-end-user-ip': 'nope' })).body.error, 'invalid_request');
    });
  });

  describe('X-Forwarded-For', () => {
    it('is ignored without trusted_proxies', async () => {
      const s = await start();
      for (let i = 0; i < PER_DAY; i++) await failedLogin(s, WEB, { 'x-forwarded-for': `198.51.100.${50 + i}` });
      assert.deepEqual(failureIps(s), Array(PER_DAY).fill('127.0.0.1'));
      assertTooMany(await passwordAttempt(s, WEB, ALICE, { 'x-forwarded-for': '198.51.100.59' }), 'ip_blocked');
    });

    it("is honoured from a trusted proxy, walked from the right: the client's own entries cannot pick the IP", async () => {
      const s = await start({ trusted_proxies: ['127.0.0.1/32'] });
      for (let i = 0; i < PER_DAY; i++) await failedLogin(s, WEB, { 'x-forwarded-for': '198.51.100.60' });
      assert.deepEqual(failureIps(s), Array(PER_DAY).fill('198.51.100.60'));
      assertTooMany(await passwordAttempt(s, WEB, ALICE, { 'x-forwarded-for': '198.51.100.60' }), 'ip_blocked');
      // Another client of the proxy is another IP.
      assert.equal((await passwordAttempt(s, WEB, ALICE, { 'x-forwarded-for': '198.51.100.61' })).status, 200);
      // Entries the end user wrote left of the proxy's own do not change who it is.
      assertTooMany(await passwordAttempt(s, WEB, ALICE, { 'x-forwarded-for': '203.0.113.1, 198.51.100.60' }), 'ip_blocked');
      // A trusted hop in the chain is walked through.
      assertTooMany(await passwordAttempt(s, WEB, ALICE, { 'x-forwarded-for': '198.51.100.60, 127.0.0.1' }), 'ip_blocked');
      // Without the header the proxy's own address counts, and it is not throttled.
      assert.equal((await passwordAttempt(s, WEB, JOE)).status, 200);
    });

    it('is ignored from a peer outside trusted_proxies', async () => {
      const s = await start({ trusted_proxies: ['127.0.0.1/32'] });
      // 127.0.0.2 is not a trusted proxy: whatever it forwards, 127.0.0.2 counts.
      for (let i = 0; i < PER_DAY; i++) await failedLogin(s, WEB, { 'x-forwarded-for': `198.51.100.${70 + i}` }, '127.0.0.2');
      assert.deepEqual(failureIps(s), Array(PER_DAY).fill('127.0.0.2'));
      assertTooMany(await passwordAttempt(s, WEB, ALICE, { 'x-forwarded-for': '198.51.100.79' }, '127.0.0.2'), 'ip_blocked');
      // The forwarded IPs it named were never charged.
      assert.equal((await passwordAttempt(s, WEB, ALICE, { 'x-forwarded-for': '198.51.100.70' })).status, 200);
    });

    it("the trusted backend's header wins over X-Forwarded-For", async () => {
      const s = await start({ trusted_proxies: ['127.0.0.1/32'] });
      await failedLogin(s, BACKEND, { 'x-forwarded-for': '198.51.100.80', [FORWARDED]: '198.51.100.81' });
      assert.deepEqual(failureIps(s), ['198.51.100.81']);
    });
  });

  describe('IPv6 and IPv4-mapped forms', () => {
    it('two addresses in one IPv6 /64 share a counter; another /64 does not', async () => {
      const s = await start();
      const sameNet = ['2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:fffe', '2001:0db8:0001:0002:0000:0000:0000:0abc'];
      for (const ip of sameNet) await failedLogin(s, BACKEND, { [FORWARDED]: ip });
      // The full address is recorded, canonical; the count is the /64's.
      assert.deepEqual(failureIps(s), ['2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:fffe', '2001:db8:1:2::abc']);
      assertTooMany(await passwordAttempt(s, BACKEND, ALICE, { [FORWARDED]: '2001:db8:1:2:abcd::99' }), 'ip_blocked');

      const otherNet = await passwordAttempt(s, BACKEND, ALICE, { [FORWARDED]: '2001:db8:1:3::1' });
      assert.equal(otherNet.status, 200, otherNet.text);
    });

    it('an IPv4-mapped IPv6 address is the IPv4 address', async () => {
      const s = await start({}, { allowlist: ['192.0.2.0/24'] });
      await failedLogin(s, BACKEND, { [FORWARDED]: '::ffff:198.51.100.90' });
      await failedLogin(s, BACKEND, { [FORWARDED]: '198.51.100.90' });
      await failedLogin(s, BACKEND, { [FORWARDED]: '::FFFF:c633:645a' });
      assert.deepEqual(failureIps(s), Array(PER_DAY).fill('198.51.100.90'));
      assertTooMany(await passwordAttempt(s, BACKEND, ALICE, { [FORWARDED]: '198.51.100.90' }), 'ip_blocked');
      assertTooMany(await passwordAttempt(s, BACKEND, ALICE, { [FORWARDED]: '::ffff:198.51.100.90' }), 'ip_blocked');
      // An IPv4 allowlist entry covers the mapped form too.
      for (let i = 0; i < PER_DAY + 2; i++) await failedLogin(s, BACKEND, { [FORWARDED]: '::ffff:192.0.2.7' });
      assertNotThrottled(await passwordAttempt(s, BACKEND, ALICE, { [FORWARDED]: '192.0.2.7' }));
    });

    it('X-Forwarded-For takes IPv6 too, keyed by /64', async () => {
      const s = await start({ trusted_proxies: ['127.0.0.0/8', '::1/128'] });
      for (let i = 0; i < PER_DAY; i++) await failedLogin(s, WEB, { 'x-forwarded-for': `2001:db8:aa:bb::${i + 1}` });
      assertTooMany(await passwordAttempt(s, WEB, ALICE, { 'x-forwarded-for': '2001:db8:aa:bb::ffff' }), 'ip_blocked');
      assert.equal((await passwordAttempt(s, WEB, ALICE, { 'x-forwarded-for': '2001:db8:aa:bc::1' })).status, 200);
    });
  });
});
