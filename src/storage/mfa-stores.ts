/**
 * Storage contracts of the second factor (mfa/): confirmed authenticators,
 * pending enrolments, TOTP replay steps and recovery codes. Re-exported by
 * stores.ts, where the other stores' contracts live.
 */
export type MfaAuthenticatorType = 'otp' | 'email';

/**
 * A user's confirmed second factor: one whose enrolment was completed with a
 * code. A TOTP secret is sealed under the master key; an email factor holds
 * its address.
 */
export interface MfaAuthenticator {
  id: string;
  tenantId: string;
  userId: string;
  type: MfaAuthenticatorType;
  secretSealed: string | null;
  email: string | null;
  createdAt: Date;
}

/**
 * An enrolment started with /mfa/associate and not yet confirmed: no factor
 * yet (it makes MFA neither required nor passable), at most one per user
 * (a new associate replaces it), usable only by the sign-in that started it,
 * and void when that sign-in's mfa_token expires.
 */
export interface MfaPendingEnrolment {
  tenantId: string;
  userId: string;
  /** The id the factor will keep once confirmed. */
  authenticatorId: string;
  type: MfaAuthenticatorType;
  secretSealed: string | null;
  email: string | null;
  /** The recovery code shown at associate (a keyed hash): it becomes the user's only when this enrolment is confirmed. */
  recoveryCodeHash: string;
  /** The jti of the mfa_token that started it: only that mfa_token can confirm it. */
  mfaTokenJti: string;
  createdAt: Date;
  /** The mfa_token's expiry: the enrolment is void from then on, and purged. */
  expiresAt: Date;
}

/** What confirming a pending enrolment did; losing a race is a value, not an exception. */
export type EnrolmentConfirmation =
  | { kind: 'confirmed'; authenticator: MfaAuthenticator }
  /** The enrolment was replaced by a newer associate, expired, or already confirmed. */
  | { kind: 'gone' }
  /** The user confirmed another factor meanwhile: this enrolment is dropped, nothing is added. */
  | { kind: 'already_enrolled' };

export interface MfaStore {
  /** The user's confirmed factors, oldest first. */
  listAuthenticators(tenantId: string, userId: string): Promise<MfaAuthenticator[]>;
  /** Adds a confirmed factor directly (imports, tests); enrolment goes through confirmPendingEnrolment. */
  addAuthenticator(authenticator: MfaAuthenticator): Promise<void>;
  /** Removes one authenticator of the user (and the recovery code with the last one); false when it was not theirs. */
  removeAuthenticator(tenantId: string, userId: string, id: string): Promise<boolean>;
  /** Removes every factor, the pending enrolment and the recovery code. */
  removeAllAuthenticators(tenantId: string, userId: string): Promise<number>;
  /**
   * RFC 6238 §5.2: records `step` as the last TOTP time step accepted for
   * the factor, only if it is later than the one recorded. One conditional
   * UPDATE: of concurrent calls with the same or earlier steps, on any
   * node, at most one returns true.
   */
  advanceOtpStep(tenantId: string, authenticatorId: string, step: number): Promise<boolean>;
  /** Starts an enrolment, replacing the user's earlier pending one (one upsert, so two racing associates leave one). */
  putPendingEnrolment(enrolment: MfaPendingEnrolment): Promise<void>;
  /** The user's pending enrolment, unless it expired at `now`. */
  pendingEnrolment(tenantId: string, userId: string, now: Date): Promise<MfaPendingEnrolment | undefined>;
  /**
   * Turns the user's pending enrolment into a factor, in one transaction:
   * only if it is still `authenticatorId`, started by `mfaTokenJti`, and
   * unexpired at `now`; only if the user has no factor yet; the factor
   * starts at `lastUsedStep` (the TOTP step of the confirming code) and the
   * enrolment's recovery code becomes the user's.
   */
  confirmPendingEnrolment(args: {
    tenantId: string;
    userId: string;
    authenticatorId: string;
    mfaTokenJti: string;
    now: Date;
    lastUsedStep: number | null;
  }): Promise<EnrolmentConfirmation>;
  /** The user's recovery code, stored only as a keyed hash. */
  recoveryCodeHash(tenantId: string, userId: string): Promise<string | undefined>;
  setRecoveryCodeHash(tenantId: string, userId: string, hash: string | null): Promise<void>;
  /** Swaps the recovery code only if it is still `expectedHash`: a code is spent once, even under concurrent use. */
  replaceRecoveryCodeHash(tenantId: string, userId: string, expectedHash: string, nextHash: string): Promise<boolean>;
}
