/**
 * Helpers for the TOTP / recovery-code MFA suite (issue #4): the password
 * grant that should answer mfa_required, enrollment, and TOTP codes computed
 * at the server's (test) clock. Plain HTTP only.
 */
import assert from 'node:assert/strict';
import { Secret, TOTP } from 'otpauth';
import { acmeFixture, ALICE, NATIVE, WEB } from './fixtures.js';
import { get, postForm, postJson, toJson, type JsonResponse } from './http.js';
import { startTestServer, type TenantInput, type TestServer } from './server.js';
import type { ClientCredentials, UserCredentials } from './token-requests.js';

export const MFA_OTP = 'http://auth0.com/oauth/grant-type/mfa-otp';
export const MFA_OOB = 'http://auth0.com/oauth/grant-type/mfa-oob';
export const MFA_RECOVERY_CODE = 'http://auth0.com/oauth/grant-type/mfa-recovery-code';
export const MFA_GRANTS = [MFA_OTP, MFA_OOB, MFA_RECOVERY_CODE] as const;

const STEP_MS = 30_000;

export type MfaPolicy = 'never' | 'optional' | 'always';

/** Confidential clients of the same tenant whose `mfa` overrides the tenant's policy. */
export const ALWAYS_APP = { client_id: 'acme-mfa-always', client_secret: 'acme-mfa-always-secret-0123456' };
export const NEVER_APP = { client_id: 'acme-mfa-never', client_secret: 'acme-mfa-never-secret-01234567' };

/** acme with `mfa: policy` (tenant default when undefined); WEB, NATIVE, ALWAYS_APP and NEVER_APP may use the MFA grants. */
export async function mfaOtpTenant(policy: MfaPolicy | undefined): Promise<TenantInput> {
  const grants = ['password', 'refresh_token', ...MFA_GRANTS] as const;
  const { tenant } = await acmeFixture();
  const applications = (tenant.applications ?? []).map((app) =>
    app.client_id === WEB.client_id || app.client_id === NATIVE.client_id ? { ...app, grant_types: [...grants] } : app,
  );
  return {
    ...tenant,
    ...(policy === undefined ? {} : { mfa: policy }),
    applications: [
      ...applications,
      { ...ALWAYS_APP, token_endpoint_auth_method: 'client_secret_post', grant_types: [...grants], mfa: 'always' },
      { ...NEVER_APP, token_endpoint_auth_method: 'client_secret_post', grant_types: [...grants], mfa: 'never' },
    ],
  };
}

export function clientParams(client: ClientCredentials): Record<string, string> {
  return client.client_secret === undefined
    ? { client_id: client.client_id }
    : { client_id: client.client_id, client_secret: client.client_secret };
}

/** A password grant; returns whatever the server answers. */
export async function passwordGrant(
  server: TestServer,
  client: ClientCredentials,
  user: UserCredentials,
  extra: Record<string, string> = {},
): Promise<JsonResponse> {
  return postForm(server.at('/oauth/token'), {
    grant_type: 'password',
    username: user.username,
    password: user.password,
    ...extra,
    ...clientParams(client),
  });
}

/** A password grant that must answer 403 mfa_required; returns the mfa_token. */
export async function mfaRequired(
  server: TestServer,
  client: ClientCredentials,
  user: UserCredentials,
  expect: { enrollment: boolean },
  extra: Record<string, string> = {},
): Promise<string> {
  const res = await passwordGrant(server, client, user, extra);
  assert.equal(res.status, 403, res.text);
  assert.equal(res.body.error, 'mfa_required', res.text);
  if (expect.enrollment) assert.equal(res.body.error_reason, 'mfa_enrollment_required', res.text);
  else assert.equal(res.body.error_reason, undefined, res.text);
  assert.equal(typeof res.body.mfa_token, 'string', res.text);
  const token = res.body.mfa_token as string;
  assert.ok(token.startsWith('mfa.'), token);
  return token;
}

/** POST /mfa/associate for an OTP authenticator; returns whatever the server answers. */
export async function associateOtp(server: TestServer, client: ClientCredentials, mfaToken: string): Promise<JsonResponse> {
  return postJson(
    server.at('/mfa/associate'),
    { ...clientParams(client), authenticator_types: ['otp'] },
    { authorization: `Bearer ${mfaToken}` },
  );
}

/** Enrolls an OTP authenticator (asserting success); returns its secret and recovery code. */
export async function enrollOtp(
  server: TestServer,
  client: ClientCredentials,
  mfaToken: string,
): Promise<{ secret: string; recoveryCode: string; barcodeUri: string }> {
  const res = await associateOtp(server, client, mfaToken);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.authenticator_type, 'otp', res.text);
  const codes = res.body.recovery_codes as unknown;
  assert.ok(Array.isArray(codes) && codes.length === 1 && typeof codes[0] === 'string', res.text);
  return { secret: res.body.secret as string, barcodeUri: res.body.barcode_uri as string, recoveryCode: codes[0] as string };
}

/** The TOTP code of `secret` at the server clock, `steps` 30-second steps away. */
export function totpCode(server: TestServer, secret: string, steps = 0): string {
  return new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: server.clock.now().getTime() + steps * STEP_MS });
}

/** The TOTP code of `secret` for the 30-second step `step` (Unix time / 30), for servers in other processes (no shared clock). */
export function codeForStep(secret: string, step: number): string {
  return new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: step * STEP_MS });
}

/** A 6-digit code that none of the steps -2..+2 of `secret` produces at the server clock. */
export function wrongCode(server: TestServer, secret: string): string {
  const valid = new Set([-2, -1, 0, 1, 2].map((s) => totpCode(server, secret, s)));
  let n = Number(totpCode(server, secret));
  let code: string;
  do {
    n = (n + 1) % 1_000_000;
    code = String(n).padStart(6, '0');
  } while (valid.has(code));
  return code;
}

/**
 * Moves the server clock to one second into the next TOTP step, so a test
 * has ~29 s of real time before a step boundary shifts what ±1 means.
 */
export function alignToStep(server: TestServer): void {
  const into = server.clock.now().getTime() % STEP_MS;
  server.clock.advance((STEP_MS - into + 1000) / 1000);
}

/** The mfa-otp grant; returns whatever the server answers. */
export async function otpGrant(server: TestServer, client: ClientCredentials, mfaToken: string, otp: string): Promise<JsonResponse> {
  return postForm(server.at('/oauth/token'), { grant_type: MFA_OTP, mfa_token: mfaToken, otp, ...clientParams(client) });
}

/** The mfa-recovery-code grant; returns whatever the server answers. */
export async function recoveryGrant(
  server: TestServer,
  client: ClientCredentials,
  mfaToken: string,
  recoveryCode: string,
): Promise<JsonResponse> {
  return postForm(server.at('/oauth/token'), {
    grant_type: MFA_RECOVERY_CODE,
    mfa_token: mfaToken,
    recovery_code: recoveryCode,
    ...clientParams(client),
  });
}

/** A server for mfaOtpTenant(policy), its clock one second into a TOTP step; closed once `work` is done. */
export async function withMfaServer(
  policy: MfaPolicy | undefined,
  work: (server: TestServer, tenant: TenantInput) => Promise<void>,
): Promise<void> {
  const tenant = await mfaOtpTenant(policy);
  const server = await startTestServer({ tenants: [tenant] });
  try {
    alignToStep(server);
    await work(server, tenant);
  } finally {
    await server.close();
  }
}

/**
 * Enrolls `user` through `client` (whose policy asks for enrollment) and
 * confirms the factor with its first code; then moves the clock one step on,
 * so the next code is for a later step. Returns the secret and recovery code.
 */
export async function enrolledUser(
  server: TestServer,
  client: ClientCredentials = WEB,
  user: UserCredentials = ALICE,
): Promise<{ secret: string; recoveryCode: string }> {
  const mfaToken = await mfaRequired(server, client, user, { enrollment: true });
  const { secret, recoveryCode } = await enrollOtp(server, client, mfaToken);
  const confirmed = await otpGrant(server, client, mfaToken, totpCode(server, secret));
  assert.equal(confirmed.status, 200, `confirming the enrollment: ${confirmed.text}`);
  server.clock.advance(30);
  return { secret, recoveryCode };
}

/** The tenant's built-in MFA API: `{issuer}mfa/`. */
export function mfaApiAudience(server: TestServer, tenant = 'acme'): string {
  return `${server.issuer(tenant)}mfa/`;
}

/** Auth0's way to an MFA-API access token: the password grant with that audience → mfa_required → mfa-otp with `otp`; returns the answer. */
export async function mfaApiTokens(
  server: TestServer,
  client: ClientCredentials,
  user: UserCredentials,
  otp: string,
  scope?: string,
): Promise<JsonResponse> {
  const mfaToken = await mfaRequired(
    server,
    client,
    user,
    { enrollment: false },
    { audience: mfaApiAudience(server), ...(scope === undefined ? {} : { scope }) },
  );
  return otpGrant(server, client, mfaToken, otp);
}

/** GET /mfa/authenticators with a Bearer value; returns whatever the server answers. */
export function listAuthenticators(server: TestServer, bearer: string): Promise<JsonResponse> {
  return get(server.at('/mfa/authenticators'), { authorization: `Bearer ${bearer}` });
}

/** DELETE /mfa/authenticators/ID with a Bearer value; returns whatever the server answers. */
export async function deleteAuthenticator(server: TestServer, bearer: string, id: string): Promise<JsonResponse> {
  return toJson(
    await fetch(server.at(`/mfa/authenticators/${encodeURIComponent(id)}`), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${bearer}` },
    }),
  );
}

/** POST /mfa/challenge with challenge_type otp; returns whatever the server answers. */
export async function challengeOtp(server: TestServer, client: ClientCredentials, mfaToken: string): Promise<JsonResponse> {
  return postJson(server.at('/mfa/challenge'), { ...clientParams(client), mfa_token: mfaToken, challenge_type: 'otp' });
}
