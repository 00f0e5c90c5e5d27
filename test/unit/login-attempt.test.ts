/**
 * LoginAttempt (src/protection/login-attempt.ts), the one surface of the
 * lockout policy a grant holds: each outcome reaches the policy as the
 * settlement it stands for, and an attempt settles once (a grant that
 * reports twice, e.g. a refund after a failure in a finally block, cannot
 * count a failure twice or give back marks it no longer holds).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginAttempt, type Settlement } from '../../src/protection/login-attempt.js';

function recorded(): { attempt: LoginAttempt; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const settlement: Settlement = {
    failed: async (...args) => void calls.push(['failed', ...args]),
    verified: async (...args) => void calls.push(['verified', ...args]),
    abandoned: async () => void calls.push(['abandoned']),
  };
  return { attempt: new LoginAttempt(settlement), calls };
}

describe('LoginAttempt', () => {
  it('each outcome is the settlement it stands for', async () => {
    const cases: Array<[(a: LoginAttempt) => Promise<void>, unknown[]]> = [
      [(a) => a.failed('wrong_password', 'u1'), ['failed', 'wrong_password', 'u1']],
      [(a) => a.failed('unknown_user'), ['failed', 'unknown_user', undefined]],
      [(a) => a.succeeded('u1'), ['verified', 'login_success', undefined, 'u1']],
      [(a) => a.succeeded('u1', 'password_breached'), ['verified', 'login_success', 'password_breached', 'u1']],
      [(a) => a.refused('u1', 'user_blocked'), ['verified', 'login_failure', 'user_blocked', 'u1']],
      [(a) => a.secondFactorRequired('u1', true), ['verified', 'mfa_required', 'mfa_enrollment_required', 'u1']],
      [(a) => a.secondFactorRequired('u1', false), ['verified', 'mfa_required', undefined, 'u1']],
      [(a) => a.refund(), ['abandoned']],
    ];
    for (const [outcome, expected] of cases) {
      const { attempt, calls } = recorded();
      await outcome(attempt);
      assert.deepEqual(calls, [expected]);
    }
  });

  it('settles once: later outcomes do nothing', async () => {
    const { attempt, calls } = recorded();
    await attempt.failed('wrong_password');
    await attempt.refund();
    await attempt.succeeded('u1');
    assert.deepEqual(calls, [['failed', 'wrong_password', undefined]]);
  });
});
