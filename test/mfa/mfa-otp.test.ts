/**
 * Issue #4, MFA inside the password flow (Auth0's shape): TOTP, the recovery
 * code, the mfa policies and the authenticators API, black-box over HTTP on
 * a real server.
 *
 * - a password grant for a user with a confirmed factor (or anyone under
 *   `always`) answers 403 mfa_required with an mfa_token (and
 *   error_reason mfa_enrollment_required when the user has no factor);
 * - /mfa/associate enrolls a TOTP authenticator, the first good code
 *   confirms it; the mfa-otp grant yields what the password grant would
 *   have, with amr [pwd, otp, mfa];
 * - codes: ±1 step, once each; the mfa_token: 10 min, one client, once;
 *   10 wrong codes per user per hour, then 429 even for a right one;
 * - the recovery code works once and is replaced;
 * - GET/DELETE /mfa/authenticators.
 *
 * Time passes only through server.clock (TOTP steps, mfa_token expiry, the
 * failure counter). Each scenario has its own server.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALICE, API, JOE, NATIVE, WEB } from '../helpers/fixtures.js';
import { decodeJwt, type JsonResponse } from '../helpers/http.js';
import {
  ALWAYS_APP,
  NEVER_APP,
  alignToStep,
  associateOtp,
  challengeOtp,
  deleteAuthenticator,
  enrollOtp,
  enrolledUser,
  listAuthenticators,
  mfaApiTokens,
  mfaRequired,
  otpGrant,
  passwordGrant,
  recoveryGrant,
  totpCode,
  withMfaServer,
  wrongCode,
} from '../helpers/mfa-otp.js';
import { assertOAuthError, refresh } from '../helpers/token-requests.js';

/** What the MFA grant must reproduce: an API, its scopes, a refresh token and an id_token. */
const SIGN_IN = { audience: API, scope: 'openid profile offline_access read:sample' };

function assertTokens(res: JsonResponse, context = ''): void {
  assert.equal(res.status, 200, `${context}${res.text}`);
  assert.equal(typeof res.body.access_token, 'string', res.text);
}

describe('MFA: TOTP enrollment and sign-in under mfa: always', () => {
  it("password → mfa_required (enrollment) → associate otp → mfa-otp gives the password grant's tokens with amr; the refresh token works", async () => {
    await withMfaServer('always', async (server) => {
      // What the password grant gives when no second factor is asked (application override `never`).
      const plain = await passwordGrant(server, NEVER_APP, ALICE, SIGN_IN);
      assertTokens(plain, 'baseline: ');

      const mfaToken = await mfaRequired(server, WEB, ALICE, { enrollment: true }, SIGN_IN);
      const res = await associateOtp(server, WEB, mfaToken);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.authenticator_type, 'otp');
      const secret = res.body.secret as string;
      assert.match(secret, /^[A-Z2-7]+=*$/, 'secret is base32');
      const barcode = new URL(res.body.barcode_uri as string);
      assert.equal(barcode.protocol, 'otpauth:');
      assert.equal(barcode.host, 'totp');
      assert.equal(barcode.searchParams.get('issuer'), 'acme');
      assert.equal(barcode.searchParams.get('secret'), secret);
      assert.ok(decodeURIComponent(barcode.pathname).includes(ALICE.username), barcode.href);
      const codes = res.body.recovery_codes as string[];
      assert.ok(Array.isArray(codes) && codes.length === 1 && codes[0]!.length >= 16, res.text);

      const tokens = await otpGrant(server, WEB, mfaToken, totpCode(server, secret));
      assertTokens(tokens);
      assert.equal(tokens.body.scope, plain.body.scope);
      assert.equal(tokens.body.token_type, plain.body.token_type);
      assert.equal(tokens.body.expires_in, plain.body.expires_in);
      assert.equal(typeof tokens.body.refresh_token, 'string', 'a refresh token, as offline_access was granted');
      assert.equal(typeof tokens.body.id_token, 'string');
      const access = decodeJwt(tokens.body.access_token as string).payload;
      const plainAccess = decodeJwt(plain.body.access_token as string).payload;
      assert.deepEqual(access.aud, plainAccess.aud);
      assert.equal(access.sub, plainAccess.sub);
      assert.equal(access.scope, plainAccess.scope);
      assert.deepEqual(access.amr, ['pwd', 'otp', 'mfa']);
      const idToken = decodeJwt(tokens.body.id_token as string).payload;
      assert.equal(idToken.sub, plainAccess.sub);
      assert.deepEqual(idToken.amr, ['pwd', 'otp', 'mfa']);

      const refreshed = await refresh(server, WEB, tokens.body.refresh_token as string);
      assertTokens(refreshed, 'refresh: ');
      assert.equal(decodeJwt(refreshed.body.access_token as string).payload.sub, access.sub);
    });
  });
});

describe('MFA policies', () => {
  it('optional: no factor → tokens; enrolled (via an `always` application) → mfa_required without enrollment reason → challenge otp → mfa-otp; `never` application → tokens', async () => {
    await withMfaServer(undefined, async (server) => {
      assertTokens(await passwordGrant(server, WEB, JOE), 'no factor under optional: ');

      // Enrollment through the application whose override is `always`.
      const { secret } = await enrolledUser(server, ALWAYS_APP, JOE);

      const mfaToken = await mfaRequired(server, WEB, JOE, { enrollment: false });
      const challenge = await challengeOtp(server, WEB, mfaToken);
      assert.equal(challenge.status, 200, challenge.text);
      assert.deepEqual(challenge.body, { challenge_type: 'otp' });
      assertTokens(await otpGrant(server, WEB, mfaToken, totpCode(server, secret)));

      // Another user of the same tenant is still not asked.
      assertTokens(await passwordGrant(server, WEB, ALICE), 'unenrolled user: ');
      // The `never` override skips the enrolled user's factor.
      const never = await passwordGrant(server, NEVER_APP, JOE, SIGN_IN);
      assertTokens(never, 'never: ');
      assert.equal(decodeJwt(never.body.access_token as string).payload.amr, undefined, 'no second factor was used');
    });
  });

  it('optional: an unconfirmed enrollment does not make MFA required', async () => {
    await withMfaServer(undefined, async (server) => {
      const mfaToken = await mfaRequired(server, ALWAYS_APP, JOE, { enrollment: true });
      await enrollOtp(server, ALWAYS_APP, mfaToken);
      assertTokens(await passwordGrant(server, WEB, JOE));
    });
  });
});

describe('MFA failures', () => {
  it('a wrong code is invalid_grant (and the right one still works with the same mfa_token)', async () => {
    await withMfaServer('always', async (server) => {
      const { secret } = await enrolledUser(server);
      const mfaToken = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      assertOAuthError(await otpGrant(server, WEB, mfaToken, wrongCode(server, secret)), 400, 'invalid_grant');
      assertOAuthError(await otpGrant(server, WEB, mfaToken, 'abcdef'), 400, 'invalid_grant');
      assertTokens(await otpGrant(server, WEB, mfaToken, totpCode(server, secret)));
    });
  });

  it('an mfa_token expires after 10 minutes', async () => {
    await withMfaServer('always', async (server) => {
      const { secret } = await enrolledUser(server);
      const mfaToken = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      server.clock.advance(601);
      alignToStep(server);
      assertOAuthError(await otpGrant(server, WEB, mfaToken, totpCode(server, secret)), 400, 'invalid_grant');
      // The same code with a fresh token: the code was fine.
      const fresh = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      assertTokens(await otpGrant(server, WEB, fresh, totpCode(server, secret)));
    });
  });

  it('an mfa_token issued to another client is invalid_grant, at the token endpoint and at /mfa/challenge', async () => {
    await withMfaServer('always', async (server) => {
      const { secret } = await enrolledUser(server);
      const mfaToken = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      assertOAuthError(await otpGrant(server, NATIVE, mfaToken, totpCode(server, secret)), 400, 'invalid_grant');
      assertOAuthError(await challengeOtp(server, NATIVE, mfaToken), 400, 'invalid_grant');
      // The rightful client can still use it with the same code.
      assertTokens(await otpGrant(server, WEB, mfaToken, totpCode(server, secret)));
    });
  });

  it('a malformed mfa_token is invalid_grant', async () => {
    await withMfaServer('always', async (server) => {
      const { secret } = await enrolledUser(server);
      const mfaToken = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      const tampered = `${mfaToken.slice(0, -4)}${mfaToken.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
      assertOAuthError(await otpGrant(server, WEB, tampered, totpCode(server, secret)), 400, 'invalid_grant');
      assertOAuthError(await otpGrant(server, WEB, 'mfa.nonsense', totpCode(server, secret)), 400, 'invalid_grant');
    });
  });

  it('an mfa_token yields tokens once: a second use is refused even with a fresh code', async () => {
    await withMfaServer('always', async (server) => {
      const { secret } = await enrolledUser(server);
      const mfaToken = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      assertTokens(await otpGrant(server, WEB, mfaToken, totpCode(server, secret)));
      server.clock.advance(30);
      const fresh = totpCode(server, secret);
      const again = await otpGrant(server, WEB, mfaToken, fresh);
      assertOAuthError(again, 400, 'invalid_grant');
      assert.match(String(again.body.error_description), /mfa_token/, again.text);
      // The spent mfa_token is refused before the code is checked, so that code is not burned.
      assertTokens(
        await otpGrant(server, WEB, await mfaRequired(server, WEB, ALICE, { enrollment: false }), fresh),
        'the same code with a new mfa_token: ',
      );
    });
  });

  it('a code is accepted once: the same code with two fresh mfa_tokens is refused the second time', async () => {
    await withMfaServer('always', async (server) => {
      const { secret } = await enrolledUser(server);
      const code = totpCode(server, secret);
      const first = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      const second = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      assertTokens(await otpGrant(server, WEB, first, code));
      assertOAuthError(await otpGrant(server, WEB, second, code), 400, 'invalid_grant');
      // The second token itself was fine: the next step's code works with it.
      server.clock.advance(30);
      assertTokens(await otpGrant(server, WEB, second, totpCode(server, secret)));
    });
  });

  it('codes one step away are accepted, two steps away refused', async () => {
    await withMfaServer('always', async (server) => {
      const { secret } = await enrolledUser(server);
      // Two steps past the confirming code, so step -1 is unused; each accepted code is at a distinct step.
      server.clock.advance(60);
      for (const steps of [-1, 1]) {
        const mfaToken = await mfaRequired(server, WEB, ALICE, { enrollment: false });
        assertTokens(await otpGrant(server, WEB, mfaToken, totpCode(server, secret, steps)), `${steps} step: `);
      }
      for (const steps of [-2, 2]) {
        const mfaToken = await mfaRequired(server, WEB, ALICE, { enrollment: false });
        assertOAuthError(await otpGrant(server, WEB, mfaToken, totpCode(server, secret, steps)), 400, 'invalid_grant', `${steps} steps`);
      }
    });
  });

  it('associate is refused (403 access_denied) once the user has a confirmed factor', async () => {
    await withMfaServer('always', async (server) => {
      // Before confirmation, enrolling again is allowed (the app may retry).
      const first = await mfaRequired(server, WEB, ALICE, { enrollment: true });
      await enrollOtp(server, WEB, first);
      await enrolledUser(server);
      const mfaToken = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      assertOAuthError(await associateOtp(server, WEB, mfaToken), 403, 'access_denied');
    });
  });

  it('the recovery code works once and is replaced by a new one', async () => {
    await withMfaServer('always', async (server) => {
      const { recoveryCode } = await enrolledUser(server);
      const used = await recoveryGrant(server, WEB, await mfaRequired(server, WEB, ALICE, { enrollment: false }, SIGN_IN), recoveryCode);
      assertTokens(used);
      assert.equal(typeof used.body.refresh_token, 'string');
      const next = used.body.recovery_code;
      assert.equal(typeof next, 'string', used.text);
      assert.notEqual(next, recoveryCode);
      const amr = decodeJwt(used.body.id_token as string).payload.amr as string[];
      assert.ok(Array.isArray(amr) && amr.includes('pwd') && amr.includes('mfa') && !amr.includes('otp'), JSON.stringify(amr));

      assertOAuthError(
        await recoveryGrant(server, WEB, await mfaRequired(server, WEB, ALICE, { enrollment: false }), recoveryCode),
        400,
        'invalid_grant',
        'spent code',
      );
      const again = await recoveryGrant(server, WEB, await mfaRequired(server, WEB, ALICE, { enrollment: false }), next as string);
      assertTokens(again, 'new code: ');
      assert.notEqual(again.body.recovery_code, next);
    });
  });

  it('10 wrong codes per user, then 429 too_many_attempts even with the right code; one attempt comes back every 6 minutes; an hour later the right code works', async () => {
    await withMfaServer('always', async (server) => {
      const { secret } = await enrolledUser(server);
      const mfaToken = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      for (let i = 1; i <= 10; i++) {
        assertOAuthError(await otpGrant(server, WEB, mfaToken, wrongCode(server, secret)), 400, 'invalid_grant', `wrong code ${i}`);
      }
      const locked = await otpGrant(server, WEB, mfaToken, totpCode(server, secret));
      assertOAuthError(locked, 429, 'too_many_attempts', 'the right code after 10 wrong ones');
      assert.equal(locked.body.error_reason, 'mfa_attempts_exceeded', locked.text);
      const retryAfter = Number(locked.headers.get('retry-after'));
      assert.ok(
        Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 360,
        `Retry-After: ${locked.headers.get('retry-after')} (one token back within 6 minutes)`,
      );
      // The limit is per user, not per mfa_token; the recovery code counts too.
      const other = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      assertOAuthError(await otpGrant(server, WEB, other, totpCode(server, secret)), 429, 'too_many_attempts', 'a new mfa_token');

      // A bucket, not a window: 6 minutes give back exactly one attempt.
      server.clock.advance(360);
      alignToStep(server);
      const refilled = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      assertOAuthError(
        await otpGrant(server, WEB, refilled, wrongCode(server, secret)),
        400,
        'invalid_grant',
        'the one attempt regained after 6 minutes',
      );
      assertOAuthError(await otpGrant(server, WEB, refilled, totpCode(server, secret)), 429, 'too_many_attempts', 'only one came back');

      server.clock.advance(3600);
      alignToStep(server);
      const later = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      assertTokens(await otpGrant(server, WEB, later, totpCode(server, secret)), 'an hour later: ');
    });
  });
});

describe('MFA: /mfa/authenticators', () => {
  it('lists with the mfa_token and with an MFA-API access token; DELETE with the MFA-API token removes the factor; DELETE with an mfa_token is 401', async () => {
    await withMfaServer(undefined, async (server) => {
      const { secret } = await enrolledUser(server, ALWAYS_APP, ALICE);

      const mfaToken = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      const byMfaToken = await listAuthenticators(server, mfaToken);
      assert.equal(byMfaToken.status, 200, byMfaToken.text);
      const list = JSON.parse(byMfaToken.text) as Array<Record<string, unknown>>;
      assert.equal(list.length, 2, byMfaToken.text);
      const otp = list.find((a) => a.authenticator_type === 'otp');
      assert.ok(otp && typeof otp.id === 'string' && otp.active === true, byMfaToken.text);
      assert.deepEqual(
        list.find((a) => a.authenticator_type === 'recovery-code'),
        { id: 'recovery-code', authenticator_type: 'recovery-code', active: true },
      );
      assert.ok(!byMfaToken.text.includes(secret), 'the secret is never listed');

      // Issue #11 point 1: the access token that manages factors is one for the MFA API, earned with the second factor.
      const tokens = await mfaApiTokens(server, WEB, ALICE, totpCode(server, secret));
      assertTokens(tokens);
      const bearer = tokens.body.access_token as string;
      const byAccessToken = await listAuthenticators(server, bearer);
      assert.equal(byAccessToken.status, 200, byAccessToken.text);
      assert.deepEqual(JSON.parse(byAccessToken.text), list);

      // An mfa_token cannot remove a factor (only a completed sign-in can).
      const second = await mfaRequired(server, WEB, ALICE, { enrollment: false });
      const refused = await deleteAuthenticator(server, second, otp.id as string);
      assert.equal(refused.status, 401, refused.text);
      assert.equal(refused.body.error, 'invalid_token');
      assert.match(refused.headers.get('www-authenticate') ?? '', /^Bearer /);
      assert.equal((JSON.parse((await listAuthenticators(server, bearer)).text) as unknown[]).length, 2, 'still enrolled');

      const removed = await deleteAuthenticator(server, bearer, otp.id as string);
      assert.equal(removed.status, 204, removed.text);
      assert.deepEqual(JSON.parse((await listAuthenticators(server, bearer)).text), []);
      // Under optional, with no factor left, the password alone signs in again.
      assertTokens(await passwordGrant(server, WEB, ALICE), 'after removal: ');
    });
  });
});

describe('MFA: TOTP steps (RFC 6238 §5.2)', () => {
  it('regression (issue #11 point 10): after a code for step S is accepted, the code for step S-1 is refused; S+1 still works, and then S is refused', async () => {
    await withMfaServer('always', async (server) => {
      const { secret } = await enrolledUser(server);
      // Two steps past the confirming code: step S-1 itself was never used.
      server.clock.advance(30);
      assertTokens(
        await otpGrant(server, WEB, await mfaRequired(server, WEB, ALICE, { enrollment: false }), totpCode(server, secret)),
        'the code of step S: ',
      );

      const earlier = await otpGrant(
        server,
        WEB,
        await mfaRequired(server, WEB, ALICE, { enrollment: false }),
        totpCode(server, secret, -1),
      );
      assertOAuthError(earlier, 400, 'invalid_grant', 'the code of step S-1, after S');
      assert.match(String(earlier.body.error_description), /already been used/, earlier.text);

      // Inside the ±1 window a later step is fine; once it is used, step S (still current) is "earlier" too.
      assertTokens(
        await otpGrant(server, WEB, await mfaRequired(server, WEB, ALICE, { enrollment: false }), totpCode(server, secret, 1)),
        'the code of step S+1: ',
      );
      assertOAuthError(
        await otpGrant(server, WEB, await mfaRequired(server, WEB, ALICE, { enrollment: false }), totpCode(server, secret)),
        400,
        'invalid_grant',
        'the code of step S, after S+1',
      );
    });
  });
});
