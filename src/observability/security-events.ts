/**
 * Security events (docs/operations.md): every login success and failure,
 * lock, unblock, throttle and policy refusal, as a structured log line and a
 * row of `security_events`, which `latchkey logs` reads. An event names the
 * tenant, client, user, end-user IP and a reason code; never a password,
 * secret or token.
 */
import type { Logger } from 'pino';
import type { SecurityEvent, SecurityEventStore } from '../storage/stores.js';

export const SECURITY_EVENT_TYPES = [
  'login_success',
  'login_failure',
  'login_blocked',
  'user_locked',
  'user_unblocked',
  'ip_throttled',
  'rate_limited',
  'password_policy_refused',
  'password_changed',
  'user_blocked',
  'user_deleted',
  'mfa_required',
  'mfa_failure',
  'mfa_authenticator_removed',
  'mfa_enrolled',
  'mfa_rate_limited',
  'hook_denied',
  'hook_failure',
  'authorization_code_replayed',
  'logout',
  // The device flow (RFC 8628): a person's answer on the verification page, and the per-IP limit on wrong user codes.
  'device_approved',
  'device_denied',
  'user_code_guesses_exceeded',
  // Accounts (DESIGN.md §8): sign-up, a sign-up refused without telling the caller, the reset link sent, the address verified.
  'user_signed_up',
  'signup_refused',
  'password_reset_requested',
  'email_verified',
  'account_rate_limited',
  // The Management API (DESIGN.md §9): every successful write, naming the actor (an application or an administrator).
  'management_api_write',
] as const;
export type SecurityEventType = (typeof SECURITY_EVENT_TYPES)[number];

/** Types an operator acts on: logged at warn, the rest at info. */
const WARN_TYPES = new Set<SecurityEventType>([
  'user_locked',
  'ip_throttled',
  'rate_limited',
  'login_blocked',
  'hook_failure',
  'mfa_rate_limited',
  'authorization_code_replayed',
  'user_code_guesses_exceeded',
  'account_rate_limited',
]);

export type SecurityEventInput = Omit<SecurityEvent, 'at' | 'type'> & { type: SecurityEventType };

export class SecurityEvents {
  constructor(
    private readonly store: SecurityEventStore,
    private readonly logger: Logger,
    private readonly now: () => Date,
    /** Counts the event (metrics); reason codes come from a fixed list, so labels stay bounded. */
    private readonly count: (type: SecurityEventType, reason: string) => void = () => undefined,
  ) {}

  async record(input: SecurityEventInput): Promise<void> {
    const event: SecurityEvent = { ...input, at: this.now() };
    this.count(input.type, input.reason ?? '');
    const line = {
      security_event: event.type,
      reason: event.reason,
      tenant_id: event.tenantId,
      client_id: event.clientId,
      connection: event.connection,
      user_id: event.userId,
      ip: event.ip,
      ...(event.details === undefined ? {} : { details: event.details }),
    };
    if (WARN_TYPES.has(input.type)) this.logger.warn(line, describe(input));
    else this.logger.info(line, describe(input));
    try {
      await this.store.append(event);
    } catch (err) {
      // The log line above already holds the event; the request goes on.
      this.logger.error(
        { err: (err as Error).message, security_event: event.type },
        'could not store a security event (it is in this log); check the database',
      );
    }
  }
}

function describe(event: SecurityEventInput): string {
  switch (event.type) {
    case 'login_success':
      return event.reason === 'password_breached' ? 'login succeeded with a password on the breached list' : 'login succeeded';
    case 'login_failure':
      return `login failed (${event.reason ?? 'unknown'})`;
    case 'login_blocked':
      return `login refused before the password check (${event.reason ?? 'blocked'})`;
    case 'user_locked':
      return `identifier locked after repeated failures (${event.reason ?? 'brute_force'}); unblock with: latchkey users unblock`;
    case 'user_unblocked':
      return `identifier unblocked (${event.reason ?? 'operator'})`;
    case 'user_blocked':
      return `user blocked (${event.reason ?? ''}); every refresh token of the user was revoked, and unblocking revives none`;
    case 'user_deleted':
      return `user deleted (${event.reason ?? ''}); their refresh tokens were revoked and their second factors removed`;
    case 'password_changed':
      return `password changed (${event.reason ?? ''}); every refresh token of the user was revoked, and access tokens from earlier sign-ins are refused`;
    case 'ip_throttled':
      return 'end-user IP throttled after too many failed logins; if this is your backend, have it send the end-user IP (trust_forwarded_for) or add it to attack_protection.allowlist';
    case 'rate_limited':
      return `token endpoint rate limit reached (${event.reason ?? ''})`;
    case 'password_policy_refused':
      return `a new password was refused by the password policy (${event.reason ?? ''})`;
    case 'mfa_required':
      return event.reason === 'mfa_enrollment_required'
        ? 'password verified; the user must enroll a second factor'
        : 'password verified; a second factor is required';
    case 'mfa_failure':
      return `a second-factor code was refused (${event.reason ?? ''})`;
    case 'mfa_authenticator_removed':
      return 'a second factor was removed';
    case 'mfa_enrolled':
      return `a second factor was enrolled and confirmed (${event.reason ?? ''})`;
    case 'mfa_rate_limited':
      return event.reason === 'emails'
        ? 'MFA emails for this user reached their limit; more are refused until the window ends (docs/operations.md, MFA)'
        : 'enrolment calls with one mfa_token reached their limit; more are refused (docs/operations.md, MFA)';
    case 'hook_denied':
      return 'a post-login hook denied the sign-in (api.access.deny)';
    case 'hook_failure':
      return `a post-login hook failed (${event.reason ?? ''}); the sign-in failed closed. Fix the hook: the log line before this one has its error`;
    case 'authorization_code_replayed':
      return 'an authorization code was presented again; the tokens it issued were revoked (a stolen code, or a client retrying a redemption: RFC 6749 §4.1.2)';
    case 'logout':
      return `the browser session ended at the logout endpoint (${event.reason ?? ''}); the user's refresh tokens stay`;
    case 'device_approved':
      return 'a person confirmed a device on the verification page; the device gets tokens at its next poll';
    case 'device_denied':
      return `a device request was denied (${event.reason ?? 'user'}); the device gets access_denied`;
    case 'user_code_guesses_exceeded':
      return 'an IP entered 10 wrong device user codes in 10 minutes; its codes are refused until the window ends (RFC 8628 §5.1)';
    case 'user_signed_up':
      return 'a user signed up at /dbconnections/signup; a verification email was sent';
    case 'signup_refused':
      return `a sign-up was refused without telling the caller (${event.reason ?? ''}); the address's owner was emailed`;
    case 'password_reset_requested':
      return 'a password-reset link was emailed (valid once, for one hour)';
    case 'email_verified':
      return "the user's email address was verified by the emailed link";
    case 'account_rate_limited':
      return `too many ${event.reason === 'signup' ? 'sign-ups' : 'password-reset requests'} from one IP or for one address; more are refused with 429 until the hour's window ends`;
    case 'management_api_write':
      return `a Management API write succeeded (${event.reason ?? ''}); details name the actor and the object`;
  }
}
