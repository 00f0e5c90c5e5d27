/**
 * Helpers for the MFA-by-email suite: the development outbox read as a user
 * reads a mailbox, and the requests of Auth0's MFA API for the password flow.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { get, postForm, postJson, type JsonResponse } from './http.js';
import type { TestServer } from './server.js';

export const MFA_OTP_GRANT = 'http://auth0.com/oauth/grant-type/mfa-otp';
export const MFA_OOB_GRANT = 'http://auth0.com/oauth/grant-type/mfa-oob';
export const MFA_RECOVERY_CODE_GRANT = 'http://auth0.com/oauth/grant-type/mfa-recovery-code';
export const MFA_GRANT_TYPES = ['password', 'refresh_token', MFA_OTP_GRANT, MFA_OOB_GRANT, MFA_RECOVERY_CODE_GRANT] as const;

export interface Client {
  client_id: string;
  client_secret: string;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface OutboxMessage {
  file: string;
  at: string;
  from: string;
  to: string;
  subject: string;
  text: string;
}

/** The development outbox (one JSON file per message); `take()` returns what arrived since the last call. */
export class Outbox {
  private readonly seen = new Set<string>();
  constructor(readonly dir: string) {}

  take(): OutboxMessage[] {
    if (!existsSync(this.dir)) return [];
    const fresh = readdirSync(this.dir)
      .filter((f) => f.endsWith('.json') && !this.seen.has(f))
      .sort();
    for (const f of fresh) this.seen.add(f);
    return fresh.map((f) => ({ file: f, ...(JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as Omit<OutboxMessage, 'file'>) }));
  }

  /** Exactly one new message, to `to`; returns its 6-digit code. */
  takeCode(to: string, what: string): string {
    const messages = this.take();
    assert.equal(messages.length, 1, `${what}: one new message in the outbox, got ${JSON.stringify(messages)}`);
    const [message] = messages;
    assert.ok(message);
    assert.equal(message.to, to, `${what}: addressed to the user`);
    return codeOf(message, what);
  }
}

export function codeOf(message: OutboxMessage, what: string): string {
  const match = /Your verification code is (\d{6})(?!\d)/.exec(message.text);
  assert.ok(match?.[1], `${what}: a 6-digit code in ${JSON.stringify(message.text)}`);
  return match[1];
}

/** A 6-digit code that is not `code`. */
export function wrongCode(code: string, offset = 1): string {
  return String((Number(code) + offset) % 1_000_000).padStart(6, '0');
}

/** No server log line shows `code` as a number of its own (timestamps and ports hold other digit runs). */
export function assertCodeNotLogged(server: TestServer, code: string, what: string): void {
  const pattern = new RegExp(`(?<!\\d)${code}(?!\\d)`);
  const leaks = server.logs.filter((line) => pattern.test(line) || /verification code is/i.test(line));
  assert.deepEqual(leaks, [], `${what}: the code ${code} appears in the logs`);
}

export function passwordLogin(
  server: TestServer,
  client: Client,
  user: Credentials,
  extra: Record<string, string> = {},
): Promise<JsonResponse> {
  return postForm(server.at('/oauth/token'), {
    grant_type: 'password',
    username: user.username,
    password: user.password,
    scope: 'openid profile email',
    ...client,
    ...extra,
  });
}

/** Signs in and expects 403 mfa_required; returns the mfa_token and the answer. */
export async function mfaTokenOf(
  server: TestServer,
  client: Client,
  user: Credentials,
  expectEnrollment: boolean,
  what: string,
): Promise<string> {
  const res = await passwordLogin(server, client, user);
  assert.equal(res.status, 403, `${what}: ${res.text}`);
  assert.equal(res.body.error, 'mfa_required', what);
  if (expectEnrollment) assert.equal(res.body.error_reason, 'mfa_enrollment_required', `${what}: enrollment reason`);
  else assert.equal(res.body.error_reason, undefined, `${what}: no enrollment reason once a factor exists`);
  const token = res.body.mfa_token;
  assert.ok(typeof token === 'string' && token.startsWith('mfa.'), `${what}: mfa_token ${String(token)}`);
  return token;
}

export function associate(server: TestServer, client: Client, mfaToken: string, body: Record<string, unknown>): Promise<JsonResponse> {
  return postJson(server.at('/mfa/associate'), { ...client, ...body }, { authorization: `Bearer ${mfaToken}` });
}

export function associateEmail(
  server: TestServer,
  client: Client,
  mfaToken: string,
  extra: Record<string, unknown> = {},
): Promise<JsonResponse> {
  return associate(server, client, mfaToken, { authenticator_types: ['oob'], oob_channels: ['email'], ...extra });
}

export function challengeOob(server: TestServer, client: Client, mfaToken: string): Promise<JsonResponse> {
  return postJson(server.at('/mfa/challenge'), { ...client, mfa_token: mfaToken, challenge_type: 'oob' });
}

export function oobGrant(
  server: TestServer,
  client: Client,
  mfaToken: string,
  oobCode: string,
  bindingCode: string | undefined,
): Promise<JsonResponse> {
  return postForm(server.at('/oauth/token'), {
    grant_type: MFA_OOB_GRANT,
    mfa_token: mfaToken,
    oob_code: oobCode,
    ...(bindingCode === undefined ? {} : { binding_code: bindingCode }),
    ...client,
  });
}

export function authenticators(server: TestServer, bearer: string): Promise<JsonResponse> {
  return get(server.at('/mfa/authenticators'), { authorization: `Bearer ${bearer}` });
}

/** A 200 oob_code from associate/challenge. */
export function oobCodeOf(res: JsonResponse, what: string): string {
  assert.equal(res.status, 200, `${what}: ${res.text}`);
  const code = res.body.oob_code;
  assert.ok(typeof code === 'string' && code.startsWith('oob.'), `${what}: oob_code ${String(code)}`);
  return code;
}

/** Sign-in under `always` with no factor → associate by email → mfa-oob with the emailed code: the factor is confirmed. */
export async function enrollByEmail(
  server: TestServer,
  outbox: Outbox,
  client: Client,
  user: Credentials,
  email: string,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const mfaToken = await mfaTokenOf(server, client, user, true, `${user.username}: first sign-in`);
  const oobCode = oobCodeOf(await associateEmail(server, client, mfaToken, extra), `${user.username}: associate`);
  const code = outbox.takeCode(email, `${user.username}: enrollment email`);
  const res = await oobGrant(server, client, mfaToken, oobCode, code);
  assert.equal(res.status, 200, `${user.username}: enrollment mfa-oob: ${res.text}`);
}

/** A second-factor sign-in: mfa_required → challenge oob → the emailed code. */
export async function challengeByEmail(
  server: TestServer,
  outbox: Outbox,
  client: Client,
  user: Credentials,
  email: string,
  what: string,
): Promise<{ mfaToken: string; oobCode: string; code: string }> {
  const mfaToken = await mfaTokenOf(server, client, user, false, `${what}: sign-in`);
  const res = await challengeOob(server, client, mfaToken);
  const oobCode = oobCodeOf(res, `${what}: challenge`);
  assert.equal(res.body.challenge_type, 'oob', what);
  assert.equal(res.body.binding_method, 'prompt', what);
  return { mfaToken, oobCode, code: outbox.takeCode(email, `${what}: challenge email`) };
}

export function assertGrantError(res: JsonResponse, status: number, error: string, what: string): void {
  assert.equal(res.status, status, `${what}: ${res.text}`);
  assert.equal(res.body.error, error, `${what}: ${res.text}`);
}
