/**
 * Issue #11 point 7 (security report findings M6 and L2): MFA cannot be
 * used to send unlimited email, nor to keep a user out for good. Black-box
 * over HTTP on a real server, its development outbox and the real CLI:
 *
 * - at most 5 /mfa/associate calls per mfa_token;
 * - at most 5 emails per user per 10 minutes, associate and challenge
 *   together, whatever addresses the caller names;
 * - beyond either: 429 too_many_attempts with Retry-After and its own
 *   error_reason, nothing sent, a security event;
 * - `latchkey users unblock` refills the user's bucket of wrong codes.
 *
 * Time passes only through server.clock (the SQL counters use it).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { operatorCli } from '../helpers/cli-process.js';
import { ALICE, JOE, WEB } from '../helpers/fixtures.js';
import type { JsonResponse } from '../helpers/http.js';
import { associateEmail, challengeByEmail, challengeOob, enrollByEmail, mfaTokenOf, oobCodeOf, Outbox } from '../helpers/mfa-email.js';
import { ALWAYS_APP, associateOtp, enrolledUser, mfaRequired, otpGrant, totpCode, withMfaServer, wrongCode } from '../helpers/mfa-otp.js';
import { TEST_MASTER_KEY, type TestServer } from '../helpers/server.js';
import { assertOAuthError } from '../helpers/token-requests.js';

/** 429 too_many_attempts with `reason` and a Retry-After of at most `maxSeconds`. */
function assertLimited(res: JsonResponse, reason: string, maxSeconds: number, what: string): void {
  assertOAuthError(res, 429, 'too_many_attempts', what);
  assert.equal(res.body.error_reason, reason, `${what}: ${res.text}`);
  const retryAfter = Number(res.headers.get('retry-after'));
  assert.ok(
    Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= maxSeconds,
    `${what}: Retry-After ${res.headers.get('retry-after')}`,
  );
}

function securityEvents(server: TestServer, type: string): Array<Record<string, unknown>> {
  return server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.security_event === type);
}

describe('issue #11 point 7: MFA limits', () => {
  it('regression (issue #11 point 7): a 6th /mfa/associate with one mfa_token is 429 too_many_attempts; the 5th enrolment still confirms, and a new sign-in may enroll', async () => {
    await withMfaServer('optional', async (server) => {
      const mfaToken = await mfaRequired(server, ALWAYS_APP, ALICE, { enrollment: true });
      let last: JsonResponse | undefined;
      for (let i = 1; i <= 5; i++) {
        last = await associateOtp(server, ALWAYS_APP, mfaToken);
        assert.equal(last.status, 200, `associate #${i}: ${last.text}`);
      }
      assertLimited(await associateOtp(server, ALWAYS_APP, mfaToken), 'mfa_enrollments_exceeded', 600, 'associate #6');
      assertLimited(await associateOtp(server, ALWAYS_APP, mfaToken), 'mfa_enrollments_exceeded', 600, 'associate #7');
      const events = securityEvents(server, 'mfa_rate_limited');
      assert.equal(events.length, 1, `one event for the first refusal: ${JSON.stringify(events)}`);
      assert.equal(events[0]?.reason, 'associate_calls');

      // The refused calls replaced nothing: the 5th enrolment is the one this sign-in confirms.
      const fifth = last?.body.secret as string;
      const confirmed = await otpGrant(server, ALWAYS_APP, mfaToken, totpCode(server, fifth));
      assert.equal(confirmed.status, 200, confirmed.text);
      // The limit is per mfa_token: another user's new sign-in enrolls as usual.
      assert.equal((await associateOtp(server, ALWAYS_APP, await mfaRequired(server, ALWAYS_APP, JOE, { enrollment: true }))).status, 200);
    });
  });

  it('regression (issue #11 point 7): a 6th email to one user within 10 minutes is 429 too_many_attempts, whatever the address and whether by associate or challenge; 10 minutes later email works again', async () => {
    await withMfaServer('optional', async (server) => {
      const outbox = new Outbox(join(server.dir, 'outbox'));
      // Associate: Joe (no address of his own) names a new address each time, over two sign-ins.
      const associateTo = async (mfaToken: string, n: number) =>
        associateEmail(server, ALWAYS_APP, mfaToken, { email: `target-${n}@elsewhere.test` });
      const first = await mfaTokenOf(server, ALWAYS_APP, JOE, true, 'joe, first sign-in');
      for (const n of [1, 2, 3]) oobCodeOf(await associateTo(first, n), `associate #${n}`);
      const second = await mfaTokenOf(server, ALWAYS_APP, JOE, true, 'joe, second sign-in');
      for (const n of [4, 5]) oobCodeOf(await associateTo(second, n), `associate #${n}`);
      assert.deepEqual(
        outbox
          .take()
          .map((m) => m.to)
          .sort(),
        [1, 2, 3, 4, 5].map((n) => `target-${n}@elsewhere.test`),
        'five emails sent',
      );
      const sixth = await associateTo(second, 6);
      assertLimited(sixth, 'mfa_emails_exceeded', 600, 'the 6th email by associate');
      assert.deepEqual(outbox.take(), [], 'nothing sent');

      // Challenge: Alice enrolled by email (1) and was challenged four times (2-5); the 6th challenge is refused.
      await enrollByEmail(server, outbox, ALWAYS_APP, ALICE, ALICE.username);
      for (let i = 2; i <= 5; i++) await challengeByEmail(server, outbox, WEB, ALICE, ALICE.username, `challenge #${i}`);
      const refused = await challengeOob(server, WEB, await mfaTokenOf(server, WEB, ALICE, false, 'sign-in #6'));
      assertLimited(refused, 'mfa_emails_exceeded', 600, 'the 6th email by challenge');
      assert.deepEqual(outbox.take(), [], 'nothing sent');
      assert.deepEqual(
        securityEvents(server, 'mfa_rate_limited').map((e) => e.reason),
        ['emails', 'emails'],
        'one event per user and window',
      );

      server.clock.advance(600);
      await challengeByEmail(server, outbox, WEB, ALICE, ALICE.username, '10 minutes later');
    });
  });

  it('regression (issue #11 point 7): latchkey users unblock refills the MFA bucket a user drained with wrong codes', async () => {
    await withMfaServer('optional', async (server, tenant) => {
      const { secret } = await enrolledUser(server, ALWAYS_APP, ALICE);
      const mfaToken = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      for (let i = 1; i <= 10; i++)
        assertOAuthError(await otpGrant(server, WEB, mfaToken, wrongCode(server, secret)), 400, 'invalid_grant', `wrong code ${i}`);
      assertLimited(
        await otpGrant(server, WEB, mfaToken, totpCode(server, secret)),
        'mfa_attempts_exceeded',
        360,
        'the right code after 10 wrong ones',
      );

      const unblocked = await operatorCli(server.dir, [tenant], TEST_MASTER_KEY)(['users', 'unblock', ALICE.username]);
      assert.equal(unblocked.code, 0, `users unblock: ${unblocked.stdout}\n${unblocked.stderr}`);
      const signedIn = await otpGrant(server, WEB, mfaToken, totpCode(server, secret));
      assert.equal(signedIn.status, 200, `the right code after users unblock: ${signedIn.text}`);
    });
  });
});
