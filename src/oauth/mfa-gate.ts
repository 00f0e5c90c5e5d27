/**
 * The token endpoint's MFA gate (Auth0's MFA inside the password flow): the
 * step after a grant decides. A sign-in with the password alone passes only
 * when its policy asks no second factor; otherwise it is answered 403
 * `mfa_required` with an mfa_token that carries the grant's decision, which
 * an MFA grant carries out once a factor is shown (mfa/mfa-token.ts). A
 * post-login hook may demand the same (`api.multifactor.enable()`). Whether
 * the client must enrol a factor or challenge one it has is decided here,
 * once, for both.
 */
import { configSchema, type MfaPolicy } from '../config/schema.js';
import type { ApiConfig } from '../config/schema.js';
import type { AuthenticatedClient } from '../domain/client.js';
import { InvalidGrantError, MfaRequiredError } from '../domain/errors.js';
import type { Grant } from '../domain/grant.js';
import type { Tenant } from '../domain/tenant.js';
import type { MfaService } from '../mfa/mfa-service.js';
import type { MfaTokens } from '../mfa/mfa-token.js';
import type { SecurityEvents } from '../observability/security-events.js';
import type { ApplicationRecord } from '../storage/stores.js';
import type { GrantDecision } from './grants/grant-handler.js';
import { assertManagementApiUser } from './management-audience.js';

/** What a sign-in needs next: nothing, a code of a factor the user has, or a factor enrolled first. */
export type MfaRequirement = 'none' | 'challenge' | 'enroll';

/** Who asked for a second factor, for the security event of a hook's demand. */
export interface SignInContext {
  tenantId: string;
  clientId: string;
  userId: string;
  ip: string;
}

export interface MfaGateDeps {
  mfa: Pick<MfaService, 'hasFactor'>;
  mfaTokens: Pick<MfaTokens, 'seal'>;
  securityEvents: Pick<SecurityEvents, 'record'>;
}

/**
 * A tenant stored without a policy reads the schema's default: written once,
 * on the schema's field (config/schema.ts), not restated here.
 */
const DEFAULT_TENANT_POLICY: MfaPolicy = configSchema.shape.tenants.element.shape.mfa.parse(undefined);

export class MfaGate {
  constructor(private readonly deps: MfaGateDeps) {}

  /**
   * The pipeline step: a grant that checked a password settles its login
   * attempt here, signed in or waiting for a second factor. Other grants
   * pass unchanged: a refresh keeps how its family signed in, an MFA grant
   * has its factor, client_credentials has no user.
   */
  async check(decision: GrantDecision, tenant: Tenant, client: AuthenticatedClient): Promise<Grant> {
    const { grant, passwordLogin } = decision;
    try {
      assertManagementApiUser(grant, tenant);
    } catch (refusal) {
      // The password was right; the refusal is the tenant's rule, as a hook's deny would be.
      await passwordLogin?.succeeded();
      throw refusal;
    }
    if (!passwordLogin) return grant;
    const policy = mfaPolicyOf(tenant, client.app, grant.api);
    const requirement = await this.requirement(tenant.id, passwordLogin.user.id, policy);
    if (requirement === 'none') {
      await passwordLogin.succeeded();
      return grant;
    }
    await passwordLogin.secondFactorRequired(requirement === 'enroll');
    throw new MfaRequiredError(this.deps.mfaTokens.seal(grant, tenant.id, client.app.clientId), requirement === 'enroll');
  }

  /**
   * A browser session that signed in without a second factor, now used for
   * an application or API whose policy wants one: the person steps up, with
   * an mfa_token carrying this grant, as the password flow would ask.
   */
  async checkSession(grant: Grant, tenant: Tenant, client: AuthenticatedClient): Promise<void> {
    assertManagementApiUser(grant, tenant);
    if (grant.subject.kind !== 'user' || grant.amr?.includes('mfa')) return;
    const requirement = await this.requirement(tenant.id, grant.subject.user.id, mfaPolicyOf(tenant, client.app, grant.api));
    if (requirement === 'none') return;
    throw new MfaRequiredError(this.deps.mfaTokens.seal(grant, tenant.id, client.app.clientId), requirement === 'enroll');
  }

  /**
   * `api.multifactor.enable()` on a sign-in made with the password alone:
   * answer `mfa_required` as the MFA policy would, with an mfa_token that
   * carries this grant's decision. A refresh cannot prompt for a factor, so
   * it is refused and the user signs in again.
   */
  async demandedByHook(grant: Grant, tenant: Tenant, client: AuthenticatedClient, context: SignInContext): Promise<never> {
    if (grant.grantType === 'refresh_token') {
      throw new InvalidGrantError('A second factor is now required; sign in again.', {
        errorReason: 'mfa_required',
        logDetail: `a post-login hook required MFA on a refresh of a password-only sign-in (user ${context.userId})`,
      });
    }
    const enroll = (await this.requirement(tenant.id, context.userId, 'always')) === 'enroll';
    await this.deps.securityEvents.record({ type: 'mfa_required', reason: enroll ? 'mfa_enrollment_required' : 'hook', ...context });
    throw new MfaRequiredError(this.deps.mfaTokens.seal(grant, tenant.id, client.app.clientId), enroll);
  }

  /**
   * The one rule: a user with a factor is challenged whenever the policy
   * allows MFA at all; a user without one enrols first when the policy
   * requires a factor, and signs in without one under `optional`.
   */
  private async requirement(tenantId: string, userId: string, policy: MfaPolicy): Promise<MfaRequirement> {
    if (policy === 'never') return 'none';
    if (await this.deps.mfa.hasFactor(tenantId, userId)) return 'challenge';
    return policy === 'always' ? 'enroll' : 'none';
  }
}

/**
 * The application's policy, else the tenant's. A token for the MFA API
 * (domain/mfa-api.ts) manages factors, and one for the Management API
 * (domain/management-api.ts) manages everything, so both always take one,
 * whatever the policy.
 */
export function mfaPolicyOf(tenant: Tenant, app: ApplicationRecord, api: ApiConfig | undefined): MfaPolicy {
  if (api?.identifier === tenant.endpoints.mfaApi || api?.identifier === tenant.endpoints.managementApi) return 'always';
  return app.settings.mfa ?? tenant.settings.mfa ?? DEFAULT_TENANT_POLICY;
}
