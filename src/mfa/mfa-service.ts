/**
 * Multi-factor authentication inside the password flow, in Auth0's shape:
 * the password grant answers 403 `mfa_required` with an mfa_token; the client
 * enrolls (/mfa/associate) or challenges (/mfa/challenge); an MFA grant trades
 * the mfa_token and a code for the tokens the password grant would have given.
 *
 * Factors: TOTP (RFC 6238, 30 s steps, ±1 step, each code accepted once;
 * secrets sealed at rest) and one-time codes by email; one recovery code per
 * user, stored as a keyed hash and replaced whenever it is used. An
 * enrollment counts (makes MFA required) once its first code succeeded.
 * Failed codes are limited per user with the attack-protection counters,
 * reserved before the check so a burst cannot slip past the limit.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type { Clock } from '../clock.js';
import type { MfaPolicy } from '../config/schema.js';
import { constantTimeEqual, type Encrypter, type KeyedFingerprint } from '../crypto/secrets.js';
import type { Tenant } from '../oauth/catalog.js';
import { AccessDeniedError, InvalidGrantError, InvalidRequestError, TooManyAttemptsError } from '../oauth/errors.js';
import type { TokenBucket } from '../protection/token-bucket.js';
import type { ApplicationRecord, ConsumedJtiStore, MfaAuthenticator, MfaStore, UserRecord } from '../storage/stores.js';
import type { EmailSender } from './email-sender.js';
import type { MfaTokenClaims } from './mfa-token.js';

const TOTP_PERIOD_SECONDS = 30;
const TOTP_DIGITS = 6;
const EMAIL_CODE_LIFETIME_SECONDS = 300;
const OOB_PREFIX = 'oob.';
/** Wrong codes per user: a bucket of 10, one regained every 6 minutes (issue #4). */
export const MFA_FAILURE_LIMIT = 10;
export const MFA_REFILL_SECONDS = 360;

export type MfaRequirement = 'none' | 'challenge' | 'enroll';

export interface MfaServiceDeps {
  store: MfaStore;
  consumed: ConsumedJtiStore;
  /** Seals TOTP secrets at rest. */
  secrets: Encrypter;
  /** Seals oob_codes (the email code's pending check). */
  oobSealer: Encrypter;
  /** Keyed hashes of recovery codes and email codes. */
  codes: KeyedFingerprint;
  sender: EmailSender;
  failures: TokenBucket;
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

interface OobClaims {
  jti: string;
  tenantId: string;
  userId: string;
  clientId: string;
  authenticatorId: string;
  codeHash: string;
  expiresAt: number;
}

/** The factor a grant used, for the id_token's `amr` (RFC 8176). */
export type UsedFactor = 'otp' | 'email' | 'recovery-code';

export class MfaService {
  constructor(private readonly deps: MfaServiceDeps) {}

  policyFor(tenant: Tenant, app: ApplicationRecord): MfaPolicy {
    return app.settings.mfa ?? tenant.settings.mfa ?? 'optional';
  }

  /** Whether a user who just proved the password must also present a second factor, or enroll one first. */
  async requirement(tenant: Tenant, app: ApplicationRecord, user: UserRecord): Promise<MfaRequirement> {
    const policy = this.policyFor(tenant, app);
    if (policy === 'never') return 'none';
    const authenticators = await this.deps.store.listAuthenticators(tenant.id, user.id);
    if (authenticators.some((a) => a.confirmed)) return 'challenge';
    return policy === 'always' ? 'enroll' : 'none';
  }

  async listAuthenticators(tenantId: string, userId: string): Promise<MfaAuthenticator[]> {
    return this.deps.store.listAuthenticators(tenantId, userId);
  }

  /**
   * Enrolls a factor with an mfa_token. Refused once the user has a
   * confirmed factor: otherwise anyone holding only the password could add
   * their own factor and walk past the one the user set up.
   */
  async associate(tenant: Tenant, claims: MfaTokenClaims, user: UserRecord, request: { types: string[]; channels: string[] | undefined; email: string | undefined }): Promise<OtpEnrollment | OobEnrollment> {
    const existing = await this.deps.store.listAuthenticators(tenant.id, user.id);
    if (existing.some((a) => a.confirmed)) {
      throw new AccessDeniedError('The user already has an authenticator: complete MFA with it first, then manage authenticators with an access token.', {
        logDetail: `enrollment refused for user ${user.id}: a confirmed authenticator exists`,
      });
    }
    const [type, ...others] = request.types;
    if (type === undefined || others.length > 0) throw new InvalidRequestError('authenticator_types must name exactly one type: ["otp"] or ["oob"].');
    const now = this.deps.clock.now();
    if (type === 'otp') {
      const secret = new Secret({ size: 20 });
      const totp = this.totp(tenant, user.email ?? user.username, secret);
      await this.deps.store.addAuthenticator({
        id: `totp|dev_${randomUUID()}`,
        tenantId: tenant.id,
        userId: user.id,
        type: 'otp',
        secretSealed: this.deps.secrets.encrypt(secret.base32),
        email: null,
        confirmed: false,
        createdAt: now,
      });
      return { authenticator_type: 'otp', secret: secret.base32, barcode_uri: totp.toString(), recovery_codes: [await this.newRecoveryCode(tenant.id, user.id)] };
    }
    if (type === 'oob') {
      const channels = request.channels ?? ['email'];
      if (channels.length !== 1 || channels[0] !== 'email') throw new InvalidRequestError('oob_channels must be ["email"]: the only out-of-band channel this server offers.');
      const email = request.email ?? user.email ?? undefined;
      if (email === undefined || !/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 256) {
        throw new InvalidRequestError('An email address is required for the email channel: send "email", or give the user one.');
      }
      const authenticator: MfaAuthenticator = {
        id: `email|dev_${randomUUID()}`,
        tenantId: tenant.id,
        userId: user.id,
        type: 'email',
        secretSealed: null,
        email,
        confirmed: false,
        createdAt: now,
      };
      await this.deps.store.addAuthenticator(authenticator);
      const oobCode = await this.sendEmailCode(tenant, claims, authenticator);
      return { authenticator_type: 'oob', oob_channel: 'email', binding_method: 'prompt', oob_code: oobCode, recovery_codes: [await this.newRecoveryCode(tenant.id, user.id)] };
    }
    throw new InvalidRequestError('authenticator_types names a type that is not supported; use "otp" or "oob".', { logDetail: `authenticator_types ${JSON.stringify(type.slice(0, 32))}` });
  }

  /** /mfa/challenge: for otp nothing is sent (the app reads the code); for oob an email code goes out. */
  async challenge(tenant: Tenant, claims: MfaTokenClaims, type: string, authenticatorId: string | undefined): Promise<Record<string, string>> {
    const authenticators = await this.deps.store.listAuthenticators(tenant.id, claims.userId);
    const usable = authenticators.filter((a) => (authenticatorId === undefined ? true : a.id === authenticatorId));
    if (type === 'otp') {
      if (!usable.some((a) => a.type === 'otp')) throw new InvalidRequestError('The user has no OTP authenticator; enroll one with /mfa/associate.');
      return { challenge_type: 'otp' };
    }
    if (type === 'oob') {
      // A confirmed email factor, or the one being enrolled.
      const email = usable.filter((a) => a.type === 'email').sort((a, b) => Number(b.confirmed) - Number(a.confirmed))[0];
      if (!email) throw new InvalidRequestError('The user has no email authenticator; enroll one with /mfa/associate.');
      return { challenge_type: 'oob', binding_method: 'prompt', oob_code: await this.sendEmailCode(tenant, claims, email) };
    }
    throw new InvalidRequestError('challenge_type must be "otp" or "oob".');
  }

  /** The mfa-otp grant's check: a current TOTP code (±1 step) of one of the user's OTP authenticators, once. */
  async verifyOtp(tenant: Tenant, claims: MfaTokenClaims, otp: string): Promise<UsedFactor> {
    await this.reserveAttempt(tenant.id, claims.userId, async () => {
      if (!/^\d{6}$/.test(otp)) return false;
      const now = this.deps.clock.now().getTime();
      for (const authenticator of await this.deps.store.listAuthenticators(tenant.id, claims.userId)) {
        if (authenticator.type !== 'otp' || authenticator.secretSealed === null) continue;
        const secret = Secret.fromBase32(this.deps.secrets.decrypt(authenticator.secretSealed));
        const totp = new TOTP({ secret, digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS, algorithm: 'SHA1' });
        const delta = totp.validate({ token: otp, timestamp: now, window: 1 });
        if (delta === null) continue;
        const step = Math.floor(now / (TOTP_PERIOD_SECONDS * 1000)) + delta;
        // RFC 6238 §5.2: a code is accepted once, on every node.
        const first = await this.deps.consumed.consume(`otp:${authenticator.id}:${step}`, new Date(now + 3 * TOTP_PERIOD_SECONDS * 1000), new Date(now));
        if (!first) throw new InvalidGrantError('This one-time code has already been used; wait for the next one.');
        if (!authenticator.confirmed) await this.deps.store.confirmAuthenticator(authenticator.id);
        return true;
      }
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
      const authenticator = (await this.deps.store.listAuthenticators(tenant.id, claims.userId)).find((a) => a.id === oob.authenticatorId);
      if (!authenticator) throw new InvalidGrantError('The email authenticator of this code was removed.');
      const first = await this.deps.consumed.consume(`oob:${oob.jti}`, new Date(oob.expiresAt), this.deps.clock.now());
      if (!first) throw new InvalidGrantError('This email code has already been used; ask for a new one.');
      if (!authenticator.confirmed) await this.deps.store.confirmAuthenticator(authenticator.id);
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

  /** Operators (CLI): removes every factor and the recovery code; the user can enroll again. */
  async reset(tenantId: string, userId: string): Promise<number> {
    return this.deps.store.removeAllAuthenticators(tenantId, userId);
  }

  async remove(tenantId: string, userId: string, authenticatorId: string): Promise<boolean> {
    const removed = await this.deps.store.removeAuthenticator(tenantId, userId, authenticatorId);
    const left = await this.deps.store.listAuthenticators(tenantId, userId);
    if (removed && left.length === 0) await this.deps.store.setRecoveryCodeHash(tenantId, userId, null);
    return removed;
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

  private async sendEmailCode(tenant: Tenant, claims: MfaTokenClaims, authenticator: MfaAuthenticator): Promise<string> {
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const oob: OobClaims = {
      jti: randomUUID(),
      tenantId: tenant.id,
      userId: claims.userId,
      clientId: claims.clientId,
      authenticatorId: authenticator.id,
      codeHash: this.deps.codes.of('email-code', authenticator.id, code),
      expiresAt: this.deps.clock.now().getTime() + EMAIL_CODE_LIFETIME_SECONDS * 1000,
    };
    await this.deps.sender.send({
      to: authenticator.email ?? '',
      subject: `Your ${tenant.name} verification code`,
      text: `Your verification code is ${code}\n\nIt expires in ${EMAIL_CODE_LIFETIME_SECONDS / 60} minutes. If you did not try to sign in, change your password.\n`,
    });
    return `${OOB_PREFIX}${this.deps.oobSealer.encrypt(JSON.stringify(oob))}`;
  }

  private openOob(oobCode: string): OobClaims {
    try {
      if (!oobCode.startsWith(OOB_PREFIX)) throw new Error('no prefix');
      return JSON.parse(this.deps.oobSealer.decrypt(oobCode.slice(OOB_PREFIX.length))) as OobClaims;
    } catch {
      throw new InvalidGrantError('The oob_code is malformed.');
    }
  }

  private async newRecoveryCode(tenantId: string, userId: string): Promise<string> {
    const code = generateRecoveryCode();
    await this.deps.store.setRecoveryCodeHash(tenantId, userId, this.recoveryHash(tenantId, userId, code));
    return code;
  }

  private recoveryHash(tenantId: string, userId: string, code: string): string {
    return this.deps.codes.of('recovery-code', tenantId, userId, code.replace(/[\s-]/g, '').toUpperCase());
  }

  private totp(tenant: Tenant, label: string, secret: Secret): TOTP {
    return new TOTP({ issuer: tenant.name, label, secret, digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS, algorithm: 'SHA1' });
  }
}

/** 24 characters from an alphabet without look-alikes (0/O, 1/I), as Auth0's recovery codes look: 120 bits. */
function generateRecoveryCode(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(24);
  let code = '';
  for (const byte of bytes) code += alphabet[byte % 32];
  return code;
}
