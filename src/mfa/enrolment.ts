/**
 * Enrolment (issue #11 point 2): /mfa/associate starts a pending enrolment,
 * at most one per user (a new one replaces it), bound to the mfa_token that
 * started it and void when that token expires. It is no factor: it makes MFA
 * neither required nor passable, except that the sign-in that started it
 * confirms it with its first good code. Only then does it become a factor,
 * and only then does the recovery code shown at associate become valid.
 */
import type { Clock } from '../clock.js';
import { InvalidGrantError } from '../domain/errors.js';
import type { Tenant } from '../domain/tenant.js';
import type { SecurityEvents } from '../observability/security-events.js';
import type { MfaAuthenticatorType, MfaPendingEnrolment, MfaStore } from '../storage/stores.js';
import type { MfaTokenClaims } from './mfa-token.js';

/** What a code can be checked against: a confirmed factor, or the enrolment this sign-in started. */
export interface CodeTarget {
  id: string;
  type: MfaAuthenticatorType;
  secretSealed: string | null;
  email: string | null;
  pending?: MfaPendingEnrolment;
}

export interface CodeTargets {
  targets: CodeTarget[];
  /** The user has no factor and another sign-in's enrolment is pending (it replaced this one's, if any). */
  enrollingElsewhere: boolean;
}

export interface EnrolmentsDeps {
  store: MfaStore;
  events: SecurityEvents;
  clock: Clock;
}

export class Enrolments {
  constructor(private readonly deps: EnrolmentsDeps) {}

  /** The user's confirmed factors, then the enrolment this mfa_token started (no other sign-in's). */
  async codeTargets(tenantId: string, claims: MfaTokenClaims): Promise<CodeTargets> {
    const [factors, pending] = await Promise.all([
      this.deps.store.listAuthenticators(tenantId, claims.userId),
      this.deps.store.pendingEnrolment(tenantId, claims.userId, this.deps.clock.now()),
    ]);
    const targets: CodeTarget[] = factors.map((f) => ({ id: f.id, type: f.type, secretSealed: f.secretSealed, email: f.email }));
    const own = pending !== undefined && pending.mfaTokenJti === claims.jti;
    if (own) {
      const { authenticatorId: id, type, secretSealed, email } = pending;
      targets.push({ id, type, secretSealed, email, pending });
    }
    return { targets, enrollingElsewhere: factors.length === 0 && pending !== undefined && !own };
  }

  /** The pending enrolment becomes a factor (and its recovery code the user's), or the grant is refused. */
  async confirm(tenant: Tenant, claims: MfaTokenClaims, pending: MfaPendingEnrolment, step: number | null): Promise<void> {
    const result = await this.deps.store.confirmPendingEnrolment({
      tenantId: tenant.id,
      userId: claims.userId,
      authenticatorId: pending.authenticatorId,
      mfaTokenJti: claims.jti,
      now: this.deps.clock.now(),
      lastUsedStep: step,
    });
    if (result.kind === 'gone') {
      throw new InvalidGrantError('This enrolment was replaced by a newer one or has expired; enroll again.', {
        logDetail: `pending enrolment of user ${claims.userId} gone before confirmation`,
      });
    }
    if (result.kind === 'already_enrolled') {
      throw new InvalidGrantError('The user confirmed another authenticator meanwhile; sign in again and use it.', {
        logDetail: `user ${claims.userId} already has a factor; a second enrolment was dropped`,
      });
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
}

/** The user has no factor and the enrolment in progress is another sign-in's: a newer associate replaced this one's, if any. */
export function replacedEnrolment(): InvalidGrantError {
  const description = 'This enrollment was replaced by a newer one (another sign-in started one since); enroll again with /mfa/associate.';
  return new InvalidGrantError(description, {
    logDetail: 'MFA request of a sign-in whose enrolment another associate replaced',
  });
}
