/**
 * Issue #11 point 1 (security report finding H1): the factors of a user are
 * managed with Auth0's MFA API, audience `{issuer}mfa/`, never with just any
 * access token of the user. Black-box over HTTP on a real server (and the
 * real CLI for a block):
 *
 * - a password grant for the MFA API always answers mfa_required, at an
 *   `mfa: never` application and on the Entra path too; the MFA grant then
 *   gives a 10-minute RS256 token with amr `mfa` and no refresh token;
 * - GET /mfa/authenticators takes the unspent mfa_token or an MFA-API token
 *   with read:authenticators; DELETE only an MFA-API token with
 *   remove:authenticators whose second factor is at most 5 minutes old;
 *   anything else is 401 invalid_token or 403 insufficient_scope with the
 *   RFC 6750 challenge; a blocked user is refused;
 * - a removal writes a security event and emails the user.
 *
 * Time passes only through server.clock.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configProblems } from '../helpers/config-problems.js';
import { operatorCli } from '../helpers/cli-process.js';
import { ALICE, API, API_ES256, BASIC, ENTRA, JOE, WEB } from '../helpers/fixtures.js';
import { basic, decodeJwt, postForm, type JsonResponse } from '../helpers/http.js';
import { Outbox } from '../helpers/mfa-email.js';
import {
  ALWAYS_APP,
  NEVER_APP,
  deleteAuthenticator,
  enrolledUser,
  listAuthenticators,
  mfaApiAudience,
  mfaApiTokens,
  mfaRequired,
  otpGrant,
  withMfaServer,
  passwordGrant,
  totpCode,
} from '../helpers/mfa-otp.js';
import { TEST_MASTER_KEY, type TestServer } from '../helpers/server.js';
import { assertOAuthError } from '../helpers/token-requests.js';

/** The id of the user's TOTP factor, listed with a fresh mfa_token (the sign-in in progress). */
async function otpFactorId(server: TestServer): Promise<string> {
  const listed = await listAuthenticators(server, await mfaRequired(server, WEB, ALICE, { enrollment: false }));
  assert.equal(listed.status, 200, listed.text);
  const otp = (JSON.parse(listed.text) as Array<Record<string, unknown>>).find((a) => a.authenticator_type === 'otp' && a.active === true);
  assert.ok(otp && typeof otp.id === 'string', listed.text);
  return otp.id;
}

function accessToken(res: JsonResponse, what: string): string {
  assert.equal(res.status, 200, `${what}: ${res.text}`);
  assert.equal(typeof res.body.access_token, 'string', res.text);
  return res.body.access_token as string;
}

/** RFC 6750 §3.1: the status, the error code, and the same code in the Bearer challenge (with the scope for insufficient_scope). */
function assertBearerRefusal(res: JsonResponse, status: 401 | 403, what: string, scope?: string): void {
  assertOAuthError(res, status, status === 401 ? 'invalid_token' : 'insufficient_scope', what);
  const challenge = res.headers.get('www-authenticate') ?? '';
  assert.match(
    challenge,
    new RegExp(`^Bearer realm="latchkey", error="${status === 401 ? 'invalid_token' : 'insufficient_scope'}"`),
    `${what}: ${challenge}`,
  );
  if (scope !== undefined) assert.ok(challenge.endsWith(`scope="${scope}"`), `${what}: ${challenge}`);
}

describe('issue #11 point 1: the MFA API ({issuer}mfa/) guards the authenticators API', () => {
  it("regression (issue #11 point 1): a password-only access token (an mfa: never application, another API, userinfo) can neither list nor remove the victim's factors, and the victim's factor still works", async () => {
    await withMfaServer('optional', async (server) => {
      const { secret } = await enrolledUser(server, ALWAYS_APP, ALICE);
      const factorId = await otpFactorId(server);

      // The attacker knows only the password; the `never` application skips the second factor.
      const passwordOnly = {
        'a token for another API': accessToken(await passwordGrant(server, NEVER_APP, ALICE, { audience: API_ES256 }), 'another API'),
        'a token for the API and userinfo': accessToken(
          await passwordGrant(server, NEVER_APP, ALICE, { audience: API, scope: 'openid read:sample' }),
          'API + openid',
        ),
      };
      for (const [what, token] of Object.entries(passwordOnly)) {
        assertBearerRefusal(await listAuthenticators(server, token), 401, `list with ${what}`);
        assertBearerRefusal(await deleteAuthenticator(server, token, factorId), 401, `delete with ${what}`);
      }
      // Nor does the `never` application hand out the MFA API without the second factor.
      const forMfaApi = await passwordGrant(server, NEVER_APP, ALICE, { audience: mfaApiAudience(server) });
      assertOAuthError(forMfaApi, 403, 'mfa_required', 'the MFA API at the mfa: never application');

      // The victim's factor is untouched and still completes her sign-in.
      assert.equal(await otpFactorId(server), factorId);
      const signIn = await otpGrant(server, WEB, await mfaRequired(server, WEB, ALICE, { enrollment: false }), totpCode(server, secret));
      accessToken(signIn, "the victim's own code");
    });
  });

  it('the password grant for the MFA API always asks for a second factor (mfa: never application, Entra path, a user with no factor); the MFA grant gives a 10-minute RS256 token with amr mfa and no refresh token', async () => {
    await withMfaServer('optional', async (server) => {
      const audience = mfaApiAudience(server);
      // No factor yet: enrolment first, even where the policy says never.
      await mfaRequired(server, NEVER_APP, JOE, { enrollment: true }, { audience });
      const { secret } = await enrolledUser(server, ALWAYS_APP, ALICE);
      await mfaRequired(server, NEVER_APP, ALICE, { enrollment: false }, { audience });
      // MSAL's way of naming the API: `{identifier}/{scope}` on the Entra path.
      const entra = await postForm(server.at('/oauth2/v2.0/token'), {
        grant_type: 'password',
        client_id: ENTRA.client_id,
        username: ALICE.username,
        password: ALICE.password,
        scope: `${audience}read:authenticators`,
      });
      assertOAuthError(entra, 403, 'mfa_required', 'Entra path');

      const tokens = await mfaApiTokens(
        server,
        WEB,
        ALICE,
        totpCode(server, secret),
        'openid offline_access read:authenticators remove:authenticators',
      );
      const { header, payload } = decodeJwt(accessToken(tokens, 'mfa-otp for the MFA API'));
      assert.equal(header.alg, 'RS256');
      assert.ok((Array.isArray(payload.aud) ? payload.aud : [payload.aud]).includes(audience), JSON.stringify(payload.aud));
      assert.deepEqual(
        String(payload.scope)
          .split(' ')
          .filter((s) => s.includes(':'))
          .sort(),
        ['read:authenticators', 'remove:authenticators'],
      );
      assert.deepEqual(payload.amr, ['pwd', 'otp', 'mfa']);
      assert.equal(tokens.body.expires_in, 600);
      assert.equal(tokens.body.refresh_token, undefined, 'no refresh token for the MFA API');
    });
  });

  it('DELETE with the MFA-API token removes the factor, writes mfa_authenticator_removed and emails the user (which factor, when, from where; no secret)', async () => {
    await withMfaServer('optional', async (server) => {
      const outbox = new Outbox(join(server.dir, 'outbox'));
      const { secret, recoveryCode } = await enrolledUser(server, ALWAYS_APP, ALICE);
      const factorId = await otpFactorId(server);
      const token = accessToken(await mfaApiTokens(server, WEB, ALICE, totpCode(server, secret)), 'MFA-API token');
      outbox.take();

      const removed = await deleteAuthenticator(server, token, factorId);
      assert.equal(removed.status, 204, removed.text);
      assert.equal((await deleteAuthenticator(server, token, factorId)).status, 404, 'already gone');
      assert.deepEqual(JSON.parse((await listAuthenticators(server, token)).text), [], 'no factor and no recovery code left');

      const [mail, ...more] = outbox.take();
      assert.ok(mail, 'one email to the user');
      assert.deepEqual(more, []);
      assert.equal(mail.to, ALICE.username);
      assert.match(mail.subject, /removed/i);
      assert.match(mail.text, /authenticator app/);
      assert.match(mail.text, /From IP address: 127\.0\.0\.1\n/);
      assert.ok(mail.text.includes(server.clock.now().toISOString().slice(0, 16)), `when: ${mail.text}`);
      assert.match(mail.text, /If it was not you/);
      for (const leaked of [secret, recoveryCode, token, factorId])
        assert.ok(!mail.text.includes(leaked), 'no secret, code, token or id in the mail');

      const events = server.logs
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.security_event === 'mfa_authenticator_removed');
      assert.equal(events.length, 1, JSON.stringify(events));
      assert.equal(events[0]?.reason, 'user');
      assert.equal(events[0]?.client_id, WEB.client_id);
      assert.equal(events[0]?.ip, '127.0.0.1');
      assert.deepEqual(events[0]?.details, { authenticator_id: factorId, authenticator_type: 'otp' });
      assert.ok(!server.logs.some((l) => l.includes(token) || l.includes(secret)), 'the token and secret never reach the log');

      // Under optional, with no factor left, the password alone signs in again.
      accessToken(await passwordGrant(server, WEB, ALICE), 'password alone after the removal');
    });
  });

  it('without the scope: 403 insufficient_scope naming it; a second factor older than 5 minutes cannot remove; a spent mfa_token and an expired token are 401', async () => {
    await withMfaServer('optional', async (server) => {
      const { secret } = await enrolledUser(server, ALWAYS_APP, ALICE);
      const factorId = await otpFactorId(server);
      const mfaToken = await mfaRequired(
        server,
        WEB,
        ALICE,
        { enrollment: false },
        { audience: mfaApiAudience(server), scope: 'read:authenticators' },
      );
      const reader = accessToken(await otpGrant(server, WEB, mfaToken, totpCode(server, secret)), 'read-only MFA-API token');
      assert.equal((await listAuthenticators(server, reader)).status, 200);
      assertBearerRefusal(
        await deleteAuthenticator(server, reader, factorId),
        403,
        'delete without remove:authenticators',
        'remove:authenticators',
      );
      assertBearerRefusal(await listAuthenticators(server, mfaToken), 401, 'the mfa_token, spent by the MFA grant');

      server.clock.advance(30);
      const remover = accessToken(
        await mfaApiTokens(server, WEB, ALICE, totpCode(server, secret), 'remove:authenticators'),
        'remove-only MFA-API token',
      );
      assertBearerRefusal(await listAuthenticators(server, remover), 403, 'list without read:authenticators', 'read:authenticators');

      // Valid for 10 minutes, but removing needs the second factor within the last 5.
      server.clock.advance(301);
      const stale = await deleteAuthenticator(server, remover, factorId);
      assertBearerRefusal(stale, 403, 'delete 5 minutes after the second factor', 'remove:authenticators');
      assert.match(String(stale.body.error_description), /sign in again/);
      assert.equal(await otpFactorId(server), factorId, 'still enrolled');

      server.clock.advance(300);
      assertBearerRefusal(await listAuthenticators(server, reader), 401, 'an expired MFA-API token');
    });
  });

  it("a blocked user's MFA-API token and mfa_token are refused at every authenticators call", async () => {
    await withMfaServer('optional', async (server, tenant) => {
      const { secret } = await enrolledUser(server, ALWAYS_APP, ALICE);
      const factorId = await otpFactorId(server);
      const token = accessToken(await mfaApiTokens(server, WEB, ALICE, totpCode(server, secret)), 'MFA-API token');
      const mfaToken = await mfaRequired(server, WEB, ALICE, { enrollment: false });

      const blocked = await operatorCli(server.dir, [tenant], TEST_MASTER_KEY)(['users', 'block', ALICE.username]);
      assert.equal(blocked.code, 0, `users block: ${blocked.stdout}\n${blocked.stderr}`);

      assertBearerRefusal(await listAuthenticators(server, token), 401, "a blocked user's MFA-API token, list");
      assertBearerRefusal(await deleteAuthenticator(server, token, factorId), 401, "a blocked user's MFA-API token, delete");
      assertBearerRefusal(await listAuthenticators(server, mfaToken), 401, "a blocked user's mfa_token, list");
    });
  });

  it('client_credentials never gets the MFA API (403 access_denied); declaring an API with its identifier is a configuration error', async () => {
    await withMfaServer('optional', async (server) => {
      const res = await postForm(
        server.at('/oauth/token'),
        { grant_type: 'client_credentials', audience: mfaApiAudience(server) },
        basic(BASIC.client_id, BASIC.client_secret),
      );
      assertOAuthError(res, 403, 'access_denied', 'client_credentials for the MFA API');
      assert.equal(res.body.access_token, undefined);
    });
    const problems = configProblems({
      public_url: 'https://id.example',
      tenants: [{ name: 'acme', apis: [{ identifier: 'https://id.example/acme/mfa/' }] }],
    });
    assert.ok(
      problems.some((p) => /^tenants\[0\]\.apis\[0\]\.identifier: .*built-in MFA API/.test(p)),
      problems.join('\n'),
    );
  });
});
