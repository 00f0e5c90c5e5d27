/**
 * Issue #11 point 4 (security report M3): the per-IP budget of failed
 * password checks (attack_protection.suspicious_ip.failed_checks_per_hour,
 * default 300). Smart counting lets the same wrong password repeated for a
 * name count once towards the locks, but each repeat is still hashed; so
 * every failed check from an end-user IP, repeats included, spends this
 * budget, refilling gradually over an hour, and beyond it every password
 * attempt from that IP is refused before hashing with 429 too_many_attempts
 * / ip_blocked and Retry-After. Allowlisted IPs are exempt; successes do not
 * count; other IPs are unaffected.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ALICE, JOE, WEB } from '../helpers/fixtures.js';
import type { JsonResponse } from '../helpers/http.js';
import { BACKEND, acmeWith, assertTooMany, passwordAttempt, securityEvents } from '../helpers/ip-throttle.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const REPEATED = 'the same wrong password, again and again';
/** A few names that may or may not exist: the attack needs none of them to. */
const NAMES = ['victim-a@acme.test', 'victim-b@acme.test', JOE.username];

describe('the per-IP budget of failed password checks', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(attackProtection: Record<string, unknown> = {}): Promise<TestServer> {
    server = await startTestServer({ tenants: [await acmeWith({ attack_protection: attackProtection })] });
    return server;
  }

  /** Repeats the one wrong password over NAMES, `parallel` at a time, until a 429 or `max` attempts; returns the answers. */
  async function repeatUntilRefused(
    s: TestServer,
    max: number,
    parallel: number,
    headers: Record<string, string> = {},
  ): Promise<JsonResponse[]> {
    const client = headers['auth0-forwarded-for'] === undefined ? WEB : BACKEND;
    const answers: JsonResponse[] = [];
    while (answers.length < max && !answers.some((r) => r.status === 429)) {
      const batch = Array.from({ length: Math.min(parallel, max - answers.length) }, (_, i) =>
        passwordAttempt(s, client, { username: NAMES[(answers.length + i) % NAMES.length]!, password: REPEATED }, headers),
      );
      answers.push(...(await Promise.all(batch)));
    }
    return answers;
  }

  const judged = (answers: JsonResponse[]): number => answers.filter((r) => r.status === 400 && r.body.error === 'invalid_grant').length;

  /** 10 minutes into an hour of the test clock: the budget's windows are aligned hours, and no test here may straddle two. */
  function tenPastTheHour(s: TestServer): void {
    const now = s.clock.now().getTime();
    s.clock.advance((Math.ceil(now / 3_600_000) * 3_600_000 + 600_000 - now) / 1000);
  }

  it('regression (issue #11 point 4): one IP repeating the same wrong password for a few names gets 429 once its 300 failed checks an hour are spent', async () => {
    const s = await start();
    tenPastTheHour(s);
    // Default settings. Before the fix each repeat counted nowhere: 1,164 checks in 8 s and never a 429.
    const answers = await repeatUntilRefused(s, 330, 5);
    assert.equal(
      judged(answers),
      300,
      `exactly the default budget is checked: ${answers.length} answers, the last ${answers.at(-1)?.text}`,
    );
    const retryAfter = assertTooMany(answers.at(-1)!, 'ip_blocked');
    assert.ok(retryAfter <= 3600, `Retry-After within the hour's refill, got ${retryAfter}`);
    assert.match(String(answers.at(-1)!.body.error_description), /password checks from this IP address in the last hour/);
    for (const res of answers) assert.ok(res.status === 400 || res.status === 429, res.text);

    // The right password from that IP waits too (refused before hashing); another IP signs in.
    assertTooMany(await passwordAttempt(s, WEB, ALICE), 'ip_blocked');
    const elsewhere = await passwordAttempt(s, WEB, ALICE, {}, '127.0.0.2');
    assert.equal(elsewhere.status, 200, elsewhere.text);
    assert.equal(
      securityEvents(s, 'ip_throttled').filter((e) => e.reason === 'ip_check_budget').length,
      1,
      'one ip_throttled event, reason ip_check_budget',
    );
  });

  it('the budget refills gradually over the hour (Retry-After is when one more check fits); successes do not spend it; allowlisted IPs are exempt', async () => {
    const s = await start({ suspicious_ip: { failed_checks_per_hour: 6 }, allowlist: ['203.0.113.0/24'] });
    tenPastTheHour(s);

    for (let i = 0; i < 5; i++) assert.equal((await passwordAttempt(s, WEB, ALICE)).status, 200, 'successes spend nothing');
    const answers = await repeatUntilRefused(s, 20, 1);
    assert.equal(judged(answers), 6, answers.map((r) => r.status).join(','));
    const retryAfter = assertTooMany(answers.at(-1)!, 'ip_blocked');
    // Six failures in the window, none before: room for one more once a sixth of the next hour has passed, an hour
    // after 10 past (less the real seconds the attempts took: the test clock runs on from real time).
    assert.ok(retryAfter <= 3600 && retryAfter >= 3590, `Retry-After ${retryAfter}`);

    // Another end-user IP (forwarded by a trusted backend) has its own budget; an allowlisted one has none.
    const other = { 'auth0-forwarded-for': '198.51.100.20' };
    assert.equal(judged(await repeatUntilRefused(s, 20, 1, other)), 6);
    const allowlisted = { 'auth0-forwarded-for': '203.0.113.5' };
    assert.equal(judged(await repeatUntilRefused(s, 20, 1, allowlisted)), 20, 'an allowlisted IP is never throttled');

    s.clock.advance(retryAfter - 60);
    assertTooMany(await passwordAttempt(s, WEB, { username: NAMES[0]!, password: REPEATED }), 'ip_blocked');
    s.clock.advance(60);
    const refilled = await repeatUntilRefused(s, 20, 1);
    assert.equal(judged(refilled), 1, 'one check fits again, then the IP waits for more of the window to pass');
  });
});
