/**
 * A login attempt as a password-checking grant sees it (RFC 6749 §4.3.2):
 * made by AttackProtection.beginLogin once the attempt may go ahead, settled
 * once with the outcome of the password check. How each outcome counts is the policy's (attack-protection.ts),
 * reached only through the Settlement it hands over.
 */

export type FailureReason = 'unknown_user' | 'wrong_password' | 'no_password';

/** Why a right password still does not sign in. */
export type PolicyRefusal = 'user_blocked' | 'password_breached' | 'password_expired' | 'password_change_required';

/** A right password's outcome, as its security event names it. */
export type VerifiedOutcome = 'login_success' | 'login_failure' | 'mfa_required';

/** How a LoginAttempt ends, as the policy settles it: given to the attempt when it is made, and to nothing else. */
export interface Settlement {
  failed(reason: FailureReason, userId: string | undefined): Promise<void>;
  verified(outcome: VerifiedOutcome, reason: string | undefined, userId: string): Promise<void>;
  abandoned(): Promise<void>;
}

/**
 * One password attempt between its checks and its outcome: what a grant
 * holds after AttackProtection.beginLogin, and settles exactly once (a
 * second settle does nothing).
 */
export class LoginAttempt {
  private settled = false;

  /** Made by AttackProtection.beginLogin. */
  constructor(private readonly settlement: Settlement) {}

  /** The credentials were refused: the failure counts, and may lock. */
  async failed(reason: FailureReason, userId?: string): Promise<void> {
    if (this.settle()) await this.settlement.failed(reason, userId);
  }

  /**
   * The password was right and tokens will be issued: consecutive-failure
   * counts end here. `reason` flags a breached password that policy lets through.
   */
  async succeeded(userId: string, reason?: 'password_breached'): Promise<void> {
    if (this.settle()) await this.settlement.verified('login_success', reason, userId);
  }

  /** The password was right, but policy refuses the login (blocked user, breached password); the counts still end. */
  async refused(userId: string, reason: PolicyRefusal): Promise<void> {
    if (this.settle()) await this.settlement.verified('login_failure', reason, userId);
  }

  /** The password was right and a second factor must follow: the counts end, and the event says what is pending. */
  async secondFactorRequired(userId: string, enrollment: boolean): Promise<void> {
    if (this.settle()) await this.settlement.verified('mfa_required', enrollment ? 'mfa_enrollment_required' : undefined, userId);
  }

  /** The check never happened (the server was busy or a dependency failed): nothing counts. */
  async refund(): Promise<void> {
    if (this.settle()) await this.settlement.abandoned();
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    return true;
  }
}
