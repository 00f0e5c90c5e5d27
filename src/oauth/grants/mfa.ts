/**
 * Auth0's MFA grants: they complete a password grant that answered
 * `mfa_required`, with the mfa_token and a second factor, and yield exactly
 * what the password grant would have (same audience, scopes and refresh
 * token), plus `amr` naming the factors.
 *
 * - http://auth0.com/oauth/grant-type/mfa-otp: mfa_token + otp
 * - http://auth0.com/oauth/grant-type/mfa-oob: mfa_token + oob_code + binding_code
 * - http://auth0.com/oauth/grant-type/mfa-recovery-code: mfa_token + recovery_code (the response carries the next recovery_code)
 */
import type { MfaService } from '../../mfa/mfa-service.js';
import { grantFromClaims, type MfaTokens, type UsedFactor } from '../../mfa/mfa-token.js';
import type { SecurityEvents } from '../../observability/security-events.js';
import type { UserStore } from '../../storage/stores.js';
import { userOfSignInInProgress } from '../sessions.js';
import { InvalidRequestError } from '../../domain/errors.js';
import type { RequestParameters } from '../request-parameters.js';
import type { GrantContext, GrantDecision, GrantHandler } from './grant-handler.js';
import { MFA_OOB_GRANT, MFA_OTP_GRANT, MFA_RECOVERY_CODE_GRANT, type GrantTypeName } from '../../domain/grant-types.js';

export type MfaGrantRequest =
  | { grantType: typeof MFA_OTP_GRANT; mfaToken: string; otp: string }
  | { grantType: typeof MFA_OOB_GRANT; mfaToken: string; oobCode: string; bindingCode: string | undefined }
  | { grantType: typeof MFA_RECOVERY_CODE_GRANT; mfaToken: string; recoveryCode: string };

export interface MfaGrantDeps {
  users: UserStore;
  mfa: MfaService;
  mfaTokens: MfaTokens;
  securityEvents: SecurityEvents;
}

export function createMfaGrant(deps: MfaGrantDeps): GrantHandler<MfaGrantRequest> {
  return new MfaGrant(deps);
}

class MfaGrant implements GrantHandler<MfaGrantRequest> {
  readonly grantTypes: readonly GrantTypeName[] = [MFA_OTP_GRANT, MFA_OOB_GRANT, MFA_RECOVERY_CODE_GRANT];

  constructor(private readonly deps: MfaGrantDeps) {}

  parse(params: RequestParameters, grantType: string): MfaGrantRequest {
    const mfaToken = params.require('mfa_token');
    if (grantType === MFA_OTP_GRANT) return { grantType, mfaToken, otp: params.require('otp') };
    if (grantType === MFA_OOB_GRANT)
      return { grantType, mfaToken, oobCode: params.require('oob_code'), bindingCode: params.get('binding_code') };
    if (grantType === MFA_RECOVERY_CODE_GRANT) return { grantType, mfaToken, recoveryCode: params.require('recovery_code') };
    throw new InvalidRequestError('Unknown MFA grant.');
  }

  async handle(request: MfaGrantRequest, ctx: GrantContext): Promise<GrantDecision> {
    const { tenant, client } = ctx;
    const { mfa, mfaTokens, securityEvents } = this.deps;
    const claims = mfaTokens.open(request.mfaToken, tenant.id, client.app.clientId);
    await mfaTokens.assertUnused(claims);
    // Since the password check: the user removed or blocked, the password changed, the connection no longer served.
    const user = await userOfSignInInProgress(this.deps.users, tenant, claims, 'mfa grant');

    let factor: UsedFactor;
    let responseExtra: Record<string, string> | undefined;
    try {
      if (request.grantType === MFA_OTP_GRANT) {
        factor = await mfa.verifyOtp(tenant, claims, request.otp);
      } else if (request.grantType === MFA_OOB_GRANT) {
        factor = await mfa.verifyOob(tenant, claims, request.oobCode, request.bindingCode);
      } else {
        responseExtra = { recovery_code: await mfa.useRecoveryCode(tenant, claims, request.recoveryCode) };
        factor = 'recovery-code';
      }
    } catch (err) {
      await securityEvents.record({
        type: 'mfa_failure',
        reason: failureReason(request.grantType),
        tenantId: tenant.id,
        clientId: client.app.clientId,
        userId: user.id,
        ip: ctx.endUserIp(),
      });
      throw err;
    }
    // Single use: the first grant to get here wins, even across nodes.
    await mfaTokens.consume(claims);
    await securityEvents.record({
      type: 'login_success',
      reason: `mfa_${factor}`,
      tenantId: tenant.id,
      clientId: client.app.clientId,
      userId: user.id,
      ip: ctx.endUserIp(),
    });
    await this.deps.users.recordLogin(user.id, ctx.now);
    return { grant: grantFromClaims(claims, tenant.apis, { grantType: request.grantType, user, factor, responseExtra }) };
  }
}

function failureReason(grantType: string): string {
  if (grantType === MFA_OTP_GRANT) return 'wrong_otp';
  if (grantType === MFA_OOB_GRANT) return 'wrong_binding_code';
  return 'wrong_recovery_code';
}
