/**
 * Suspicious-IP throttling (attack_protection.suspicious_ip): failed logins
 * per end-user IP across every identifier of a tenant, per day, refilling
 * gradually; over the limit every password attempt from that IP is refused
 * with 429 too_many_attempts / ip_blocked and Retry-After, before the
 * password is checked. Allowlisted IPs are exempt; successes do not count.
 *
 * Every attempt uses a fresh username, so the per-identifier brute-force
 * lock never plays a part.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ALICE, JOE, NATIVE, WEB } from '../helpers/fixtures.js';
import {
  BACKEND,
  acmeWith,
  advanceToNextDay,
  assertTooMany,
  failedLogin,
  freshUsername,
  passwordAttempt,
  securityEvents,
} from '../helpers/ip-throttle.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const PER_DAY = 5;

describe('suspicious-IP throttling', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(attackProtection: Record<string, unknown> = {}): Promise<TestServer> {
    server = await startTestServer({
      tenants: [await acmeWith({ attack_protection: { suspicious_ip: { per_day: PER_DAY }, ...attackProtection } })],
    });
    return server;
  }

  /** Counts password attempts from this origin that get past the throttle, failing each under a fresh username, until the first 429 (at most `max`). */
  async function failuresBeforeBlock(s: TestServer, max: number, headers: Record<string, string> = {}, from?: string): Promise<number> {
    // Forwarded IPs only count from the trusted backend.
    const client = headers['auth0-forwarded-for'] === undefined ? WEB : BACKEND;
    for (let n = 0; n < max; n++) {
      const res = await passwordAttempt(s, client, { username: freshUsername(), password: 'wrong password 1' }, headers, from);
      if (res.status === 429) {
        assertTooMany(res, 'ip_blocked');
        return n;
      }
      assert.equal(res.body.error, 'invalid_grant', res.text);
    }
    return max;
  }

  it('after per_day failures across different usernames, the IP is blocked (429 ip_blocked, Retry-After), even for a correct user', async () => {
    const s = await start();
    for (let i = 0; i < PER_DAY; i++) await failedLogin(s, i % 2 === 0 ? WEB : NATIVE);

    // A new unknown username, from another client: the IP is throttled across identifiers and clients.
    assertTooMany(await passwordAttempt(s, NATIVE, { username: freshUsername(), password: 'wrong password 2' }), 'ip_blocked');
    // The right password of a real user is refused too, before it is checked.
    const correct = await passwordAttempt(s, WEB, ALICE);
    assertTooMany(correct, 'ip_blocked');
    assert.equal(correct.body.access_token, undefined);
  });

  it('another IP is unaffected by a blocked one', async () => {
    const s = await start();
    for (let i = 0; i < PER_DAY; i++) await failedLogin(s, WEB);
    assertTooMany(await passwordAttempt(s, WEB, ALICE), 'ip_blocked');

    // Another TCP peer (127.0.0.2) signs in and fails on its own count.
    const other = await passwordAttempt(s, WEB, ALICE, {}, '127.0.0.2');
    assert.equal(other.status, 200, other.text);
    assert.equal(await failuresBeforeBlock(s, PER_DAY + 2, {}, '127.0.0.2'), PER_DAY);
    // And an end-user IP forwarded by a trusted backend is another IP as well.
    const forwarded = await passwordAttempt(s, BACKEND, JOE, { 'auth0-forwarded-for': '198.51.100.20' });
    assert.equal(forwarded.status, 200, forwarded.text);
    // 127.0.0.1 is still blocked.
    assertTooMany(await passwordAttempt(s, WEB, JOE), 'ip_blocked');
  });

  it('an allowlisted IP is never throttled; the allowlist is not a blanket exemption', async () => {
    const s = await start({ allowlist: ['127.0.0.1/32', '203.0.113.0/24'] });
    for (let i = 0; i < PER_DAY * 3; i++) await failedLogin(s, WEB);
    const ok = await passwordAttempt(s, WEB, ALICE);
    assert.equal(ok.status, 200, ok.text);

    // A forwarded IP inside an allowlisted CIDR is exempt; one outside it is throttled.
    for (let i = 0; i < PER_DAY * 2; i++) await failedLogin(s, BACKEND, { 'auth0-forwarded-for': '203.0.113.77' });
    assert.equal((await passwordAttempt(s, BACKEND, ALICE, { 'auth0-forwarded-for': '203.0.113.77' })).status, 200);
    assert.equal(await failuresBeforeBlock(s, PER_DAY + 2, { 'auth0-forwarded-for': '198.51.100.30' }), PER_DAY);
    assert.equal(securityEvents(s, 'ip_throttled').filter((e) => e.ip === '127.0.0.1' || e.ip === '203.0.113.77').length, 0);
  });

  it('a successful login does not count', async () => {
    const s = await start();
    for (let i = 0; i < PER_DAY - 1; i++) await failedLogin(s, WEB);
    // Many successes at one failure below the limit: none of them spends it.
    for (let i = 0; i < PER_DAY * 2; i++) {
      const ok = await passwordAttempt(s, WEB, i % 2 === 0 ? ALICE : JOE);
      assert.equal(ok.status, 200, ok.text);
    }
    // Exactly one failure is still allowed, then the IP is blocked.
    await failedLogin(s, WEB);
    assertTooMany(await passwordAttempt(s, WEB, ALICE), 'ip_blocked');
  });

  it('the window refills gradually: part of a day brings back some attempts, two days all', async () => {
    const s = await start();
    // Day D, 01:00 UTC: use up the day.
    advanceToNextDay(s, 1);
    assert.equal(await failuresBeforeBlock(s, PER_DAY + 2), PER_DAY);

    // Still blocked a few hours later the same day.
    s.clock.advance(6 * 3600);
    assertTooMany(await passwordAttempt(s, WEB, ALICE), 'ip_blocked');

    // Day D+1, 12:00 UTC: half of yesterday's failures still weigh, so some attempts are back, not all.
    s.clock.advance(29 * 3600);
    const back = await failuresBeforeBlock(s, PER_DAY + 2);
    assert.ok(back > 0 && back < PER_DAY, `expected some but not all of ${PER_DAY} attempts back, got ${back}`);
    // With a linear refill: 5 × ½ still weigh, so 2 fit (2.5 + 2 ≤ 5 < 2.5 + 3).
    assert.equal(back, 2);

    // Two days later nothing of either day weighs: all of per_day is back.
    s.clock.advance(2 * 86_400);
    assert.equal(await failuresBeforeBlock(s, PER_DAY + 2), PER_DAY);
  });

  it('Retry-After says when an attempt fits again', async () => {
    const s = await start();
    advanceToNextDay(s, 1);
    for (let i = 0; i < PER_DAY; i++) await failedLogin(s, WEB);
    const retryAfter = assertTooMany(await passwordAttempt(s, WEB, ALICE), 'ip_blocked');
    // Blocked until most of tomorrow's refill is in, so well past the end of today.
    assert.ok(retryAfter > 23 * 3600, `Retry-After ${retryAfter}`);

    // Ten minutes early: still blocked (the refused attempt above counted nothing).
    s.clock.advance(retryAfter - 600);
    assertTooMany(await passwordAttempt(s, WEB, ALICE), 'ip_blocked');
    // When Retry-After has passed: the right password gets through.
    s.clock.advance(600);
    const ok = await passwordAttempt(s, WEB, ALICE);
    assert.equal(ok.status, 200, ok.text);
  });

  it('a burst of refused attempts logs one ip_throttled event', async () => {
    const s = await start();
    for (let i = 0; i < PER_DAY; i++) await failedLogin(s, WEB);
    assert.equal(securityEvents(s, 'ip_throttled').length, 0, 'nothing is throttled at the limit itself');

    // Sequential refusals, then a parallel burst.
    for (let i = 0; i < 4; i++)
      assertTooMany(await passwordAttempt(s, WEB, { username: freshUsername(), password: 'wrong password 3' }), 'ip_blocked');
    const burst = await Promise.all(
      Array.from({ length: 6 }, () => passwordAttempt(s, NATIVE, { username: freshUsername(), password: 'wrong password 4' })),
    );
    for (const res of burst) assertTooMany(res, 'ip_blocked');

    const events = securityEvents(s, 'ip_throttled');
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(events[0]?.ip, '127.0.0.1');
    assert.equal(events[0]?.reason, 'ip_blocked');
    // Every refusal is still visible as login_blocked.
    assert.equal(securityEvents(s, 'login_blocked').filter((e) => e.reason === 'ip_blocked').length, 10);
  });
});
