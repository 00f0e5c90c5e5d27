/**
 * Multi-factor authentication inside the password flow, in Auth0's shape:
 * the password grant answers 403 `mfa_required` with an mfa_token; the client
 * enrolls (/mfa/associate) or challenges (/mfa/challenge); an MFA grant trades
 * the mfa_token and a code for the tokens the password grant would have given.
 *
 * Factors: TOTP (RFC 6238, 30 s steps, ±1 step; a code is accepted only for
 * a step later than the last one accepted, §5.2; secrets sealed at rest) and
 * one-time codes by email; one recovery code per user, stored as a keyed
 * hash and replaced whenever it is used.
 *
 * Enrolment (issue #11 point 2): /mfa/associate starts a pending enrolment,
 * at most one per user (a new one replaces it), bound to the mfa_token that
 * started it and void when that token expires. It is no factor: it makes MFA
 * neither required nor passable, except that the sign-in that started it
 * confirms it with its first good code. Only then does it become a factor,
 * and only then does the recovery code shown at associate become valid.
 *
 * Limits (issue #11 point 7, on the attack-protection counters, so every
 * node shares them): wrong codes per user (a bucket), associate calls per
 * mfa_token, and emails per user across associate and challenge. Each is
 * reserved before the work it guards, so a burst cannot slip past it.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { ApiConfig, MfaPolicy } from '../config/schema.js';
import { constantTimeEqual, type Sealer, type KeyedFingerprint } from '../crypto/secrets.js';
import type { Tenant } from '../domain/tenant.js';
import { AccessDeniedError, InvalidGrantError, InvalidRequestError, TooManyAttemptsError, type ErrorReason } from '../domain/errors.js';
import type { Counter, TokenBucket } from '../storage/counters.js';
import type { SecurityEvents } from '../observability/security-events.js';
import type { ApplicationRecord, SingleUseKeyStore, MfaAuthenticator, MfaAuthenticatorType, MfaPendingEnrolment, MfaStore, UserRecord } from '../storage/stores.js';
import type { EmailSender } from './email-sender.js';
import { MFA_TOKEN_LIFETIME_SECONDS, type MfaTokenClaims } from './mfa-token.js';

const TOTP_PERIOD_SECONDS = 30;
const TOTP_DIGITS = 6;
const EMAIL_CODE_LIFETIME_SECONDS = 300;
const OOB_PREFIX = 'oob.';
/** Wrong codes per user: a bucket of 10, one regained every 6 minutes (issue #4). */
export const MFA_FAILURE_LIMIT = 10;
export const MFA_REFILL_SECONDS = 360;
/** /mfa/associate calls per mfa_token (issue #11 point 7); the window is the token's life. */
export const MFA_ASSOCIATE_LIMIT = 5;
export const MFA_ASSOCIATE_WINDOW_SECONDS = MFA_TOKEN_LIFETIME_SECONDS;
/** Emails with a code per user, associate and challenge together, per window (issue #11 point 7). */
export const MFA_EMAIL_LIMIT = 5;
export const MFA_EMAIL_WINDOW_SECONDS = 600;

export type MfaRequirement = 'none' | 'challenge' | 'enroll';

export interface MfaServiceDeps {
  store: MfaStore;
  /** Single-use email codes (oob_code ids), on every node. */
  consumed: SingleUseKeyStore;
  /** Seals TOTP secrets at rest. */
  totpSecretSealer: Sealer;
  /** Seals oob_codes (the email code's pending check). */
  oobSealer: Sealer;
  /** Keyed hashes of recovery codes and email codes. */
  codes: KeyedFingerprint;
  sender: EmailSender;
  /** Wrong codes per user (MFA_FAILURE_LIMIT, one back every MFA_REFILL_SECONDS). */
  failures: TokenBucket;
  /** Associate calls per mfa_token (MFA_ASSOCIATE_LIMIT per MFA_ASSOCIATE_WINDOW_SECONDS). */
  associateCalls: Counter;
  /** Emails per user (MFA_EMAIL_LIMIT per MFA_EMAIL_WINDOW_SECONDS). */
  emails: Counter;
  events: SecurityEvents;
  logger: Logger;
  clock: Clock;
}

export interface OtpEnrollment {
  authenticator_type: 'otp';
  secret: string;
  barcode_uri: string;
  recovery_codes: string[];
}

export interface OobEnrollment {
  authenticator_type: 'oob';
  oob_channel: 'email';
  binding_method: 'prompt';
  oob_code: string;
  recovery_codes: string[];
}

/** A user's factors as an operator or the user sees them: the confirmed ones, the enrolment in progress, the recovery code. */
export interface MfaOverview {
  factors: MfaAuthenticator[];
  pending: MfaPendingEnrolment | undefined;
  hasRecoveryCode: boolean;
}

/** Where a removal came from, for the security event and the user's email. */
export interface RemovalContext {
  clientId: string;
  ip: string;
}

interface OobClaims {
  jti: string;
  tenantId: string;
  userId: string;
  clientId: string;
  authenticatorId: string;
  codeHash: string;
  expiresAt: number;
}

/** What a code can be checked against: a confirmed factor, or the enrolment this sign-in started. */
interface CodeTarget {
  id: string;
  type: MfaAuthenticatorType;
  secretSealed: string | null;
  email: string | null;
  pending?: MfaPendingEnrolment;
}

interface CodeTargets {
  targets: CodeTarget[];
  /** The user has no factor and another sign-in's enrolment is pending (it replaced this one's, if any). */
  enrollingElsewhere: boolean;
}

/** The factor a grant used, for the id_token's `amr` (RFC 8176). */
export type UsedFactor = 'otp' | 'email' | 'recovery-code';

export class MfaService {
  constructor(private readonly deps: MfaServiceDeps) {}

  policyFor(tenant: Tenant, app: ApplicationRecord): MfaPolicy {
    return app.settings.mfa ?? tenant.settings.mfa ?? 'optional';
  }

  /**
   * Whether a user who just proved the password must also present a second
   * factor, or enroll one first. A token for the MFA API (mfa-api.ts)
   * manages factors, so it always takes one, whatever the policy.
   */
  async requirement(tenant: Tenant, app: ApplicationRecord, user: UserRecord, api: ApiConfig | undefined): Promise<MfaRequirement> {
    const policy = api?.identifier === tenant.endpoints.mfaApi ? 'always' : this.policyFor(tenant, app);
    if (policy === 'never') return 'none';
    if (await this.hasFactor(tenant.id, user.id)) return 'challenge';
    return policy === 'always' ? 'enroll' : 'none';
  }

  async hasFactor(tenantId: string, userId: string): Promise<boolean> {
    return (await this.deps.store.listAuthenticators(tenantId, userId)).length > 0;
  }

  async overview(tenantId: string, userId: string): Promise<MfaOverview> {
    const [factors, pending, recoveryCode] = await Promise.all([
      this.deps.store.listAuthenticators(tenantId, userId),
      this.deps.store.pendingEnrolment(tenantId, userId, this.deps.clock.now()),
      this.deps.store.recoveryCodeHash(tenantId, userId),
    ]);
    return { factors, pending, hasRecoveryCode: recoveryCode !== undefined && factors.length > 0 };
  }

  /**
   * Starts an enrolment with an mfa_token. Refused once the user has a
   * confirmed factor: otherwise anyone holding only the password could add
   * their own factor and walk past the one the user set up. Replaces any
   * earlier pending enrolment of the user.
   */
  async associate(tenant: Tenant, claims: MfaTokenClaims, user: UserRecord, request: { types: string[]; channels: string[] | undefined; email: string | undefined }): Promise<OtpEnrollment | OobEnrollment> {
    await this.take(this.deps.associateCalls, `${tenant.id}:${claims.jti}`, {
      tenantId: tenant.id,
      userId: user.id,
      clientId: claims.clientId,
      event: 'associate_calls',
      description: 'Too many enrolment requests with this mfa_token; sign in again to start over.',
      errorReason: 'mfa_enrollments_exceeded',
      logDetail: `more than ${MFA_ASSOCIATE_LIMIT} /mfa/associate calls with one mfa_token for user ${user.id}`,
    });
    if (await this.hasFactor(tenant.id, user.id)) {
      throw new AccessDeniedError('The user already has an authenticator: complete MFA with it first, then manage authenticators with an access token for the MFA API.', {
        logDetail: `enrollment refused for user ${user.id}: a confirmed authenticator exists`,
      });
    }
    const [type, ...others] = request.types;
    if (type === undefined || others.length > 0) throw new InvalidRequestError('authenticator_types must name exactly one type: ["otp"] or ["oob"].');
    const recoveryCode = generateRecoveryCode();
    const now = this.deps.clock.now();
    const enrolment = {
      tenantId: tenant.id,
      userId: user.id,
      recoveryCodeHash: this.recoveryHash(tenant.id, user.id, recoveryCode),
      mfaTokenJti: claims.jti,
      createdAt: now,
      // It lives exactly as long as the sign-in that can confirm it.
      expiresAt: new Date(claims.expiresAt),
    };
    if (type === 'otp') {
      const secret = new Secret({ size: 20 });
      await this.deps.store.putPendingEnrolment({ ...enrolment, authenticatorId: `totp|dev_${randomUUID()}`, type: 'otp', secretSealed: this.deps.totpSecretSealer.seal(secret.base32), email: null });
      const totp = this.totp(tenant, user.email ?? user.username, secret);
      return { authenticator_type: 'otp', secret: secret.base32, barcode_uri: totp.toString(), recovery_codes: [recoveryCode] };
    }
    if (type === 'oob') {
      const channels = request.channels ?? ['email'];
      if (channels.length !== 1 || channels[0] !== 'email') throw new InvalidRequestError('oob_channels must be ["email"]: the only out-of-band channel this server offers.');
      const email = request.email ?? user.email ?? undefined;
      if (email === undefined || !/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 256) {
        throw new InvalidRequestError('An email address is required for the email channel: send "email", or give the user one.');
      }
      const target: CodeTarget = { id: `email|dev_${randomUUID()}`, type: 'email', secretSealed: null, email };
      // The email budget is taken first: a refused request neither sends nor replaces the enrolment in progress.
      const oobCode = await this.withEmailBudget(tenant, claims, async () => {
        await this.deps.store.putPendingEnrolment({ ...enrolment, authenticatorId: target.id, type: 'email', secretSealed: null, email });
        return this.sendEmailCode(tenant, claims, target);
      });
      return { authenticator_type: 'oob', oob_channel: 'email', binding_method: 'prompt', oob_code: oobCode, recovery_codes: [recoveryCode] };
    }
    throw new InvalidRequestError('authenticator_types must be ["otp"] or ["oob"]; no other type is supported.', { logDetail: `unsupported authenticator type (${type.slice(0, 32)})` });
  }

  /** /mfa/challenge: for otp nothing is sent (the app reads the code); for oob an email code goes out. */
  async challenge(tenant: Tenant, claims: MfaTokenClaims, type: string, authenticatorId: string | undefined): Promise<Record<string, string>> {
    if (type !== 'otp' && type !== 'oob') throw new InvalidRequestError('challenge_type must be "otp" or "oob".');
    const factorType: MfaAuthenticatorType = type === 'otp' ? 'otp' : 'email';
    const { targets, enrollingElsewhere } = await this.codeTargets(tenant.id, claims);
    const matching = targets.filter((t) => t.type === factorType && (authenticatorId === undefined || t.id === authenticatorId));
    // A confirmed factor first, else the one this sign-in is enrolling.
    const target = matching.find((t) => !t.pending) ?? matching[0];
    if (!target) {
      if (enrollingElsewhere) throw replacedEnrolment();
      throw new InvalidRequestError(`The user has no ${type === 'otp' ? 'OTP' : 'email'} authenticator; enroll one with /mfa/associate.`);
    }
    if (type === 'otp') return { challenge_type: 'otp' };
    const oobCode = await this.withEmailBudget(tenant, claims, () => this.sendEmailCode(tenant, claims, target));
    return { challenge_type: 'oob', binding_method: 'prompt', oob_code: oobCode };
  }

  /**
   * The mfa-otp grant's check: a TOTP code (±1 step) of one of the user's
   * OTP factors, for a step later than the last one accepted (RFC 6238
   * §5.2), or the first code of the enrolment this sign-in started.
   */
  async verifyOtp(tenant: Tenant, claims: MfaTokenClaims, otp: string): Promise<UsedFactor> {
    const found = await this.codeTargets(tenant.id, claims);
    // Told, not counted: no code can pass for a sign-in whose enrolment a newer associate replaced.
    if (found.enrollingElsewhere) throw replacedEnrolment();
    await this.reserveAttempt(tenant.id, claims.userId, async () => {
      if (!/^\d{6}$/.test(otp)) return false;
      const now = this.deps.clock.now().getTime();
      let spent = false;
      for (const target of found.targets) {
        if (target.type !== 'otp' || target.secretSealed === null) continue;
        const step = this.acceptedStep(target.secretSealed, otp, now);
        if (step === undefined) continue;
        if (target.pending) {
          await this.confirm(tenant, claims, target.pending, step);
          return true;
        }
        // One conditional UPDATE on the shared database: a code (or an earlier one) is accepted once, on every node.
        if (await this.deps.store.advanceOtpStep(tenant.id, target.id, step)) return true;
        spent = true;
      }
      if (spent) throw new InvalidGrantError('This one-time code, or a later one, has already been used; wait for the next one.');
      return false;
    }, 'Invalid otp_code.');
    return 'otp';
  }

  /** The mfa-oob grant's check: the oob_code from the challenge and the code the user read in the email. */
  async verifyOob(tenant: Tenant, claims: MfaTokenClaims, oobCode: string, bindingCode: string | undefined): Promise<UsedFactor> {
    const oob = this.openOob(oobCode);
    if (oob.tenantId !== tenant.id || oob.userId !== claims.userId || oob.clientId !== claims.clientId) {
      throw new InvalidGrantError('The oob_code does not belong to this mfa_token.');
    }
    if (oob.expiresAt <= this.deps.clock.now().getTime()) throw new InvalidGrantError('The oob_code has expired; ask for a new code with /mfa/challenge.');
    if (bindingCode === undefined) throw new InvalidRequestError('binding_code is required: the code the user received by email.');
    await this.reserveAttempt(tenant.id, claims.userId, async () => {
      if (!constantTimeEqual(this.deps.codes.of('email-code', oob.authenticatorId, bindingCode.trim()), oob.codeHash)) return false;
      // The factor is checked before the code is spent, so a refused request never burns a valid code.
      const target = (await this.codeTargets(tenant.id, claims)).targets.find((t) => t.id === oob.authenticatorId);
      if (!target) throw new InvalidGrantError('The email authenticator of this code was removed or replaced; ask for a new code.');
      const first = await this.deps.consumed.consume(`oob:${oob.jti}`, new Date(oob.expiresAt), this.deps.clock.now());
      if (!first) throw new InvalidGrantError('This email code has already been used; ask for a new one.');
      if (target.pending) await this.confirm(tenant, claims, target.pending, null);
      return true;
    }, 'Invalid binding_code.');
    return 'email';
  }

  /** The mfa-recovery-code grant's check; returns the user's next recovery code (the used one is spent). */
  async useRecoveryCode(tenant: Tenant, claims: MfaTokenClaims, code: string): Promise<string> {
    let next = '';
    await this.reserveAttempt(tenant.id, claims.userId, async () => {
      const stored = await this.deps.store.recoveryCodeHash(tenant.id, claims.userId);
      const presented = this.recoveryHash(tenant.id, claims.userId, code);
      if (stored === undefined || !constantTimeEqual(presented, stored)) return false;
      next = generateRecoveryCode();
      const swapped = await this.deps.store.replaceRecoveryCodeHash(tenant.id, claims.userId, stored, this.recoveryHash(tenant.id, claims.userId, next));
      if (!swapped) throw new InvalidGrantError('This recovery code has already been used.');
      return true;
    }, 'Invalid recovery_code.');
    return next;
  }

  /** Operators (CLI): removes every factor, the enrolment in progress and the recovery code; the user can enroll again. */
  async reset(tenantId: string, userId: string): Promise<number> {
    return this.deps.store.removeAllAuthenticators(tenantId, userId);
  }

  /** Operators (`latchkey users unblock`): the user's wrong-code bucket is full again and the email window starts over. */
  async resetLimits(tenantId: string, userId: string): Promise<void> {
    await this.deps.failures.reset(`${tenantId}:${userId}`);
    await this.deps.emails.reset(`${tenantId}:${userId}`);
  }

  /**
   * The user removes one of their factors (DELETE /mfa/authenticators/ID,
   * already authorised): a security event, and an email telling the user,
   * so a removal they did not make does not go unnoticed. False when the
   * user has no such factor.
   */
  async remove(tenant: Tenant, user: UserRecord, authenticatorId: string, context: RemovalContext): Promise<boolean> {
    const factor = (await this.deps.store.listAuthenticators(tenant.id, user.id)).find((a) => a.id === authenticatorId);
    if (!factor || !(await this.deps.store.removeAuthenticator(tenant.id, user.id, factor.id))) return false;
    const at = this.deps.clock.now();
    await this.deps.events.record({
      type: 'mfa_authenticator_removed',
      reason: 'user',
      tenantId: tenant.id,
      clientId: context.clientId,
      userId: user.id,
      ip: context.ip,
      details: { authenticator_id: factor.id, authenticator_type: factor.type },
    });
    await this.notifyRemoval(tenant, user, factor, at, context.ip);
    return true;
  }

  /** The pending enrolment becomes a factor (and its recovery code the user's), or the grant is refused. */
  private async confirm(tenant: Tenant, claims: MfaTokenClaims, pending: MfaPendingEnrolment, step: number | null): Promise<void> {
    const result = await this.deps.store.confirmPendingEnrolment({
      tenantId: tenant.id,
      userId: claims.userId,
      authenticatorId: pending.authenticatorId,
      mfaTokenJti: claims.jti,
      now: this.deps.clock.now(),
      lastUsedStep: step,
    });
    if (result.kind === 'gone') {
      throw new InvalidGrantError('This enrolment was replaced by a newer one or has expired; enroll again.', { logDetail: `pending enrolment of user ${claims.userId} gone before confirmation` });
    }
    if (result.kind === 'already_enrolled') {
      throw new InvalidGrantError('The user confirmed another authenticator meanwhile; sign in again and use it.', { logDetail: `user ${claims.userId} already has a factor; a second enrolment was dropped` });
    }
    await this.deps.events.record({
      type: 'mfa_enrolled',
      reason: pending.type,
      tenantId: tenant.id,
      clientId: claims.clientId,
      userId: claims.userId,
      details: { authenticator_id: pending.authenticatorId },
    });
  }

  /** The user's confirmed factors, then the enrolment this mfa_token started (no other sign-in's). */
  private async codeTargets(tenantId: string, claims: MfaTokenClaims): Promise<CodeTargets> {
    const [factors, pending] = await Promise.all([
      this.deps.store.listAuthenticators(tenantId, claims.userId),
      this.deps.store.pendingEnrolment(tenantId, claims.userId, this.deps.clock.now()),
    ]);
    const targets: CodeTarget[] = factors.map((f) => ({ id: f.id, type: f.type, secretSealed: f.secretSealed, email: f.email }));
    const own = pending !== undefined && pending.mfaTokenJti === claims.jti;
    if (own) targets.push({ id: pending.authenticatorId, type: pending.type, secretSealed: pending.secretSealed, email: pending.email, pending });
    return { targets, enrollingElsewhere: factors.length === 0 && pending !== undefined && !own };
  }

  /** The time step `otp` is the code of, within ±1 step of now; undefined when it is none. */
  private acceptedStep(secretSealed: string, otp: string, nowMs: number): number | undefined {
    const secret = Secret.fromBase32(this.deps.totpSecretSealer.unseal(secretSealed));
    const totp = new TOTP({ secret, digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS, algorithm: 'SHA1' });
    const delta = totp.validate({ token: otp, timestamp: nowMs, window: 1 });
    return delta === null ? undefined : Math.floor(nowMs / (TOTP_PERIOD_SECONDS * 1000)) + delta;
  }

  /**
   * Reserves one failed attempt before checking, gives it back on success:
   * at most MFA_FAILURE_LIMIT wrong codes are ever checked per window.
   */
  private async reserveAttempt(tenantId: string, userId: string, check: () => Promise<boolean>, wrongMessage: string): Promise<void> {
    const key = `${tenantId}:${userId}`;
    const reserved = await this.deps.failures.take(key);
    if (!reserved.allowed) {
      throw new TooManyAttemptsError('Too many wrong codes for this user; wait before trying again.', reserved.retryAfterMs / 1000, {
        errorReason: 'mfa_attempts_exceeded',
        logDetail: `MFA code attempts exhausted for user ${userId} (a bucket of ${MFA_FAILURE_LIMIT}, one back every ${MFA_REFILL_SECONDS} s)`,
      });
    }
    let ok = false;
    try {
      ok = await check();
    } catch (err) {
      await this.deps.failures.giveBack(key);
      throw err;
    }
    if (ok) {
      await this.deps.failures.giveBack(key);
      return;
    }
    throw new InvalidGrantError(wrongMessage, { logDetail: `wrong MFA code for user ${userId}` });
  }

  /** Counts one use of a limit; over it: 429 with Retry-After, and a security event the first time in the window. */
  private async take(
    counter: Counter,
    key: string,
    refusal: { tenantId: string; userId: string; clientId: string; event: 'associate_calls' | 'emails'; description: string; errorReason: ErrorReason; logDetail: string },
  ): Promise<void> {
    const used = await counter.consume(key);
    if (used.allowed) return;
    const limit = refusal.event === 'emails' ? MFA_EMAIL_LIMIT : MFA_ASSOCIATE_LIMIT;
    if (used.consumed === limit + 1) {
      await this.deps.events.record({ type: 'mfa_rate_limited', reason: refusal.event, tenantId: refusal.tenantId, clientId: refusal.clientId, userId: refusal.userId });
    }
    throw new TooManyAttemptsError(refusal.description, used.msBeforeReset / 1000, { errorReason: refusal.errorReason, logDetail: refusal.logDetail });
  }

  /** Runs `send` within the user's email budget; a send that fails gives its email back. */
  private async withEmailBudget<T>(tenant: Tenant, claims: MfaTokenClaims, send: () => Promise<T>): Promise<T> {
    const key = `${tenant.id}:${claims.userId}`;
    await this.take(this.deps.emails, key, {
      tenantId: tenant.id,
      userId: claims.userId,
      clientId: claims.clientId,
      event: 'emails',
      description: 'Too many verification emails for this user; wait before asking for another.',
      errorReason: 'mfa_emails_exceeded',
      logDetail: `more than ${MFA_EMAIL_LIMIT} MFA emails in ${MFA_EMAIL_WINDOW_SECONDS} s for user ${claims.userId}`,
    });
    try {
      return await send();
    } catch (err) {
      await this.deps.emails.refund(key);
      throw err;
    }
  }

  private async sendEmailCode(tenant: Tenant, claims: MfaTokenClaims, target: CodeTarget): Promise<string> {
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const oob: OobClaims = {
      jti: randomUUID(),
      tenantId: tenant.id,
      userId: claims.userId,
      clientId: claims.clientId,
      authenticatorId: target.id,
      codeHash: this.deps.codes.of('email-code', target.id, code),
      expiresAt: this.deps.clock.now().getTime() + EMAIL_CODE_LIFETIME_SECONDS * 1000,
    };
    await this.deps.sender.send({
      to: target.email ?? '',
      subject: `Your ${tenant.name} verification code`,
      text: `Your verification code is ${code}\n\nIt expires in ${EMAIL_CODE_LIFETIME_SECONDS / 60} minutes. If you did not try to sign in, change your password.\n`,
    });
    return `${OOB_PREFIX}${this.deps.oobSealer.seal(JSON.stringify(oob))}`;
  }

  /** Tells the user a factor was removed; a mail that cannot go out is logged, the removal stands. */
  private async notifyRemoval(tenant: Tenant, user: UserRecord, factor: MfaAuthenticator, at: Date, ip: string): Promise<void> {
    const to = user.email ?? factor.email;
    if (to === null) return;
    const what = factor.type === 'otp' ? 'an authenticator app (one-time codes)' : `codes by email to ${maskEmail(factor.email ?? '')}`;
    try {
      await this.deps.sender.send({
        to,
        subject: `A sign-in method was removed from your ${tenant.name} account`,
        text:
          `A second sign-in step was removed from your ${tenant.name} account: ${what}.\n\n` +
          `When: ${at.toISOString()} (UTC)\nFrom IP address: ${ip}\n\n` +
          'If this was you, there is nothing more to do.\n' +
          'If it was not you, someone knows your password: change it now, and ask your administrator to check your account and its sign-in methods.\n',
      });
    } catch (err) {
      this.deps.logger.warn({ tenant: tenant.name, user_id: user.id, err: (err as Error).message }, 'could not email the user that a second factor was removed; the removal stands (security event mfa_authenticator_removed)');
    }
  }

  private openOob(oobCode: string): OobClaims {
    try {
      if (!oobCode.startsWith(OOB_PREFIX)) throw new Error('no prefix');
      return JSON.parse(this.deps.oobSealer.unseal(oobCode.slice(OOB_PREFIX.length))) as OobClaims;
    } catch {
      throw new InvalidGrantError('The oob_code is malformed.');
    }
  }

  private recoveryHash(tenantId: string, userId: string, code: string): string {
    return this.deps.codes.of('recovery-code', tenantId, userId, code.replace(/[\s-]/g, '').toUpperCase());
  }

  private totp(tenant: Tenant, label: string, secret: Secret): TOTP {
    return new TOTP({ issuer: tenant.name, label, secret, digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS, algorithm: 'SHA1' });
  }
}

/** The user has no factor and the enrolment in progress is another sign-in's: a newer associate replaced this one's, if any. */
function replacedEnrolment(): InvalidGrantError {
  return new InvalidGrantError('This enrollment was replaced by a newer one (another sign-in started one since); enroll again with /mfa/associate.', {
    logDetail: 'MFA request of a sign-in whose enrolment another associate replaced',
  });
}

/** An address as the user list shows it: the first character of the local part, then stars. */
export function maskEmail(email: string): string {
  const [local = '', domain = ''] = email.split('@');
  return `${local.slice(0, 1)}${'*'.repeat(Math.max(1, local.length - 1))}@${domain}`;
}

/** 24 characters from an alphabet without look-alikes (0/O, 1/I), as Auth0's recovery codes look: 120 bits. */
function generateRecoveryCode(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(24);
  let code = '';
  for (const byte of bytes) code += alphabet[byte % 32];
  return code;
}
