/**
 * Signing in on the hosted page with exactly the password grant's core
 * (DESIGN.md §7): the same grant module checks the password (credential
 * sources, brute-force protection keyed on the browser's IP, blocked users,
 * the password policy), the same MFA gate decides whether a second factor
 * follows, and the same MFA grants check it. Only the answers differ: a
 * person on a page instead of a client reading JSON.
 */
import type { Clock } from '../../clock.js';
import type { Sealer } from '../../crypto/secrets.js';
import type { AuthenticatedClient } from '../../domain/client.js';
import { InvalidRequestError, MfaRequiredError } from '../../domain/errors.js';
import type { Grant } from '../../domain/grant.js';
import { MFA_OOB_GRANT, MFA_OTP_GRANT, MFA_RECOVERY_CODE_GRANT } from '../../domain/grant-types.js';
import type { Tenant } from '../../domain/tenant.js';
import type { MfaService } from '../../mfa/mfa-service.js';
import type { MfaTokens } from '../../mfa/mfa-token.js';
import type { ApplicationRecord, UserRecord, UserStore } from '../../storage/stores.js';
import type { GrantContext, GrantHandler } from '../grants/grant-handler.js';
import type { MfaGrantRequest } from '../grants/mfa.js';
import type { PasswordRequest } from '../grants/password.js';
import type { MfaGate } from '../mfa-gate.js';
import { userOfSignInInProgress } from '../sessions.js';

/** Who signs in, for what, from where: the page's request facts. */
export interface PageSignInContext {
  tenant: Tenant;
  app: ApplicationRecord;
  /** The browser's IP: the TCP peer, or X-Forwarded-For from the tenant's trusted_proxies. */
  ip: string;
  /** `event.grant_type` for the hooks and the grant's name: authorization_code or the device grant. */
  grantType: string;
  audience: string | undefined;
  scopes: string[] | undefined;
}

export interface SignedIn {
  kind: 'signed_in';
  user: UserRecord;
  authTime: Date;
  amr: string[];
  /** A recovery code to show once: after an enrolment, or the one that replaces a used recovery code. */
  recoveryCode?: string;
}

/** A second factor is asked: a code of a factor the user has. */
export interface FactorChallenge {
  kind: 'challenge';
  mfaToken: string;
  /** `otp`: an authenticator app's code; `email`: a code just emailed (its oob_code travels with the form). */
  method: 'otp' | 'email';
  oobCode?: string;
}

/** The policy wants a factor and the user has none: enrol an authenticator app on the page. */
export interface FactorEnrolment {
  kind: 'enrol';
  mfaToken: string;
  secret: string;
  otpauthUri: string;
  /**
   * The secret, its URI and the recovery code, sealed into the form: the page
   * can be shown again after a wrong code, and the recovery code is shown
   * once the enrolment is confirmed, never before and never stored in clear.
   */
  sealed: string;
}

interface SealedEnrolment {
  secret: string;
  otpauthUri: string;
  recoveryCode: string;
}

export type SignInStep = SignedIn | FactorChallenge | FactorEnrolment;

export interface PageSignInDeps {
  passwordGrant: GrantHandler<PasswordRequest>;
  mfaGrant: GrantHandler<MfaGrantRequest>;
  mfaGate: MfaGate;
  mfa: MfaService;
  mfaTokens: MfaTokens;
  users: Pick<UserStore, 'findById'>;
  /** Seals the enrolment's recovery code between the two pages. */
  sealer: Sealer;
  clock: Clock;
}

export class PageSignIn {
  constructor(private readonly deps: PageSignInDeps) {}

  async password(
    context: PageSignInContext,
    credentials: { username: string; password: string; realm: string | undefined },
  ): Promise<SignInStep> {
    const ctx = this.grantContext(context);
    const decision = await this.deps.passwordGrant.handle(
      { grantType: context.grantType, ...credentials, audience: context.audience, scopes: context.scopes },
      ctx,
    );
    try {
      const grant = await this.deps.mfaGate.check(decision, context.tenant, ctx.client);
      return signedIn(grant);
    } catch (err) {
      if (err instanceof MfaRequiredError) return this.secondFactor(context, err);
      throw err;
    }
  }

  /** What a second factor demanded by the MFA gate (at the password, at a step-up, or by a hook) looks like on the page. */
  async secondFactor(context: PageSignInContext, demand: MfaRequiredError): Promise<FactorChallenge | FactorEnrolment> {
    const { tenant } = context;
    const mfaToken = demand.extra?.mfa_token;
    if (mfaToken === undefined) throw demand;
    const claims = this.deps.mfaTokens.open(mfaToken, tenant.id, context.app.clientId);
    if (demand.errorReason === 'mfa_enrollment_required') {
      const user = await userOfSignInInProgress(this.deps.users, tenant, claims, 'page enrolment');
      const enrolment = await this.deps.mfa.associate(tenant, claims, user, { types: ['otp'], channels: undefined, email: undefined });
      if (enrolment.authenticator_type !== 'otp') throw new TypeError('an otp enrolment was asked');
      const carried: SealedEnrolment = {
        secret: enrolment.secret,
        otpauthUri: enrolment.barcode_uri,
        recoveryCode: enrolment.recovery_codes[0] ?? '',
      };
      return {
        kind: 'enrol',
        mfaToken,
        secret: carried.secret,
        otpauthUri: carried.otpauthUri,
        sealed: this.deps.sealer.seal(JSON.stringify(carried)),
      };
    }
    const { factors } = await this.deps.mfa.overview(tenant.id, claims.userId);
    if (factors.some((f) => f.type === 'otp')) return { kind: 'challenge', mfaToken, method: 'otp' };
    const sent = await this.deps.mfa.challenge(tenant, claims, 'oob', undefined);
    return { kind: 'challenge', mfaToken, method: 'email', ...(sent.oob_code ? { oobCode: sent.oob_code } : {}) };
  }

  /** An authenticator app's code, or an emailed code (with the oob_code its challenge gave). */
  async code(context: PageSignInContext, mfaToken: string, code: string, oobCode: string | undefined): Promise<SignedIn> {
    const request: MfaGrantRequest =
      oobCode === undefined
        ? { grantType: MFA_OTP_GRANT, mfaToken, otp: code }
        : { grantType: MFA_OOB_GRANT, mfaToken, oobCode, bindingCode: code };
    return this.completeWith(context, request);
  }

  /** The recovery code; the answer carries the one that replaces it, to show once. */
  async recoveryCode(context: PageSignInContext, mfaToken: string, recoveryCode: string): Promise<SignedIn> {
    return this.completeWith(context, { grantType: MFA_RECOVERY_CODE_GRANT, mfaToken, recoveryCode });
  }

  /** The first code of the app being enrolled confirms it (as Auth0's mfa-otp grant after /mfa/associate). */
  async confirmEnrolment(context: PageSignInContext, mfaToken: string, otp: string, sealed: string): Promise<SignedIn> {
    const { recoveryCode } = this.openEnrolment(sealed);
    const signed = await this.completeWith(context, { grantType: MFA_OTP_GRANT, mfaToken, otp });
    return { ...signed, recoveryCode };
  }

  /** The enrolment page again (after a wrong code), from what its form carried. */
  enrolmentAgain(mfaToken: string, sealed: string): FactorEnrolment {
    const { secret, otpauthUri } = this.openEnrolment(sealed);
    return { kind: 'enrol', mfaToken, secret, otpauthUri, sealed };
  }

  private openEnrolment(sealed: string): SealedEnrolment {
    try {
      return JSON.parse(this.deps.sealer.unseal(sealed)) as SealedEnrolment;
    } catch {
      throw new InvalidRequestError('This enrolment form is no longer valid; sign in again.', {
        logDetail: 'an enrolment form that does not open',
      });
    }
  }

  private async completeWith(context: PageSignInContext, request: MfaGrantRequest): Promise<SignedIn> {
    const { grant } = await this.deps.mfaGrant.handle(request, this.grantContext(context));
    return signedIn(grant);
  }

  private grantContext(context: PageSignInContext): GrantContext & { client: AuthenticatedClient } {
    // The browser is not the client: no client authenticated, and no forwarded-for header of a client is believed.
    const client: AuthenticatedClient = { app: context.app, method: context.app.settings.token_endpoint_auth_method };
    return { tenant: context.tenant, client, endUserIp: () => context.ip, now: this.deps.clock.now() };
  }
}

function signedIn(grant: Grant): SignedIn {
  if (grant.subject.kind !== 'user') throw new TypeError('a page sign-in signs a user in');
  const recoveryCode = grant.responseExtra?.recovery_code;
  return {
    kind: 'signed_in',
    user: grant.subject.user,
    authTime: grant.authTime,
    amr: grant.amr ?? ['pwd'],
    ...(recoveryCode === undefined ? {} : { recoveryCode }),
  };
}
