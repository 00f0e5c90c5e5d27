/**
 * Auth0's @auth0/auth0-auth-js (the official JS SDK with MFA calls),
 * unchanged, against Latchkey's MFA inside the password flow (issue #4)
 * over real HTTPS.
 *
 * The SDK builds every URL from `domain` (see helpers/auth0-auth-js.ts):
 * discovery through openid-client at `https://{domain}` (strict issuer
 * check), the token endpoint from discovery, and the MFA API as
 * `https://{domain}/mfa/associate|challenge|authenticators`. With
 * `domain: '127.0.0.1:PORT/acme/'` discovery finds the issuer
 * `https://127.0.0.1:PORT/acme/` byte for byte, and the MFA calls go to
 * `/acme//mfa/...`, which Latchkey's router reads as `/acme/mfa/...`.
 *
 * Calls the SDK has and that are driven here: getTokenByPassword (its
 * mfa_required error carries the mfa_token), mfa.enrollAuthenticator (otp;
 * oob with the email channel), mfa.challengeAuthenticator (otp, oob),
 * mfa.verify (otp, oob, recovery-code), mfa.listAuthenticators (with the
 * mfa_token), mfa.deleteAuthenticator (with an access token for the MFA
 * API, `{issuer}mfa/`, earned through the second factor: issue #11 point 1).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type AuthClient,
  MfaDeleteAuthenticatorError,
  MfaVerifyError,
  TokenByPasswordError,
  isMfaRequiredError,
  type OtpEnrollmentResponse,
  type TokenResponse,
} from '@auth0/auth0-auth-js';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { alignClockToStepStart, auth0AuthClient, sdkError, totpAt } from '../helpers/auth0-auth-js.js';
import { ALICE, API, JOE, WEB, acmeFixture } from '../helpers/fixtures.js';
import { MFA_GRANT_TYPES, Outbox } from '../helpers/mfa-email.js';
import { startHttpsTestServer, tlsUnavailableReason, type HttpsTestServer } from '../helpers/tls.js';
import { audiences, scopeList } from '../helpers/token-checks.js';

const SIGN_IN = { audience: API, scope: 'openid profile offline_access read:sample' };
const JOE_EMAIL = 'joe@acme.test';

describe('@auth0/auth0-auth-js MFA calls against Latchkey over HTTPS', { skip: tlsUnavailableReason() }, () => {
  let https: HttpsTestServer;
  let auth0: AuthClient;
  let outbox: Outbox;
  let keys: ReturnType<typeof createLocalJWKSet>;

  /** State carried from one step of the scenario to the next (node:test runs a describe's tests in order). */
  let otpEnrollment: OtpEnrollmentResponse;
  /** The sign-in that enrolled: only its mfa_token can confirm the enrollment (issue #11 point 2). */
  let enrollmentMfaToken: string;
  let aliceTokens: TokenResponse;

  before(async () => {
    const { tenant } = await acmeFixture();
    const applications = (tenant.applications ?? []).map((app) =>
      app.client_id === WEB.client_id ? { ...app, grant_types: [...MFA_GRANT_TYPES] } : app,
    );
    https = await startHttpsTestServer({ tenants: [{ ...tenant, mfa: 'always', applications }] });
    outbox = new Outbox(join(https.server.dir, 'outbox'));
    auth0 = auth0AuthClient(https, WEB);
    keys = createLocalJWKSet((await https.get(`${https.issuer()}.well-known/jwks.json`)).body as unknown as JSONWebKeySet);
    alignClockToStepStart(https.server);
  });
  after(() => https?.close());

  const verifyAccessToken = async (token: string): Promise<JWTPayload> =>
    (await jwtVerify(token, keys, { issuer: https.issuer(), audience: API })).payload;

  /** getTokenByPassword (SIGN_IN unless `request` says otherwise) must fail with the SDK's MFA-required error; returns its mfa_token. */
  async function mfaTokenFor(
    user: { username: string; password: string },
    request: { audience?: string; scope?: string } = SIGN_IN,
  ): Promise<string> {
    const err = await sdkError(
      auth0.getTokenByPassword({ username: user.username, password: user.password, ...request }),
      TokenByPasswordError,
    );
    assert.equal(err.statusCode, 403);
    assert.equal(err.cause?.error, 'mfa_required');
    assert.equal(err.cause?.error_description, 'Multifactor authentication required');
    assert.ok(isMfaRequiredError(err), `the SDK's own predicate recognises it: ${JSON.stringify(err.cause)}`);
    const token = err.cause?.mfa_token ?? assert.fail('no mfa_token on the SDK error');
    assert.ok(token.startsWith('mfa.'), token);
    return token;
  }

  /** The tokens of a completed MFA sign-in: the password grant's audience and scopes, amr with `factor`. */
  async function assertSignedIn(tokens: TokenResponse, factor: 'otp' | 'mail' | 'kba'): Promise<{ access: JWTPayload; amr: unknown }> {
    assert.equal(tokens.tokenType?.toLowerCase(), 'bearer');
    assert.equal(typeof tokens.refreshToken, 'string', 'offline_access from the password grant carries over');
    assert.equal(typeof tokens.idToken, 'string');
    const access = await verifyAccessToken(tokens.accessToken);
    assert.ok(audiences(access).includes(API), `audience of the password grant: ${JSON.stringify(access.aud)}`);
    assert.ok(scopeList(access.scope).includes('read:sample'));
    // tokens.claims is the id_token as openid-client validated it (iss === discovered issuer, aud === client_id, signature).
    const claims = tokens.claims ?? assert.fail('no id_token claims');
    assert.equal(claims.iss, https.issuer());
    assert.equal(claims.aud, WEB.client_id);
    assert.deepEqual(claims.amr, ['pwd', factor, 'mfa']);
    assert.deepEqual(decodeJwt(tokens.accessToken).amr, ['pwd', factor, 'mfa'], 'amr in the access token too');
    assert.equal(access.sub, claims.sub);
    return { access, amr: claims.amr };
  }

  it('domain "host/acme" (no trailing slash) fails the SDK\'s discovery issuer check: https://host/acme ≠ https://host/acme/', async () => {
    const noSlash = auth0AuthClient(https, WEB, `${https.host}/acme`);
    await assert.rejects(noSlash.getTokenByPassword({ username: ALICE.username, password: ALICE.password, ...SIGN_IN }), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, /issuer does not match/);
      return true;
    });
  });

  it('getTokenByPassword → TokenByPasswordError that isMfaRequiredError recognises, with the mfa_token (status 403)', async () => {
    await mfaTokenFor(ALICE);
  });

  it('mfa.enrollAuthenticator (otp) returns the secret, the otpauth barcode URI and one recovery code', async () => {
    enrollmentMfaToken = await mfaTokenFor(ALICE);
    const enrollment = await auth0.mfa.enrollAuthenticator({ authenticatorTypes: ['otp'], mfaToken: enrollmentMfaToken });
    assert.equal(enrollment.authenticatorType, 'otp');
    otpEnrollment = enrollment as OtpEnrollmentResponse;
    assert.match(otpEnrollment.secret, /^[A-Z2-7]+=*$/, 'base32');
    assert.ok(otpEnrollment.barcodeUri.startsWith('otpauth://totp/'), otpEnrollment.barcodeUri);
    assert.ok(otpEnrollment.barcodeUri.includes(`secret=${otpEnrollment.secret}`));
    assert.equal(otpEnrollment.recoveryCodes?.length, 1);
    assert.equal(typeof otpEnrollment.recoveryCodes?.[0], 'string');
  });

  it('mfa.verify (otp) with a wrong code → MfaVerifyError invalid_grant', async () => {
    const mfaToken = enrollmentMfaToken;
    const good = new Set([-1, 0, 1].map((s) => totpAt(https.server, otpEnrollment.secret, s)));
    const wrong = ['000000', '111111', '222222', '333333'].find((c) => !good.has(c)) ?? assert.fail();
    const err = await sdkError(auth0.mfa.verify({ mfaToken, factorType: 'otp', otp: wrong }), MfaVerifyError);
    assert.equal(err.cause?.error, 'invalid_grant', JSON.stringify(err.cause));
    assert.equal(err.statusCode, 400);
  });

  it('mfa.verify (otp) with the computed code and the enrolling mfa_token → tokens for the API, id_token amr [pwd, otp, mfa] (this confirms the enrollment)', async () => {
    const mfaToken = enrollmentMfaToken;
    aliceTokens = await auth0.mfa.verify({ mfaToken, factorType: 'otp', otp: totpAt(https.server, otpEnrollment.secret) });
    await assertSignedIn(aliceTokens, 'otp');
  });

  it('second sign-in: mfa.listAuthenticators (mfa_token) → challengeAuthenticator (otp) → verify', async () => {
    const mfaToken = await mfaTokenFor(ALICE);
    const listed = await auth0.mfa.listAuthenticators({ mfaToken });
    const otp = listed.find((a) => a.authenticatorType === 'otp') ?? assert.fail(JSON.stringify(listed));
    assert.equal(otp.active, true, 'confirmed by the first verify');
    assert.equal(typeof otp.id, 'string');
    assert.ok(
      listed.some((a) => a.authenticatorType === 'recovery-code' && a.id === 'recovery-code'),
      JSON.stringify(listed),
    );

    const challenge = await auth0.mfa.challengeAuthenticator({ challengeType: 'otp', mfaToken });
    assert.deepEqual(challenge, { challengeType: 'otp' });
    // The previous step's code was spent; the next step's is within the ±1 window.
    const tokens = await auth0.mfa.verify({ mfaToken, factorType: 'otp', otp: totpAt(https.server, otpEnrollment.secret, 1) });
    await assertSignedIn(tokens, 'otp');
  });

  it('mfa.verify (recovery-code) → tokens with amr kba and the next recovery code; the used one is then refused', async () => {
    const used = otpEnrollment.recoveryCodes?.[0] ?? assert.fail();
    const tokens = await auth0.mfa.verify({ mfaToken: await mfaTokenFor(ALICE), factorType: 'recovery-code', recoveryCode: used });
    await assertSignedIn(tokens, 'kba');
    assert.equal(typeof tokens.recoveryCode, 'string', 'the SDK surfaces recovery_code from the token response');
    assert.notEqual(tokens.recoveryCode, used);

    const again = await sdkError(
      auth0.mfa.verify({ mfaToken: await mfaTokenFor(ALICE), factorType: 'recovery-code', recoveryCode: used }),
      MfaVerifyError,
    );
    assert.equal(again.cause?.error, 'invalid_grant', JSON.stringify(again.cause));
  });

  it('mfa.deleteAuthenticator with an MFA-API access token (getTokenByPassword with audience {issuer}mfa/ → mfa_required → mfa.verify) removes the otp factor; the mfa_token and an access token for another API are refused', async () => {
    // Listing is how an app picks the factor: with the mfa_token of the sign-in in progress (Auth0's docs).
    const before = await auth0.mfa.listAuthenticators({ mfaToken: await mfaTokenFor(ALICE) });
    const otp = before.find((a) => a.authenticatorType === 'otp') ?? assert.fail(JSON.stringify(before));

    // The SDK sends whatever is passed as mfaToken as the Bearer: neither of these may remove a factor (issue #11 point 1).
    const withMfaToken = await sdkError(
      auth0.mfa.deleteAuthenticator({ authenticatorId: otp.id, mfaToken: await mfaTokenFor(ALICE) }),
      MfaDeleteAuthenticatorError,
    );
    assert.equal(withMfaToken.statusCode, 401, JSON.stringify(withMfaToken.cause));
    assert.equal(withMfaToken.cause?.error, 'invalid_token', JSON.stringify(withMfaToken.cause));
    const withApiToken = await sdkError(
      auth0.mfa.deleteAuthenticator({ authenticatorId: otp.id, mfaToken: aliceTokens.accessToken }),
      MfaDeleteAuthenticatorError,
    );
    assert.equal(withApiToken.statusCode, 401, JSON.stringify(withApiToken.cause));
    assert.equal(withApiToken.cause?.error, 'invalid_token', JSON.stringify(withApiToken.cause));

    // Auth0's documented way: the MFA API audience, through the second factor. Steps S and S+1 are spent: move to S+2.
    https.server.clock.advance(60);
    const mfaApi = `${https.issuer()}mfa/`;
    const mfaToken = await mfaTokenFor(ALICE, { audience: mfaApi, scope: 'remove:authenticators' });
    const mfaApiTokens = await auth0.mfa.verify({ mfaToken, factorType: 'otp', otp: totpAt(https.server, otpEnrollment.secret) });
    assert.deepEqual(decodeJwt(mfaApiTokens.accessToken).aud, mfaApi);
    await auth0.mfa.deleteAuthenticator({ authenticatorId: otp.id, mfaToken: mfaApiTokens.accessToken });
    const [notice, ...others] = outbox.take();
    assert.equal(notice?.to, ALICE.username, 'the user is told by email');
    assert.match(notice?.subject ?? '', /removed/);
    assert.deepEqual(others, []);
    const afterDelete = await auth0.mfa.listAuthenticators({ mfaToken: await mfaTokenFor(ALICE) });
    assert.ok(!afterDelete.some((a) => a.id === otp.id), JSON.stringify(afterDelete));

    // Under `mfa: always` with no factor left, the next sign-in asks for enrollment again, and enrollment is open.
    const reenrolled = await auth0.mfa.enrollAuthenticator({ authenticatorTypes: ['otp'], mfaToken: await mfaTokenFor(ALICE) });
    assert.equal(reenrolled.authenticatorType, 'otp');
  });

  it('mfa.enrollAuthenticator (oob, email channel) → the emailed code → mfa.verify (oob) → tokens with amr [pwd, mail, mfa]', async () => {
    const mfaToken = await mfaTokenFor(JOE);
    const enrollment = await auth0.mfa.enrollAuthenticator({
      authenticatorTypes: ['oob'],
      oobChannels: ['email'],
      email: JOE_EMAIL,
      mfaToken,
    });
    assert.equal(enrollment.authenticatorType, 'oob');
    if (enrollment.authenticatorType !== 'oob') return;
    assert.equal(enrollment.oobChannel, 'email');
    assert.equal(enrollment.bindingMethod, 'prompt');
    assert.equal(enrollment.recoveryCodes?.length, 1);
    const oobCode = enrollment.oobCode ?? assert.fail('no oob_code');
    const bindingCode = outbox.takeCode(JOE_EMAIL, 'enrollment email');
    await assertSignedIn(await auth0.mfa.verify({ mfaToken, factorType: 'oob', oobCode, bindingCode }), 'mail');
  });

  it('second sign-in by email: listAuthenticators → challengeAuthenticator (oob, authenticatorId) → the new emailed code → verify', async () => {
    const mfaToken = await mfaTokenFor(JOE);
    const listed = await auth0.mfa.listAuthenticators({ mfaToken });
    const email = listed.find((a) => a.authenticatorType === 'oob') ?? assert.fail(JSON.stringify(listed));
    assert.equal(email.active, true);
    assert.equal(email.name, 'j**@acme.test', 'the address is shown masked');
    const challenge = await auth0.mfa.challengeAuthenticator({ challengeType: 'oob', authenticatorId: email.id, mfaToken });
    assert.equal(challenge.challengeType, 'oob');
    assert.equal(challenge.bindingMethod, 'prompt');
    const oobCode = challenge.oobCode ?? assert.fail('no oob_code');
    const bindingCode = outbox.takeCode(JOE_EMAIL, 'challenge email');
    await assertSignedIn(await auth0.mfa.verify({ mfaToken, factorType: 'oob', oobCode, bindingCode }), 'mail');
  });
});
