/**
 * Issue #11 point 2 (security report finding M1): an enrolment is no factor
 * until it is confirmed, and only the sign-in that started it can confirm
 * it. Black-box over HTTP on a real server:
 *
 * - a new /mfa/associate voids the user's earlier pending enrolment (at most
 *   one per user), so an attacker who knows the password cannot race the
 *   victim's enrolment and keep a working factor or recovery code;
 * - the recovery code shown at associate becomes valid only when its
 *   enrolment is confirmed, and no other enrolment replaces it;
 * - an abandoned enrolment's secret never completes MFA: not with another
 *   sign-in, not after its mfa_token expired, not once the user enrolled
 *   something else.
 *
 * Time passes only through server.clock.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ALICE, WEB } from '../helpers/fixtures.js';
import type { JsonResponse } from '../helpers/http.js';
import { associateEmail, mfaTokenOf, oobCodeOf, oobGrant, Outbox } from '../helpers/mfa-email.js';
import {
  ALWAYS_APP,
  alignToStep,
  enrollOtp,
  listAuthenticators,
  mfaRequired,
  otpGrant,
  recoveryGrant,
  totpCode,
  withMfaServer,
} from '../helpers/mfa-otp.js';
import type { TestServer } from '../helpers/server.js';
import { assertOAuthError } from '../helpers/token-requests.js';

function assertTokens(res: JsonResponse, what: string): void {
  assert.equal(res.status, 200, `${what}: ${res.text}`);
  assert.equal(typeof res.body.access_token, 'string', res.text);
}

/** The user's authenticators as a new sign-in lists them (type and active only). */
async function listed(server: TestServer, mfaToken: string): Promise<Array<{ type: unknown; active: unknown }>> {
  const res = await listAuthenticators(server, mfaToken);
  assert.equal(res.status, 200, res.text);
  return (JSON.parse(res.text) as Array<Record<string, unknown>>).map((a) => ({ type: a.authenticator_type, active: a.active }));
}

describe('issue #11 point 2: pending enrolments', () => {
  it("regression (issue #11 point 2): an attacker's associate racing the victim's enrolment leaves the attacker no working factor or recovery code, and the victim is told her enrolment was replaced", async () => {
    await withMfaServer('optional', async (server) => {
      // Victim and attacker (who knows the password) both start an enrolment before either confirms.
      const victimToken = await mfaRequired(server, ALWAYS_APP, ALICE, { enrollment: true });
      const victim = await enrollOtp(server, ALWAYS_APP, victimToken);
      const attackerToken = await mfaRequired(server, ALWAYS_APP, ALICE, { enrollment: true });
      const attacker = await enrollOtp(server, ALWAYS_APP, attackerToken);

      // The attacker's associate voided hers: she is told, instead of being handed a recovery code that does not work.
      const replaced = await otpGrant(server, ALWAYS_APP, victimToken, totpCode(server, victim.secret));
      assertOAuthError(replaced, 400, 'invalid_grant', 'the victim confirms her replaced enrolment');
      assert.match(String(replaced.body.error_description), /replaced/, replaced.text);

      // She enrolls again (what an app does on that error), which voids the attacker's in turn.
      const againToken = await mfaRequired(server, ALWAYS_APP, ALICE, { enrollment: true });
      const again = await enrollOtp(server, ALWAYS_APP, againToken);
      assertTokens(await otpGrant(server, ALWAYS_APP, againToken, totpCode(server, again.secret)), 'the victim confirms her new enrolment');

      // The attacker's secret and recovery code are worth nothing: with his own mfa_token, or with a new sign-in.
      assertOAuthError(
        await otpGrant(server, ALWAYS_APP, attackerToken, totpCode(server, attacker.secret)),
        400,
        'invalid_grant',
        "the attacker's voided enrolment",
      );
      const later = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      assertOAuthError(
        await otpGrant(server, WEB, later, totpCode(server, attacker.secret)),
        400,
        'invalid_grant',
        "the attacker's secret at a later sign-in",
      );
      assertOAuthError(
        await recoveryGrant(server, WEB, later, attacker.recoveryCode),
        400,
        'invalid_grant',
        "the attacker's recovery code",
      );
      assertOAuthError(
        await recoveryGrant(server, WEB, later, victim.recoveryCode),
        400,
        'invalid_grant',
        'the recovery code of the replaced enrolment',
      );
      assert.deepEqual(
        await listed(server, later),
        [
          { type: 'otp', active: true },
          { type: 'recovery-code', active: true },
        ],
        'one factor: hers',
      );
      assertTokens(await recoveryGrant(server, WEB, later, again.recoveryCode), "the victim's recovery code");
    });
  });

  it("regression (issue #11 point 2): an abandoned enrolment's secret never completes MFA, and its recovery code is not valid before confirmation", async () => {
    await withMfaServer('optional', async (server) => {
      const abandonedToken = await mfaRequired(server, ALWAYS_APP, ALICE, { enrollment: true });
      const abandoned = await enrollOtp(server, ALWAYS_APP, abandonedToken);
      // Not even its own sign-in may use the recovery code shown at associate before the enrolment is confirmed.
      assertOAuthError(
        await recoveryGrant(server, ALWAYS_APP, abandonedToken, abandoned.recoveryCode),
        400,
        'invalid_grant',
        'the recovery code of an unconfirmed enrolment',
      );
      assert.deepEqual(
        await listed(server, abandonedToken),
        [{ type: 'otp', active: false }],
        'pending, not active, and no recovery code yet',
      );

      // Another sign-in (a QR code left on screen): the secret is no factor, and that sign-in did not start it.
      const other = await mfaRequired(server, ALWAYS_APP, ALICE, { enrollment: true });
      assertOAuthError(
        await otpGrant(server, ALWAYS_APP, other, totpCode(server, abandoned.secret)),
        400,
        'invalid_grant',
        'the abandoned secret, another sign-in',
      );

      // Its mfa_token expired: the enrolment is gone.
      server.clock.advance(601);
      alignToStep(server);
      const late = await mfaRequired(server, ALWAYS_APP, ALICE, { enrollment: true });
      assert.deepEqual(await listed(server, late), [], 'the expired enrolment is no longer listed');
      assertOAuthError(
        await otpGrant(server, ALWAYS_APP, late, totpCode(server, abandoned.secret)),
        400,
        'invalid_grant',
        'the abandoned secret after expiry',
      );

      // The user enrolls for real; the abandoned secret still never passes.
      const real = await enrollOtp(server, ALWAYS_APP, late);
      assertTokens(await otpGrant(server, ALWAYS_APP, late, totpCode(server, real.secret)), 'the real enrolment');
      server.clock.advance(30);
      const signIn = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      assertOAuthError(
        await otpGrant(server, WEB, signIn, totpCode(server, abandoned.secret)),
        400,
        'invalid_grant',
        'the abandoned secret once another factor exists',
      );
      assertOAuthError(
        await recoveryGrant(server, WEB, signIn, abandoned.recoveryCode),
        400,
        'invalid_grant',
        "the abandoned enrolment's recovery code",
      );
      assertTokens(await otpGrant(server, WEB, signIn, totpCode(server, real.secret)), 'the real factor');
    });
  });

  it('an email enrolment confirms only with the mfa_token that started it, and only while no newer enrolment replaced it', async () => {
    await withMfaServer('optional', async (server) => {
      const outbox = new Outbox(join(server.dir, 'outbox'));
      const first = await mfaTokenOf(server, ALWAYS_APP, ALICE, true, 'first sign-in');
      const firstOob = oobCodeOf(await associateEmail(server, ALWAYS_APP, first), 'first associate');
      const firstCode = outbox.takeCode(ALICE.username, 'first enrolment email');
      const second = await mfaTokenOf(server, ALWAYS_APP, ALICE, true, 'second sign-in');
      const secondOob = oobCodeOf(await associateEmail(server, ALWAYS_APP, second), 'second associate');
      const secondCode = outbox.takeCode(ALICE.username, 'second enrolment email');

      assertOAuthError(
        await oobGrant(server, ALWAYS_APP, first, firstOob, firstCode),
        400,
        'invalid_grant',
        'the replaced email enrolment',
      );
      assertOAuthError(
        await oobGrant(server, ALWAYS_APP, first, secondOob, secondCode),
        400,
        'invalid_grant',
        "another sign-in's enrolment code",
      );
      assertTokens(await oobGrant(server, ALWAYS_APP, second, secondOob, secondCode), 'the latest enrolment, with its own mfa_token');
      assert.deepEqual(await listed(server, await mfaRequired(server, WEB, ALICE, { enrollment: false })), [
        { type: 'oob', active: true },
        { type: 'recovery-code', active: true },
      ]);
    });
  });
});
