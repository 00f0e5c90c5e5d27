/**
 * Issue #11 point 6 (security report M5): the backstop (attack_protection.
 * backstop: `threshold` consecutive failures for a login name from all IPs)
 * must not let anyone lock a known name out for 30 days with 110 requests.
 *
 * - IPs where the name signed in within the last 30 days pass the backstop
 *   (never the per-IP lock); new places are paused;
 * - the pause starts at backstop.block_seconds (default 900 s, at most an
 *   hour by default) and doubles with each repeat, up to
 *   backstop.max_block_seconds (default 24 h); the repeat count is forgotten
 *   a max_block_seconds after a block ends, or by `latchkey users unblock`;
 * - the refusal is 429 too_many_attempts / new_locations_paused with a
 *   message saying what it is, and the same for names no user has.
 *
 * NIST SP 800-63B §5.2.2: limit consecutive failed attempts while reducing
 * the lockout of legitimate users. End-user IPs come from a trusted backend's
 * auth0-forwarded-for header; time passes only through server.clock.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/load.js';
import { runCli, writeYamlConfig } from '../helpers/cli-process.js';
import { configProblems } from '../helpers/config-problems.js';
import { ALICE } from '../helpers/fixtures.js';
import type { JsonResponse } from '../helpers/http.js';
import {
  BACKEND,
  acmeWith,
  assertSignedIn,
  assertTooMany,
  assertWrongPassword,
  passwordAttempt,
  securityEvents,
} from '../helpers/ip-throttle.js';
import { get } from '../helpers/http.js';
import { TEST_REDIS_URL, openReadyRedis, redisSkip, scanKeys, waitUntil } from '../helpers/redis.js';
import { TEST_MASTER_KEY, startTestServer, type TenantInput, type TestServer } from '../helpers/server.js';

/** Where alice signed in before the attack. */
const HOME = '198.51.100.10';
/** A place that never signed in as anyone. */
const NEW_PLACE = '192.0.2.50';
const UNKNOWN = { username: 'nobody-by-that-name@acme.test', password: 'whatever it is' };

let guesses = 0;
/** A wrong password never sent before, so each failure counts (a repeat would count once). */
const freshGuess = (): string => `wrong guess ${++guesses} ${Math.random().toString(36).slice(2)}`;

const from = (ip: string): Record<string, string> => ({ 'auth0-forwarded-for': ip });

function attempt(server: TestServer, user: { username: string; password: string }, ip: string): Promise<JsonResponse> {
  return passwordAttempt(server, BACKEND, user, from(ip));
}

/** `count` failures for the name, each from its own fresh IP (so no per-IP lock plays a part); returns the next unused IP index. */
async function failFromFreshIps(server: TestServer, username: string, count: number, firstIp: number): Promise<number> {
  for (let i = 0; i < count; i++) {
    const ip = firstIp + i;
    assertWrongPassword(
      await attempt(server, { username, password: freshGuess() }, `203.0.${Math.floor(ip / 250)}.${(ip % 250) + 1}`),
      `failure ${i + 1} of ${count}`,
    );
  }
  return firstIp + count;
}

describe('the backstop pauses new places, briefly, escalating', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(attackProtection?: TenantInput['attack_protection'], dir?: string): Promise<TestServer> {
    server = await startTestServer({
      tenants: [await acmeWith(attackProtection === undefined ? {} : { attack_protection: attackProtection })],
      ...(dir === undefined ? {} : { dir }),
    });
    return server;
  }

  it('regression (issue #11 point 6): 110 failures from 10 IPs lock the name for new IPs, but the IP where the user signed in before still signs in with the right password', async () => {
    const s = await start();
    assertSignedIn(await attempt(s, ALICE, HOME), 'alice at home, before the attack');

    // The report's attack, with the default settings: 10 IPs × 11 distinct wrong passwords, 2.5 s of work.
    let judged = 0;
    for (let ip = 1; ip <= 10; ip++) {
      for (let i = 0; i < 11; i++) {
        const res = await attempt(s, { username: ALICE.username, password: freshGuess() }, `203.0.113.${ip}`);
        if (res.status === 400) judged++;
        else assertTooMany(res, 'user_blocked'); // the 11th from each IP: that IP's own lock
      }
    }
    assert.equal(judged, 100, 'the backstop threshold (100) of failures reached the password check');

    assertSignedIn(await attempt(s, ALICE, HOME), 'alice at home, with the right password, during the pause');
    // Her sign-in at home neither lifted nor reset the pause for everyone else.
    const paused = await attempt(s, ALICE, NEW_PLACE);
    const retryAfter = assertTooMany(paused, 'new_locations_paused');
    assert.ok(retryAfter <= 3600, `the first block lasts at most an hour (default 15 min), got Retry-After ${retryAfter}`);
    assert.ok(retryAfter > 800, `about backstop.block_seconds (900), got ${retryAfter}`);

    // The pause is not a per-IP lock of home: home still gets its own after its own 10 failures.
    for (let i = 0; i < 10; i++)
      assertWrongPassword(await attempt(s, { username: ALICE.username, password: freshGuess() }, HOME), `home's failure ${i + 1}`);
    assertTooMany(await attempt(s, ALICE, HOME), 'user_blocked');
    assertTooMany(await attempt(s, ALICE, NEW_PLACE), 'new_locations_paused');

    const pausedEvents = securityEvents(s, 'login_blocked').filter((e) => e.reason === 'backstop');
    assert.ok(pausedEvents.length >= 2, 'each refusal is a login_blocked event with reason backstop');
    const passed = securityEvents(s, 'login_success').filter(
      (e) => e.ip === HOME && (e.details as Record<string, unknown> | undefined)?.backstop_in_force === true,
    );
    assert.equal(passed.length, 1, 'the home sign-in during the pause is flagged for operators (details.backstop_in_force)');
  });

  it('regression (issue #11 point 6): the message and error_reason say what the pause is, and a name no user has is paused exactly alike', async () => {
    const s = await start({ backstop: { threshold: 5 } });
    assertSignedIn(await attempt(s, ALICE, HOME), 'alice at home');
    let ip = await failFromFreshIps(s, ALICE.username, 5, 0);
    ip = await failFromFreshIps(s, UNKNOWN.username, 5, ip);

    const known = await attempt(s, ALICE, NEW_PLACE);
    const unknown = await attempt(s, UNKNOWN, NEW_PLACE);
    const knownRetry = assertTooMany(known, 'new_locations_paused');
    const unknownRetry = assertTooMany(unknown, 'new_locations_paused');
    assert.deepEqual(unknown.body, known.body, 'identical bodies: the pause tells nothing about whether the account exists');
    assert.ok(Math.abs(knownRetry - unknownRetry) <= 1, `the same Retry-After: ${knownRetry} and ${unknownRetry}`);

    const message = String(known.body.error_description);
    assert.match(message, /from new locations are paused for 15 minutes/, message);
    assert.match(message, /many places/, message);
    assert.match(message, /locations where it signed in before still work/, message);
    assert.doesNotMatch(message, /from this location/, "not the per-IP lock's wording");
    assert.equal(securityEvents(s, 'user_locked').filter((e) => e.reason === 'backstop').length, 2, 'one user_locked (backstop) per name');
  });

  it('regression (issue #11 point 6): the first backstop block lasts at most an hour, each repeat longer, never more than 24 hours; the repeats are forgotten a day after the last block', async () => {
    const s = await start({ backstop: { threshold: 5 } });
    const expected = [900, 1800, 3600, 7200, 14_400, 28_800, 57_600, 86_400, 86_400];
    const seen: number[] = [];
    let ip = 0;
    for (const [round, blockSeconds] of expected.entries()) {
      // The first failure of a round also shows that the last block has ended: it reaches the password check.
      ip = await failFromFreshIps(s, ALICE.username, 5, ip);
      const retryAfter = assertTooMany(await attempt(s, ALICE, NEW_PLACE), 'new_locations_paused');
      seen.push(retryAfter);
      assert.ok(
        retryAfter <= blockSeconds && retryAfter >= blockSeconds - 5,
        `block ${round + 1}: Retry-After ${retryAfter}, expected about ${blockSeconds}`,
      );
      if (round === 0) {
        // Still paused half a minute before Retry-After, lifted at it.
        s.clock.advance(retryAfter - 30);
        assertTooMany(await attempt(s, ALICE, NEW_PLACE), 'new_locations_paused');
        s.clock.advance(30);
      } else {
        s.clock.advance(retryAfter);
      }
    }
    assert.ok(seen[0]! <= 3600, `the first block is at most an hour: ${seen.join(', ')}`);
    assert.ok(seen[1]! > seen[0]!, `a repeat lasts longer: ${seen.join(', ')}`);
    assert.ok(Math.max(...seen) <= 86_400, `never more than 24 h: ${seen.join(', ')}`);

    // A day (max_block_seconds) after the last block ended with no new one, the doubling starts over.
    s.clock.advance(86_400 + 1);
    await failFromFreshIps(s, ALICE.username, 5, ip);
    const fresh = assertTooMany(await attempt(s, ALICE, NEW_PLACE), 'new_locations_paused');
    assert.ok(fresh <= 900 && fresh >= 895, `back to the first block: ${fresh}`);
  });

  it('an IP stays familiar for 30 days after its last sign-in, each sign-in renewing it', async () => {
    const s = await start({ backstop: { threshold: 5 } });
    assertSignedIn(await attempt(s, ALICE, HOME), 'day 0 at home');
    assertSignedIn(await attempt(s, ALICE, '198.51.100.11'), 'day 0 at the office');
    s.clock.advance(20 * 86_400);
    assertSignedIn(await attempt(s, ALICE, HOME), 'day 20 at home');
    s.clock.advance(11 * 86_400);
    // Day 31: home signed in 11 days ago, the office 31 days ago.
    await failFromFreshIps(s, ALICE.username, 5, 0);
    assertSignedIn(await attempt(s, ALICE, HOME), 'day 31 at home, during a pause');
    assertTooMany(await attempt(s, ALICE, '198.51.100.11'), 'new_locations_paused');
  });

  it('regression (issue #11 point 6): latchkey users unblock lifts the backstop and forgets its repeats', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-backstop-cli-'));
    try {
      const attack = { backstop: { threshold: 5 } };
      const s = await start(attack, dir);
      const configFile = writeYamlConfig(dir, {
        public_url: 'http://127.0.0.1:3999',
        database: `sqlite:${join(dir, 'latchkey.db')}`,
        log_level: 'warn',
        tenants: [await acmeWith({ attack_protection: attack })],
      });
      // Two blocks: the second is twice the first.
      let ip = await failFromFreshIps(s, ALICE.username, 5, 0);
      s.clock.advance(assertTooMany(await attempt(s, ALICE, NEW_PLACE), 'new_locations_paused'));
      ip = await failFromFreshIps(s, ALICE.username, 5, ip);
      const second = assertTooMany(await attempt(s, ALICE, NEW_PLACE), 'new_locations_paused');
      assert.ok(second > 900, `the second block is longer: ${second}`);

      const unblocked = await runCli(['users', 'unblock', ALICE.username, '--config', configFile], {
        env: { LATCHKEY_MASTER_KEY: TEST_MASTER_KEY },
      });
      assert.equal(unblocked.code, 0, `users unblock: ${unblocked.stdout}\n${unblocked.stderr}`);
      assert.match(unblocked.stdout, /cleared [1-9][0-9]* brute-force locks?\b/, unblocked.stdout);

      // Lifted: a new place reaches the password check again, and the next block starts short again.
      assertWrongPassword(await attempt(s, { username: ALICE.username, password: freshGuess() }, NEW_PLACE), 'a new place after unblock');
      await failFromFreshIps(s, ALICE.username, 4, ip);
      const next = assertTooMany(await attempt(s, ALICE, NEW_PLACE), 'new_locations_paused');
      assert.ok(next <= 900 && next >= 895, `the repeats were forgotten: ${next}`);
    } finally {
      await server?.close();
      server = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('backstop configuration', () => {
  const tenantWith = (backstop: Record<string, unknown>): unknown => ({ tenants: [{ name: 'acme', attack_protection: { backstop } }] });

  it('defaults: the first block 900 s, the cap 86400 s', () => {
    const backstop = resolveConfig({ tenants: [{ name: 'acme' }] }, '/srv/latchkey', {}).tenants[0]!.attack_protection.backstop;
    assert.deepEqual(
      { block_seconds: backstop.block_seconds, max_block_seconds: backstop.max_block_seconds },
      { block_seconds: 900, max_block_seconds: 86_400 },
    );
  });

  it('a first block longer than the cap is refused, naming both keys', () => {
    const problems = configProblems(tenantWith({ block_seconds: 2_592_000 }));
    const problem = problems.find((p) => p.startsWith('tenants[0].attack_protection.backstop.block_seconds:'));
    assert.ok(problem, problems.join('\n'));
    assert.match(problem, /max_block_seconds \(86400 s\)/);
    // Within a raised cap it is accepted.
    resolveConfig(tenantWith({ block_seconds: 7200, max_block_seconds: 172_800 }), '/srv/latchkey', {});
  });
});

// Redis keeps time itself (the test clock cannot move it): here only what holds at once, and what Redis stores.
describe('the backstop and the check budget on Redis counters', {
  skip: redisSkip('the backstop and the check budget on Redis counters'),
}, () => {
  it('a familiar IP passes the pause, a new place is paused for the first block; the marks live in Redis with their 30-day and 24 h + block lifetimes', async () => {
    const redis = await openReadyRedis(TEST_REDIS_URL as string);
    const s = await startTestServer({
      tenants: [await acmeWith({ attack_protection: { backstop: { threshold: 5 }, suspicious_ip: { failed_checks_per_hour: 6 } } })],
      extra: { redis: TEST_REDIS_URL as string },
    });
    const tenantId = s.server.runtime.catalog.tenant('acme')!.id;
    try {
      await waitUntil('/readyz 200 after start', async () => (await get(`${s.url}/readyz`)).status === 200);
      assertSignedIn(await attempt(s, ALICE, HOME), 'alice at home');
      const [familiar] = await scanKeys(redis, `latchkey:fam:${tenantId}:*`);
      assert.ok(familiar, 'the familiar-IP mark is in Redis');
      const familiarTtl = await redis.pttl(familiar);
      assert.ok(familiarTtl > 29 * 86_400_000 && familiarTtl <= 30 * 86_400_000, `kept 30 days: ${familiarTtl} ms`);

      await Promise.all(
        Array.from({ length: 5 }, (_, i) => attempt(s, { username: ALICE.username, password: freshGuess() }, `203.0.113.${100 + i}`)),
      );
      const retryAfter = assertTooMany(await attempt(s, ALICE, NEW_PLACE), 'new_locations_paused');
      assert.ok(retryAfter <= 900 && retryAfter >= 895, `the first block: ${retryAfter}`);
      assertSignedIn(await attempt(s, ALICE, HOME), 'alice at home during the pause');
      const [repeats] = await scanKeys(redis, `latchkey:bsr:${tenantId}:*`);
      assert.ok(repeats, 'the repeat count is in Redis');
      assert.equal(await redis.get(repeats), '1');
      const repeatsTtl = await redis.pttl(repeats);
      assert.ok(repeatsTtl > 86_400_000 && repeatsTtl <= (86_400 + 900) * 1000, `kept the block plus max_block_seconds: ${repeatsTtl} ms`);

      // The check budget is reserved before hashing like every count: of a parallel burst from one IP, six are checked.
      // (Names of their own: parallel firsts of one name would all count towards its backstop of 5.)
      const burst = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          attempt(s, { username: `victim-${i}@acme.test`, password: 'one wrong password' }, '198.51.100.77'),
        ),
      );
      assert.equal(burst.filter((r) => r.status === 400).length, 6, burst.map((r) => r.status).join(','));
      for (const res of burst.filter((r) => r.status !== 400)) assertTooMany(res, 'ip_blocked');
    } finally {
      await s.close();
      const keys = (await scanKeys(redis, 'latchkey:*')).filter((k) => k.includes(tenantId));
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });
});
