/**
 * Issue #3, attack protection: brute-force protection of the password
 * grant (RFC 6749 §4.3.2: "the authorization server MUST protect the
 * endpoint against brute force attacks (e.g., using rate-limitation or
 * generating alerts)"), tested black-box over HTTP on a real server.
 *
 * - per identifier + end-user IP: after `threshold` (default 10) failures
 *   that pair gets 429 too_many_attempts / user_blocked with Retry-After,
 *   even with the right password; other users and other IPs are unaffected;
 * - the end-user IP is the TCP peer unless a confidential client with
 *   `trust_forwarded_for: true` sends `auth0-forwarded-for`; anyone else's
 *   header is ignored (and logged), a malformed one is invalid_request;
 * - a parallel burst cannot slip past the threshold;
 * - locks survive a restart; `latchkey users unblock` and `users
 *   set-password` clear them; `block_seconds` lifts them;
 * - unknown identifiers are locked exactly like known ones;
 * - the same wrong password repeated counts once; a success resets;
 * - a backstop per identifier across all IPs, which the allowlist does not
 *   bypass;
 * - a lock is a `user_locked` security event; no password is ever logged.
 *
 * Time passes only through server.clock.advance (seconds). Each scenario
 * has its own server, so no test depends on another's counters.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli, writeYamlConfig, type ProcessResult } from '../helpers/cli-process.js';
import { ALICE, API, JOE, NATIVE, WEB, acmeFixture } from '../helpers/fixtures.js';
import { postForm, type JsonResponse } from '../helpers/http.js';
import { assertSignedIn, assertWrongPassword } from '../helpers/ip-throttle.js';
import { createScratchDatabase, postgresSkip } from '../helpers/postgres.js';
import { TEST_MASTER_KEY, startTestServer, type TenantInput, type TestServer } from '../helpers/server.js';

/** A confidential backend that forwards its end users' IPs (Auth0's auth0-forwarded-for model). */
const BACKEND = { client_id: 'acme-backend', client_secret: 'acme-backend-secret-0123456789' };
const FORWARDED_FOR = 'auth0-forwarded-for';
const UNKNOWN = 'nobody-here@acme.test';

type AttackProtectionInput = NonNullable<TenantInput['attack_protection']>;

/** The acme tenant plus the trusted backend client, with these attack_protection settings (none: the defaults). */
async function tenantWith(attack?: AttackProtectionInput): Promise<TenantInput> {
  const { tenant } = await acmeFixture();
  return {
    ...tenant,
    applications: [
      ...(tenant.applications ?? []),
      { ...BACKEND, token_endpoint_auth_method: 'client_secret_post', grant_types: ['password'], trust_forwarded_for: true },
    ],
    ...(attack === undefined ? {} : { attack_protection: attack }),
  };
}

/** A small per-IP threshold where the point is not the default; everything else as configured by default. */
function small(threshold: number): AttackProtectionInput {
  return { brute_force: { threshold } };
}

async function withServer(tenant: TenantInput, work: (server: TestServer) => Promise<void>): Promise<void> {
  await withServerOn(false, tenant, work);
}

/** The same on a fresh scratch PostgreSQL database when `onPostgres` (else the test server's own SQLite file). */
async function withServerOn(onPostgres: boolean, tenant: TenantInput, work: (server: TestServer) => Promise<void>): Promise<void> {
  const scratch = onPostgres ? await createScratchDatabase() : undefined;
  try {
    const server = await startTestServer({ tenants: [tenant], ...(scratch === undefined ? {} : { database: scratch.url }) });
    try {
      await work(server);
    } finally {
      await server.close();
    }
  } finally {
    await scratch?.drop();
  }
}

/** Who sends the request: the web app (untrusted, confidential), the native app (public), or the trusted backend. */
type Via = { client: 'web' | 'native' | 'backend'; forwardedFor?: string };
const FROM_PEER: Via = { client: 'web' };
const fromIp = (ip: string): Via => ({ client: 'backend', forwardedFor: ip });

function credentialsOf(client: Via['client']): Record<string, string> {
  if (client === 'web') return { ...WEB };
  if (client === 'native') return { ...NATIVE };
  return { ...BACKEND };
}

function login(server: TestServer, username: string, password: string, via: Via = FROM_PEER): Promise<JsonResponse> {
  return postForm(
    server.at('/oauth/token'),
    { grant_type: 'password', username, password, audience: API, ...credentialsOf(via.client) },
    via.forwardedFor === undefined ? {} : { [FORWARDED_FOR]: via.forwardedFor },
  );
}

let guessCounter = 0;
/** A wrong password never sent before (a repeat would count nothing). */
function freshGuess(): string {
  guessCounter++;
  return `wrong guess ${guessCounter} ${Math.random().toString(36).slice(2)}`;
}

/**
 * Locked: 429 too_many_attempts / user_blocked (or, for the backstop's pause of new places since issue #11
 * point 6, new_locations_paused) with a positive integer Retry-After; returns it.
 */
function assertLocked(res: JsonResponse, what: string, errorReason: 'user_blocked' | 'new_locations_paused' = 'user_blocked'): number {
  assert.equal(res.status, 429, `${what}: ${res.text}`);
  assert.equal(res.body.error, 'too_many_attempts', `${what}: ${res.text}`);
  assert.equal(res.body.error_reason, errorReason, `${what}: ${res.text}`);
  const retryAfter = res.headers.get('retry-after');
  assert.ok(retryAfter !== null && /^[1-9][0-9]*$/.test(retryAfter), `${what}: Retry-After is a positive integer, got ${retryAfter}`);
  return Number(retryAfter);
}

/** Paused by the backstop (issue #11 point 6). */
const assertPaused = (res: JsonResponse, what: string): number => assertLocked(res, what, 'new_locations_paused');

/** `n` failures with distinct wrong passwords, each reaching the password check. */
async function fail(server: TestServer, username: string, n: number, via: Via = FROM_PEER, sent?: string[]): Promise<void> {
  for (let i = 1; i <= n; i++) {
    const guess = freshGuess();
    sent?.push(guess);
    assertWrongPassword(await login(server, username, guess, via), `${username}: failure ${i} of ${n}`);
  }
}

function parsedLogs(server: TestServer): Array<Record<string, unknown>> {
  return server.logs.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

function securityEvents(server: TestServer, type: string): Array<Record<string, unknown>> {
  return parsedLogs(server).filter((l) => l.security_event === type);
}

describe('issue #3: per identifier and end-user IP lock (default threshold 10)', () => {
  it('10 failures lock only that identifier from that IP: the 11th, even with the right password, is 429 user_blocked with Retry-After', async () => {
    await withServer(await tenantWith(), async (server) => {
      await fail(server, ALICE.username, 10);
      const retryAfter = assertLocked(await login(server, ALICE.username, ALICE.password), 'the 11th attempt, with the right password');
      assert.ok(
        retryAfter <= 2_592_000 && retryAfter > 2_592_000 - 600,
        `Retry-After is about the default block_seconds (30 days), got ${retryAfter}`,
      );

      assertSignedIn(await login(server, JOE.username, JOE.password), 'another user from the same IP');
      assertSignedIn(
        await login(server, ALICE.username, ALICE.password, fromIp('203.0.113.50')),
        'the same user from a second end-user IP, forwarded by a trusted client',
      );
      // The success elsewhere does not lift the lock from the first IP.
      assertLocked(await login(server, ALICE.username, ALICE.password), 'the same user from the first IP, after signing in elsewhere');
      assertLocked(
        await login(server, ALICE.username, ALICE.password, fromIp('127.0.0.1')),
        'the first IP, forwarded by the trusted client',
      );
    });
  });

  it('9 failures do not lock: the 10th attempt still reaches the password check', async () => {
    await withServer(await tenantWith(), async (server) => {
      await fail(server, ALICE.username, 9);
      assertSignedIn(await login(server, ALICE.username, ALICE.password), 'after 9 failures');
    });
  });
});

describe('issue #3: which end-user IP counts (auth0-forwarded-for only from trusted confidential clients)', () => {
  it("an untrusted confidential client's forwarded IP is ignored: a fresh IP per guess still locks the peer IP, and a warning names the client", async () => {
    await withServer(await tenantWith(small(3)), async (server) => {
      for (let i = 1; i <= 3; i++) {
        assertWrongPassword(
          await login(server, ALICE.username, freshGuess(), { client: 'web', forwardedFor: `198.51.100.${i}` }),
          `guess ${i} with a fresh forwarded IP`,
        );
      }
      assertLocked(
        await login(server, ALICE.username, ALICE.password, { client: 'web', forwardedFor: '198.51.100.200' }),
        'right password with yet another forwarded IP',
      );
      assertLocked(await login(server, ALICE.username, ALICE.password), 'right password without the header: the peer IP is locked');

      const warnings = parsedLogs(server).filter((l) => l.client_id === WEB.client_id && l.reason === 'client_not_trusted');
      assert.ok(warnings.length >= 1, `a warning naming ${WEB.client_id}:\n${server.logs.join('\n')}`);
      assert.equal(warnings[0]!.level, 'warn', 'logged at warn');
      assert.match(String(warnings[0]!.msg), /ignored a forwarded end-user IP/);
    });
  });

  it("a public client's forwarded IP is ignored too (and logged)", async () => {
    await withServer(await tenantWith(small(3)), async (server) => {
      for (let i = 1; i <= 3; i++) {
        assertWrongPassword(
          await login(server, JOE.username, freshGuess(), { client: 'native', forwardedFor: `198.51.100.${i}` }),
          `guess ${i} with a fresh forwarded IP`,
        );
      }
      assertLocked(
        await login(server, JOE.username, JOE.password, { client: 'native', forwardedFor: '198.51.100.200' }),
        'right password with yet another forwarded IP',
      );
      assertLocked(await login(server, JOE.username, JOE.password, { client: 'native' }), 'right password without the header');

      const warnings = parsedLogs(server).filter((l) => l.client_id === NATIVE.client_id && l.reason === 'public_client');
      assert.ok(warnings.length >= 1, `a warning naming ${NATIVE.client_id}:\n${server.logs.join('\n')}`);
    });
  });

  it('a trusted client sending a malformed header gets 400 invalid_request, and nothing is counted', async () => {
    await withServer(await tenantWith(small(3)), async (server) => {
      for (const value of ['not-an-ip', '203.0.113.1, 203.0.113.2', '999.1.1.1', '']) {
        const res = await login(server, ALICE.username, freshGuess(), fromIp(value));
        assert.equal(res.status, 400, `header ${JSON.stringify(value)}: ${res.text}`);
        assert.equal(res.body.error, 'invalid_request', `header ${JSON.stringify(value)}: ${res.text}`);
      }
      // Four refused requests, above the threshold of 3: none of them counted.
      assertSignedIn(
        await login(server, ALICE.username, ALICE.password, fromIp('203.0.113.1')),
        'a well-formed forwarded IP after the malformed ones',
      );
      assertSignedIn(await login(server, ALICE.username, ALICE.password), 'from the peer IP');
    });
  });
});

function parallelBurstSuite(name: string, options: { skip?: string | false; onPostgres?: boolean } = {}): void {
  describe(name, { skip: options.skip ?? false }, () => {
    it('50 concurrent wrong passwords against threshold 10: exactly 10 reach the password check, 40 are 429; then the right password is 429', async () => {
      await withServerOn(options.onPostgres ?? false, await tenantWith(), async (server) => {
        const guesses = Array.from({ length: 50 }, () => freshGuess());
        const answers = await Promise.all(guesses.map((guess) => login(server, ALICE.username, guess)));
        const checked = answers.filter((r) => r.status === 400 && r.body.error === 'invalid_grant');
        const locked = answers.filter(
          (r) => r.status === 429 && r.body.error === 'too_many_attempts' && r.body.error_reason === 'user_blocked',
        );
        const statuses = answers.map((r) => `${r.status} ${String(r.body.error)}`).join(', ');
        assert.equal(checked.length, 10, `exactly 10 invalid_grant: ${statuses}`);
        assert.equal(locked.length, 40, `exactly 40 too_many_attempts: ${statuses}`);
        for (const res of locked) assertLocked(res, 'a refused burst request');

        assertLocked(await login(server, ALICE.username, ALICE.password), 'the right password after the burst');
        assert.equal(securityEvents(server, 'user_locked').length, 1, 'the burst locks once');
      });
    });

    it('legitimate parallel logins are not mistaken for an attack: 30 concurrent right passwords against threshold 10 all sign in', async () => {
      // Attempts beyond what the threshold leaves wait for those in flight instead of being refused.
      await withServerOn(options.onPostgres ?? false, await tenantWith(), async (server) => {
        const answers = await Promise.all(Array.from({ length: 30 }, () => login(server, ALICE.username, ALICE.password)));
        assert.deepEqual(
          answers.map((r) => r.status),
          Array(30).fill(200),
          answers
            .filter((r) => r.status !== 200)
            .map((r) => r.text)
            .join('\n'),
        );
        assert.equal(securityEvents(server, 'login_blocked').length, 0);
      });
    });

    it('a few typos among parallel right passwords neither lock nor refuse the right ones', async () => {
      await withServerOn(options.onPostgres ?? false, await tenantWith(), async (server) => {
        const passwords = [...Array.from({ length: 20 }, () => ALICE.password), ...Array.from({ length: 5 }, () => freshGuess())];
        const answers = await Promise.all(passwords.map((password) => login(server, ALICE.username, password)));
        answers.forEach((res, i) => {
          if (passwords[i] === ALICE.password) assertSignedIn(res, `right password ${i}`);
          else assertWrongPassword(res, `typo ${i}`);
        });
        assert.equal(securityEvents(server, 'user_locked').length, 0);
        assertSignedIn(await login(server, ALICE.username, ALICE.password), 'afterwards');
      });
    });
  });
}

parallelBurstSuite('issue #3: a parallel burst cannot slip past the threshold');

// The same on PostgreSQL, where counters are shared and written statement by statement (issue #6): batched
// transactions there let 13 of 50 through, and polling waiters never saw the lock, before those were fixed.
parallelBurstSuite('issue #3 and #6: a parallel burst cannot slip past the threshold on PostgreSQL', {
  skip: postgresSkip('parallel burst on PostgreSQL'),
  onPostgres: true,
});

describe('issue #3: locks are kept across a restart', () => {
  it('closing the server and starting a new one on the same database keeps the lock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-bf-restart-'));
    const tenant = await tenantWith(small(3));
    try {
      const first = await startTestServer({ tenants: [tenant], dir });
      try {
        await fail(first, ALICE.username, 3);
        assertLocked(await login(first, ALICE.username, ALICE.password), 'locked before the restart');
      } finally {
        await first.close();
      }
      const second = await startTestServer({ tenants: [tenant], dir });
      try {
        assertLocked(await login(second, ALICE.username, ALICE.password), 'still locked after the restart');
        assertSignedIn(await login(second, JOE.username, JOE.password), 'another user after the restart');
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('issue #3: operators clear locks (latchkey users unblock, users set-password)', () => {
  it('users unblock clears a lock (known and unknown names); users set-password clears it too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-bf-cli-'));
    const tenant = await tenantWith(small(3));
    // The same tenant as an operator's YAML file, on the running server's database.
    const configFile = writeYamlConfig(dir, {
      public_url: 'http://127.0.0.1:3999',
      database: `sqlite:${join(dir, 'latchkey.db')}`,
      log_level: 'warn',
      tenants: [tenant],
    });
    const admin = (args: string[], input?: string): Promise<ProcessResult> =>
      runCli([...args, '--config', configFile], {
        env: { LATCHKEY_MASTER_KEY: TEST_MASTER_KEY },
        ...(input === undefined ? {} : { input }),
      });
    const assertOk = (result: ProcessResult, what: string): void =>
      assert.equal(result.code, 0, `${what}: exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);

    const server = await startTestServer({ tenants: [tenant], dir });
    try {
      // A known user.
      await fail(server, ALICE.username, 3);
      assertLocked(await login(server, ALICE.username, ALICE.password), 'alice locked');
      const unblocked = await admin(['users', 'unblock', ALICE.username]);
      assertOk(unblocked, 'users unblock alice');
      assert.match(unblocked.stdout, /cleared 1 brute-force lock\b/);
      assertSignedIn(await login(server, ALICE.username, ALICE.password), 'alice after users unblock');

      // A name no user has.
      await fail(server, UNKNOWN, 3);
      assertLocked(await login(server, UNKNOWN, freshGuess()), 'the unknown name locked');
      const unknown = await admin(['users', 'unblock', UNKNOWN]);
      assertOk(unknown, 'users unblock of an unknown name');
      assert.match(unknown.stdout, /cleared 1 brute-force lock\b/);
      assertWrongPassword(await login(server, UNKNOWN, freshGuess()), 'the unknown name reaches the password check again');

      // A password change.
      await fail(server, JOE.username, 3);
      assertLocked(await login(server, JOE.username, JOE.password), 'joe locked');
      const newPassword = 'a brand new passphrase for Joe 2024';
      assertOk(await admin(['users', 'set-password', JOE.username, '--password-stdin'], `${newPassword}\n`), 'users set-password joe');
      assertSignedIn(await login(server, JOE.username, newPassword), 'joe with the new password after set-password');
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('issue #3: unknown identifiers are counted exactly like known ones', () => {
  it('the same number of failures locks both, with identical status, body and Retry-After presence', async () => {
    await withServer(await tenantWith(small(3)), async (server) => {
      for (let i = 1; i <= 3; i++) {
        const known = await login(server, ALICE.username, freshGuess());
        const unknown = await login(server, UNKNOWN, freshGuess());
        assertWrongPassword(known, `known, failure ${i}`);
        assertWrongPassword(unknown, `unknown, failure ${i}`);
        assert.deepEqual(unknown.body, known.body, `failure ${i}: identical bodies`);
        assert.equal(unknown.headers.get('retry-after'), known.headers.get('retry-after'), `failure ${i}: no Retry-After on either`);
      }
      const known = await login(server, ALICE.username, ALICE.password);
      const unknown = await login(server, UNKNOWN, freshGuess());
      const knownRetry = assertLocked(known, 'the known identifier after 3 failures');
      const unknownRetry = assertLocked(unknown, 'the unknown identifier after 3 failures');
      assert.deepEqual(unknown.body, known.body, 'identical lock bodies');
      assert.ok(Math.abs(knownRetry - unknownRetry) <= 2, `comparable Retry-After: ${knownRetry} and ${unknownRetry}`);
    });
  });
});

describe('issue #3: smart counting, the same wrong password repeated counts once', () => {
  it('20 times the same wrong password counts once; distinct wrong passwords still lock after the threshold', async () => {
    await withServer(await tenantWith(small(3)), async (server) => {
      const repeated = 'the same wrong password, again';
      for (let i = 1; i <= 20; i++) assertWrongPassword(await login(server, ALICE.username, repeated), `repeat ${i}`);
      // At most one counted: one more distinct failure stays below the threshold of 3.
      await fail(server, ALICE.username, 1);
      assertSignedIn(await login(server, ALICE.username, ALICE.password), 'the right password after 20 repeats and 1 distinct failure');
      // A sequence of distinct wrong passwords still locks.
      await fail(server, ALICE.username, 3);
      assertLocked(await login(server, ALICE.username, ALICE.password), 'after 3 distinct failures');
    });
  });

  it('the repeated password counts once, not zero times', async () => {
    await withServer(await tenantWith(small(3)), async (server) => {
      const repeated = 'the same wrong password for joe';
      for (let i = 1; i <= 20; i++) assertWrongPassword(await login(server, JOE.username, repeated), `repeat ${i}`);
      await fail(server, JOE.username, 2);
      assertLocked(await login(server, JOE.username, JOE.password), 'the repeats (once) plus 2 distinct failures reach the threshold of 3');
    });
  });
});

describe('issue #3: a success resets the counter', () => {
  it('threshold-1 failures, a success, threshold-1 failures: not locked', async () => {
    await withServer(await tenantWith(small(3)), async (server) => {
      await fail(server, ALICE.username, 2);
      assertSignedIn(await login(server, ALICE.username, ALICE.password), 'after 2 failures');
      await fail(server, ALICE.username, 2);
      assertSignedIn(await login(server, ALICE.username, ALICE.password), 'after a success and 2 more failures');
    });
  });
});

describe('issue #3: block_seconds lifts the lock', () => {
  it('locked until block_seconds have passed on the clock, then the right password works', async () => {
    await withServer(await tenantWith({ brute_force: { threshold: 3, block_seconds: 600 } }), async (server) => {
      await fail(server, ALICE.username, 3);
      const retryAfter = assertLocked(await login(server, ALICE.username, ALICE.password), 'just locked');
      assert.ok(retryAfter <= 600 && retryAfter >= 590, `Retry-After about block_seconds (600), got ${retryAfter}`);

      server.clock.advance(580);
      const later = assertLocked(await login(server, ALICE.username, ALICE.password), '580 s later');
      assert.ok(later <= 20, `Retry-After counts down, got ${later}`);

      server.clock.advance(30);
      assertSignedIn(await login(server, ALICE.username, ALICE.password), 'after block_seconds');
    });
  });
});

describe('issue #3: the backstop locks an identifier from every IP', () => {
  it('failures spread over several forwarded IPs lock the identifier everywhere, a fresh IP included', async () => {
    await withServer(await tenantWith({ brute_force: { threshold: 10 }, backstop: { threshold: 5 } }), async (server) => {
      // Below the backstop: 4 failures from 4 IPs, then the right password from a fifth works.
      for (let i = 1; i <= 4; i++) await fail(server, JOE.username, 1, fromIp(`203.0.113.${i}`));
      assertSignedIn(await login(server, JOE.username, JOE.password, fromIp('203.0.113.5')), 'joe below the backstop');

      for (let i = 1; i <= 5; i++) await fail(server, ALICE.username, 1, fromIp(`203.0.113.${10 + i}`));
      // Issue #11 point 6: the backstop pauses new places (new_locations_paused); none of these ever signed in as alice.
      assertPaused(await login(server, ALICE.username, ALICE.password, fromIp('192.0.2.77')), 'a fresh IP after the backstop');
      assertPaused(await login(server, ALICE.username, ALICE.password, fromIp('203.0.113.11')), 'one of the failing IPs');
      assertPaused(await login(server, ALICE.username, ALICE.password), 'the peer IP');
      assertSignedIn(await login(server, JOE.username, JOE.password, fromIp('192.0.2.77')), 'another user from the fresh IP');

      const locks = securityEvents(server, 'user_locked');
      assert.ok(
        locks.some((l) => l.reason === 'backstop'),
        `a user_locked event with reason backstop:\n${locks.map((l) => JSON.stringify(l)).join('\n')}`,
      );
    });
  });
});

describe('issue #3: the allowlist skips the per-IP lock but not the backstop', () => {
  it('an allowlisted forwarded IP is not locked after the per-IP threshold, but the backstop still stops it', async () => {
    const tenant = await tenantWith({ brute_force: { threshold: 3 }, backstop: { threshold: 6 }, allowlist: ['198.51.100.0/24'] });
    await withServer(tenant, async (server) => {
      const allowlisted = fromIp('198.51.100.7');
      // Control: a non-allowlisted IP locks after 3.
      await fail(server, JOE.username, 3, fromIp('203.0.113.7'));
      assertLocked(await login(server, JOE.username, JOE.password, fromIp('203.0.113.7')), 'a non-allowlisted IP after 3 failures');

      await fail(server, ALICE.username, 5, allowlisted);
      assertSignedIn(
        await login(server, ALICE.username, ALICE.password, allowlisted),
        'allowlisted IP after 5 failures (per-IP threshold 3)',
      );

      await fail(server, ALICE.username, 6, allowlisted);
      // Issue #11 point 6: alice signed in from 198.51.100.7 above, so that IP is familiar and passes the backstop;
      // an allowlisted IP she never signed in from is paused like any other.
      assertPaused(
        await login(server, ALICE.username, ALICE.password, fromIp('198.51.100.8')),
        'another allowlisted IP after 6 failures: the backstop',
      );
      assertPaused(await login(server, ALICE.username, ALICE.password, fromIp('192.0.2.9')), 'any other IP too');
      assertSignedIn(await login(server, ALICE.username, ALICE.password, allowlisted), 'the allowlisted IP alice signed in from before');
    });
  });
});

describe('issue #3: security events', () => {
  it('a lock writes a user_locked event; no log line holds any password sent', async () => {
    await withServer(await tenantWith(small(3)), async (server) => {
      const sent: string[] = [ALICE.password, JOE.password];
      await fail(server, ALICE.username, 3, FROM_PEER, sent);
      assertLocked(await login(server, ALICE.username, ALICE.password), 'locked');
      const repeated = 'Repeated-Secret-Guess-xyz';
      sent.push(repeated);
      for (let i = 0; i < 3; i++) await login(server, JOE.username, repeated);
      await fail(server, UNKNOWN, 3, fromIp('203.0.113.9'), sent);
      assertLocked(await login(server, UNKNOWN, 'Unknown-User-Guess-abc', fromIp('203.0.113.9')), 'the unknown name locked');
      sent.push('Unknown-User-Guess-abc');
      assertSignedIn(await login(server, JOE.username, JOE.password), 'joe');

      assert.ok(
        server.logs.some((line) => line.includes('"security_event":"user_locked"')),
        `a user_locked line:\n${server.logs.join('\n')}`,
      );
      const locks = securityEvents(server, 'user_locked');
      assert.equal(locks.length, 2, 'one user_locked per lock');
      const aliceLock = locks.find((l) => l.ip === '127.0.0.1');
      assert.ok(aliceLock, 'the lock names the end-user IP');
      assert.equal(aliceLock.reason, 'brute_force');
      assert.equal(aliceLock.client_id, WEB.client_id);
      assert.ok(
        locks.some((l) => l.ip === '203.0.113.9' && l.client_id === BACKEND.client_id),
        'the forwarded IP is the one named',
      );

      for (const password of sent) {
        const leaking = server.logs.filter((line) => line.includes(password));
        assert.deepEqual(leaking, [], `no log line contains the password ${JSON.stringify(password)}`);
      }
    });
  });
});
