/**
 * Multi-factor authentication inside the password flow, in Auth0's shape:
 * the password grant answers 403 `mfa_required` with an mfa_token; the client
 * enrolls (/mfa/associate) or challenges (/mfa/challenge); an MFA grant trades
 * the mfa_token and a code for the tokens the password grant would have given.
 * Whether a sign-in needs a second factor is the token endpoint's MFA gate
 * (oauth/mfa-gate.ts); this service checks and manages the factors.
 *
 * Factors: TOTP (totp.ts; a code is accepted only for a step later than the
 * last one accepted, RFC 6238 §5.2; secrets sealed at rest) and one-time
 * codes by email (email-codes.ts); one recovery code per user, stored as a
 * keyed hash and replaced whenever it is used (recovery-codes.ts).
 * Enrolment is pending until its first good code (enrolment.ts).
 *
 * Limits (issue #11 point 7, on the attack-protection counters, so every
 * node shares them): wrong codes per user (a bucket), associate calls per
 * mfa_token, and emails per user across associate and challenge. Each is
 * reserved before the work it guards, so a burst cannot slip past it.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { constantTimeEqual, type Sealer, type KeyedFingerprint } from '../crypto/secrets.js';
import type { Tenant } from '../domain/tenant.js';
import { AccessDeniedError, InvalidGrantError, InvalidRequestError, TooManyAttemptsError, type ErrorReason } from '../domain/errors.js';
import type { Counter, TokenBucket } from '../storage/counters.js';
import type { SecurityEvents } from '../observability/security-events.js';
import type {
  MfaAuthenticator,
  MfaAuthenticatorType,
  MfaPendingEnrolment,
  MfaStore,
  SingleUseKeyStore,
  UserRecord,
} from '../storage/stores.js';
import { EmailCodes } from './email-codes.js';
import type { EmailSender } from './email-sender.js';
import { Enrolments, replacedEnrolment, type CodeTarget } from './enrolment.js';
import { MFA_TOKEN_LIFETIME_SECONDS, type MfaTokenClaims, type UsedFactor } from './mfa-token.js';
import { generateRecoveryCode, recoveryCodeHash } from './recovery-codes.js';
import { notifyFactorRemoval } from './removal-notice.js';
import { acceptedTotpStep, newTotpSecret } from './totp.js';

export { maskEmail } from './removal-notice.js';

/** Wrong codes per user: a bucket of 10, one regained every 6 minutes (issue #4). */
export const MFA_FAILURE_LIMIT = 10;
export const MFA_REFILL_SECONDS = 360;
/** /mfa/associate calls per mfa_token (issue #11 point 7); the window is the token's life. */
export const MFA_ASSOCIATE_LIMIT = 5;
export const MFA_ASSOCIATE_WINDOW_SECONDS = MFA_TOKEN_LIFETIME_SECONDS;
/** Emails with a code per user, associate and challenge together, per window (issue #11 point 7). */
export const MFA_EMAIL_LIMIT = 5;
export const MFA_EMAIL_WINDOW_SECONDS = 600;

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

export type { UsedFactor } from './mfa-token.js';

/** A user's factors, from the store alone: also what the read-only `latchkey users mfa list` shows. */
export async function readMfaOverview(
  store: Pick<MfaStore, 'listAuthenticators' | 'pendingEnrolment' | 'recoveryCodeHash'>,
  tenantId: string,
  userId: string,
  now: Date,
): Promise<MfaOverview> {
  const [factors, pending, recoveryCode] = await Promise.all([
    store.listAuthenticators(tenantId, userId),
    store.pendingEnrolment(tenantId, userId, now),
    store.recoveryCodeHash(tenantId, userId),
  ]);
  return { factors, pending, hasRecoveryCode: recoveryCode !== undefined && factors.length > 0 };
}

export class MfaService {
  private readonly emailCodes: EmailCodes;
  private readonly enrolments: Enrolments;

  constructor(private readonly deps: MfaServiceDeps) {
    this.emailCodes = new EmailCodes({ sender: deps.sender, oobSealer: deps.oobSealer, codes: deps.codes, clock: deps.clock });
    this.enrolments = new Enrolments({ store: deps.store, events: deps.events, clock: deps.clock });
  }

  /** Whether the user has a confirmed factor (a pending enrolment is none). */
  async hasFactor(tenantId: string, userId: string): Promise<boolean> {
    return (await this.deps.store.listAuthenticators(tenantId, userId)).length > 0;
  }

  async overview(tenantId: string, userId: string): Promise<MfaOverview> {
    return readMfaOverview(this.deps.store, tenantId, userId, this.deps.clock.now());
  }

  /**
   * Starts an enrolment with an mfa_token. Refused once the user has a
   * confirmed factor: otherwise anyone holding only the password could add
   * their own factor and walk past the one the user set up. Replaces any
   * earlier pending enrolment of the user.
   */
  async associate(
    tenant: Tenant,
    claims: MfaTokenClaims,
    user: UserRecord,
    request: { types: string[]; channels: string[] | undefined; email: string | undefined },
  ): Promise<OtpEnrollment | OobEnrollment> {
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
      throw new AccessDeniedError(
        'The user already has an authenticator: complete MFA with it first, then manage authenticators with an access token for the MFA API.',
        {
          logDetail: `enrollment refused for user ${user.id}: a confirmed authenticator exists`,
        },
      );
    }
    const [type, ...others] = request.types;
    if (type === undefined || others.length > 0)
      throw new InvalidRequestError('authenticator_types must name exactly one type: ["otp"] or ["oob"].');
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
      const { secret, barcodeUri } = newTotpSecret(tenant.name, user.email ?? user.username);
      const secretSealed = this.deps.totpSecretSealer.seal(secret);
      await this.deps.store.putPendingEnrolment({
        ...enrolment,
        authenticatorId: `totp|dev_${randomUUID()}`,
        type: 'otp',
        secretSealed,
        email: null,
      });
      return { authenticator_type: 'otp', secret, barcode_uri: barcodeUri, recovery_codes: [recoveryCode] };
    }
    if (type === 'oob') {
      const channels = request.channels ?? ['email'];
      if (channels.length !== 1 || channels[0] !== 'email')
        throw new InvalidRequestError('oob_channels must be ["email"]: the only out-of-band channel this server offers.');
      const email = request.email ?? user.email ?? undefined;
      if (email === undefined || !/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 256) {
        throw new InvalidRequestError('An email address is required for the email channel: send "email", or give the user one.');
      }
      const target: CodeTarget = { id: `email|dev_${randomUUID()}`, type: 'email', secretSealed: null, email };
      // The email budget is taken first: a refused request neither sends nor replaces the enrolment in progress.
      const oobCode = await this.withEmailBudget(tenant, claims, async () => {
        await this.deps.store.putPendingEnrolment({ ...enrolment, authenticatorId: target.id, type: 'email', secretSealed: null, email });
        return this.emailCodes.send(tenant, claims, target);
      });
      return {
        authenticator_type: 'oob',
        oob_channel: 'email',
        binding_method: 'prompt',
        oob_code: oobCode,
        recovery_codes: [recoveryCode],
      };
    }
    throw new InvalidRequestError('authenticator_types must be ["otp"] or ["oob"]; no other type is supported.', {
      logDetail: `unsupported authenticator type (${type.slice(0, 32)})`,
    });
  }

  /** /mfa/challenge: for otp nothing is sent (the app reads the code); for oob an email code goes out. */
  async challenge(
    tenant: Tenant,
    claims: MfaTokenClaims,
    type: string,
    authenticatorId: string | undefined,
  ): Promise<Record<string, string>> {
    if (type !== 'otp' && type !== 'oob') throw new InvalidRequestError('challenge_type must be "otp" or "oob".');
    const factorType: MfaAuthenticatorType = type === 'otp' ? 'otp' : 'email';
    const { targets, enrollingElsewhere } = await this.enrolments.codeTargets(tenant.id, claims);
    const matching = targets.filter((t) => t.type === factorType && (authenticatorId === undefined || t.id === authenticatorId));
    // A confirmed factor first, else the one this sign-in is enrolling.
    const target = matching.find((t) => !t.pending) ?? matching[0];
    if (!target) {
      if (enrollingElsewhere) throw replacedEnrolment();
      throw new InvalidRequestError(`The user has no ${type === 'otp' ? 'OTP' : 'email'} authenticator; enroll one with /mfa/associate.`);
    }
    if (type === 'otp') return { challenge_type: 'otp' };
    const oobCode = await this.withEmailBudget(tenant, claims, () => this.emailCodes.send(tenant, claims, target));
    return { challenge_type: 'oob', binding_method: 'prompt', oob_code: oobCode };
  }

  /**
   * The mfa-otp grant's check: a TOTP code (±1 step) of one of the user's
   * OTP factors, for a step later than the last one accepted (RFC 6238
   * §5.2), or the first code of the enrolment this sign-in started.
   */
  async verifyOtp(tenant: Tenant, claims: MfaTokenClaims, otp: string): Promise<UsedFactor> {
    const found = await this.enrolments.codeTargets(tenant.id, claims);
    // Told, not counted: no code can pass for a sign-in whose enrolment a newer associate replaced.
    if (found.enrollingElsewhere) throw replacedEnrolment();
    await this.reserveAttempt(
      tenant.id,
      claims.userId,
      async () => {
        if (!/^\d{6}$/.test(otp)) return false;
        const now = this.deps.clock.now().getTime();
        let spent = false;
        for (const target of found.targets) {
          if (target.type !== 'otp' || target.secretSealed === null) continue;
          const step = acceptedTotpStep(this.deps.totpSecretSealer.unseal(target.secretSealed), otp, now);
          if (step === undefined) continue;
          if (target.pending) {
            await this.enrolments.confirm(tenant, claims, target.pending, step);
            return true;
          }
          // One conditional UPDATE on the shared database: a code (or an earlier one) is accepted once, on every node.
          if (await this.deps.store.advanceOtpStep(tenant.id, target.id, step)) return true;
          spent = true;
        }
        if (spent) throw new InvalidGrantError('This one-time code, or a later one, has already been used; wait for the next one.');
        return false;
      },
      'Invalid otp_code.',
    );
    return 'otp';
  }

  /** The mfa-oob grant's check: the oob_code from the challenge and the code the user read in the email. */
  async verifyOob(tenant: Tenant, claims: MfaTokenClaims, oobCode: string, bindingCode: string | undefined): Promise<UsedFactor> {
    const oob = this.emailCodes.open(oobCode);
    if (oob.tenantId !== tenant.id || oob.userId !== claims.userId || oob.clientId !== claims.clientId) {
      throw new InvalidGrantError('The oob_code does not belong to this mfa_token.');
    }
    if (oob.expiresAt <= this.deps.clock.now().getTime())
      throw new InvalidGrantError('The oob_code has expired; ask for a new code with /mfa/challenge.');
    if (bindingCode === undefined) throw new InvalidRequestError('binding_code is required: the code the user received by email.');
    await this.reserveAttempt(
      tenant.id,
      claims.userId,
      async () => {
        if (!this.emailCodes.matches(oob, bindingCode)) return false;
        // The factor is checked before the code is spent, so a refused request never burns a valid code.
        const target = (await this.enrolments.codeTargets(tenant.id, claims)).targets.find((t) => t.id === oob.authenticatorId);
        if (!target) throw new InvalidGrantError('The email authenticator of this code was removed or replaced; ask for a new code.');
        const first = await this.deps.consumed.consume(`oob:${oob.jti}`, new Date(oob.expiresAt), this.deps.clock.now());
        if (!first) throw new InvalidGrantError('This email code has already been used; ask for a new one.');
        if (target.pending) await this.enrolments.confirm(tenant, claims, target.pending, null);
        return true;
      },
      'Invalid binding_code.',
    );
    return 'email';
  }

  /** The mfa-recovery-code grant's check; returns the user's next recovery code (the used one is spent). */
  async useRecoveryCode(tenant: Tenant, claims: MfaTokenClaims, code: string): Promise<string> {
    let next = '';
    await this.reserveAttempt(
      tenant.id,
      claims.userId,
      async () => {
        const stored = await this.deps.store.recoveryCodeHash(tenant.id, claims.userId);
        const presented = this.recoveryHash(tenant.id, claims.userId, code);
        if (stored === undefined || !constantTimeEqual(presented, stored)) return false;
        next = generateRecoveryCode();
        const swapped = await this.deps.store.replaceRecoveryCodeHash(
          tenant.id,
          claims.userId,
          stored,
          this.recoveryHash(tenant.id, claims.userId, next),
        );
        if (!swapped) throw new InvalidGrantError('This recovery code has already been used.');
        return true;
      },
      'Invalid recovery_code.',
    );
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
    await notifyFactorRemoval(this.deps, tenant, user, { factor, at, ip: context.ip });
    return true;
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
    refusal: {
      tenantId: string;
      userId: string;
      clientId: string;
      event: 'associate_calls' | 'emails';
      description: string;
      errorReason: ErrorReason;
      logDetail: string;
    },
  ): Promise<void> {
    const used = await counter.consume(key);
    if (used.allowed) return;
    const limit = refusal.event === 'emails' ? MFA_EMAIL_LIMIT : MFA_ASSOCIATE_LIMIT;
    if (used.consumed === limit + 1) {
      await this.deps.events.record({
        type: 'mfa_rate_limited',
        reason: refusal.event,
        tenantId: refusal.tenantId,
        clientId: refusal.clientId,
        userId: refusal.userId,
      });
    }
    throw new TooManyAttemptsError(refusal.description, used.msBeforeReset / 1000, {
      errorReason: refusal.errorReason,
      logDetail: refusal.logDetail,
    });
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

  private recoveryHash(tenantId: string, userId: string, code: string): string {
    return recoveryCodeHash(this.deps.codes, tenantId, userId, code);
  }
}
