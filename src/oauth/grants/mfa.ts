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
import type { UsedFactor } from '../../mfa/mfa-service.js';
import type { MfaTokenClaims } from '../../mfa/mfa-token.js';
import { sessionRefusalAt } from '../sessions.js';
import { InvalidGrantError, InvalidRequestError } from '../../domain/errors.js';
import type { RequestParameters } from '../request-parameters.js';
import type { GrantContext, GrantHandler } from './grant-handler.js';
import type { Grant } from '../../domain/grant.js';
import { MFA_OOB_GRANT, MFA_OTP_GRANT, MFA_RECOVERY_CODE_GRANT } from '../../domain/grant-types.js';


export type MfaGrantRequest =
  | { grantType: typeof MFA_OTP_GRANT; mfaToken: string; otp: string }
  | { grantType: typeof MFA_OOB_GRANT; mfaToken: string; oobCode: string; bindingCode: string | undefined }
  | { grantType: typeof MFA_RECOVERY_CODE_GRANT; mfaToken: string; recoveryCode: string };

export const mfaGrant: GrantHandler<MfaGrantRequest> = {
  grantTypes: [MFA_OTP_GRANT, MFA_OOB_GRANT, MFA_RECOVERY_CODE_GRANT],

  parse(params: RequestParameters, grantType: string): MfaGrantRequest {
    const mfaToken = params.require('mfa_token');
    if (grantType === MFA_OTP_GRANT) return { grantType, mfaToken, otp: params.require('otp') };
    if (grantType === MFA_OOB_GRANT) return { grantType, mfaToken, oobCode: params.require('oob_code'), bindingCode: params.get('binding_code') };
    if (grantType === MFA_RECOVERY_CODE_GRANT) return { grantType, mfaToken, recoveryCode: params.require('recovery_code') };
    throw new InvalidRequestError('Unknown MFA grant.');
  },

  async handle(request: MfaGrantRequest, ctx: GrantContext): Promise<Grant> {
    const { tenant, client } = ctx;
    const claims = ctx.mfaTokens.open(request.mfaToken, tenant.id, client.app.clientId);
    await ctx.mfaTokens.assertUnused(claims);
    const user = await ctx.users.findById(tenant.id, claims.userId);
    // Since the password check: the user removed or blocked, the password changed, the connection no longer served.
    const ended = sessionRefusalAt(tenant, user, new Date(claims.authTime));
    if (ended !== undefined || !user) throw new InvalidGrantError('The user can no longer sign in.', { logDetail: `mfa grant for user ${claims.userId}: ${ended ?? 'user_gone'}` });

    let factor: UsedFactor;
    let responseExtra: Record<string, string> | undefined;
    try {
      if (request.grantType === MFA_OTP_GRANT) {
        factor = await ctx.mfa.verifyOtp(tenant, claims, request.otp);
      } else if (request.grantType === MFA_OOB_GRANT) {
        factor = await ctx.mfa.verifyOob(tenant, claims, request.oobCode, request.bindingCode);
      } else {
        responseExtra = { recovery_code: await ctx.mfa.useRecoveryCode(tenant, claims, request.recoveryCode) };
        factor = 'recovery-code';
      }
    } catch (err) {
      await ctx.securityEvents.record({ type: 'mfa_failure', reason: failureReason(request.grantType), tenantId: tenant.id, clientId: client.app.clientId, userId: user.id, ip: ctx.endUserIp() });
      throw err;
    }
    // Single use: the first grant to get here wins, even across nodes.
    await ctx.mfaTokens.consume(claims);
    await ctx.securityEvents.record({ type: 'login_success', reason: `mfa_${factor}`, tenantId: tenant.id, clientId: client.app.clientId, userId: user.id, ip: ctx.endUserIp() });
    return grantOf(claims, ctx, user, factor, request.grantType, responseExtra);
  },
};

function grantOf(claims: MfaTokenClaims, ctx: GrantContext, user: NonNullable<Awaited<ReturnType<GrantContext['users']['findById']>>>, factor: UsedFactor, grantType: string, responseExtra: Record<string, string> | undefined): Grant {
  const api = claims.audience === null ? undefined : ctx.tenant.apis.get(claims.audience);
  if (claims.audience !== null && !api) throw new InvalidGrantError('The API of this sign-in no longer exists.');
  return {
    grantType,
    subject: { kind: 'user', user },
    api,
    scopes: claims.scopes,
    requestedScopes: claims.requestedScopes ?? undefined,
    authTime: new Date(claims.authTime),
    refresh: claims.refresh ? { kind: 'new_family' } : { kind: 'none' },
    // RFC 8176: pwd, then the second factor; "mfa" as Auth0 writes it.
    amr: ['pwd', factor === 'recovery-code' ? 'kba' : factor === 'email' ? 'mail' : 'otp', 'mfa'],
    ...(responseExtra ? { responseExtra } : {}),
  };
}

function failureReason(grantType: string): string {
  if (grantType === MFA_OTP_GRANT) return 'wrong_otp';
  if (grantType === MFA_OOB_GRANT) return 'wrong_binding_code';
  return 'wrong_recovery_code';
}
