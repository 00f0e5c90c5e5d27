/**
 * Auth0's MFA API for the password flow (DESIGN.md §2, §3):
 * POST /T/mfa/associate (Bearer mfa_token, client authentication in the
 * body), POST /T/mfa/challenge (client authentication + mfa_token),
 * GET /T/mfa/authenticators (Bearer mfa_token, or an MFA-API access token),
 * DELETE /T/mfa/authenticators/:id (an MFA-API access token from a recent
 * second factor). Who may do what: oauth/mfa-authenticators.ts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { maskEmail, type MfaOverview } from '../../mfa/mfa-service.js';
import type { MfaTokenClaims } from '../../mfa/mfa-token.js';
import type { Tenant } from '../../domain/tenant.js';
import { presentedClientAuth } from '../../oauth/client-auth/presented.js';
import { InvalidGrantError, NotFoundError } from '../../domain/errors.js';
import { authorizeListing, authorizeRemoval, type AuthenticatorsApiDeps } from '../../oauth/mfa-authenticators.js';
import { sessionRefusalAt } from '../../oauth/sessions.js';
import type { RequestParameters } from '../../oauth/request-parameters.js';
import type { Runtime } from '../../runtime.js';
import type { MfaAuthenticatorType } from '../../storage/stores.js';
import { bodyParameters } from '../body.js';
import { tenantOf } from '../tenant.js';
import { bearerToken, withBearerChallenge } from './protected-resources.js';
import { requestOrigin } from '../request-origin.js';

export function registerMfaRoutes(app: FastifyInstance, runtime: Runtime): void {
  const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  const access: AuthenticatorsApiDeps = { verifier: runtime.verifier, mfaTokens: runtime.mfaTokens, users: runtime.stores.users, clock: runtime.clock };

  /** Client authentication as at the token endpoint; with a Bearer mfa_token in Authorization, only the body can carry it. */
  async function authenticatedClient(request: FastifyRequest, tenant: Tenant, params: RequestParameters, path: string) {
    const authorization = /^Bearer /i.test(request.headers.authorization ?? '') ? undefined : request.headers.authorization;
    return runtime.clientAuthenticator.authenticate(presentedClientAuth(authorization, params), tenant, `${tenant.endpoints.issuer}${path}`);
  }

  /** The sign-in in progress: an unspent mfa_token of an active user. */
  async function signInInProgress(tenant: Tenant, mfaToken: string | undefined, clientId: string | undefined): Promise<MfaTokenClaims> {
    const claims = runtime.mfaTokens.open(mfaToken, tenant.id, clientId);
    await runtime.mfaTokens.assertUnused(claims);
    return claims;
  }

  async function activeUser(tenant: Tenant, claims: MfaTokenClaims) {
    const user = await runtime.stores.users.findById(tenant.id, claims.userId);
    const ended = sessionRefusalAt(tenant, user, new Date(claims.authTime));
    if (ended !== undefined || !user) throw new InvalidGrantError('The user can no longer sign in.', { logDetail: `MFA request for user ${claims.userId}: ${ended ?? 'user_gone'}` });
    return user;
  }

  app.post('/:tenant/mfa/associate', async (request, reply) => {
    noStore(reply);
    const tenant = tenantOf(request, runtime.catalog);
    const params = bodyParameters(request, { allowJson: true, listKeys: ['authenticator_types', 'oob_channels'] });
    const mfaToken = bearerToken(request, undefined);
    // Auth0 accepts the mfa_token alone here (its documented request is `{"authenticator_types":["otp"]}`,
    // and auth0-auth-js sends nothing more): the token is bound to its client. Credentials sent are checked.
    const credentials = presentedClientAuth(undefined, params).method !== 'missing';
    const clientId = credentials ? (await authenticatedClient(request, tenant, params, 'mfa/associate')).app.clientId : undefined;
    const claims = await signInInProgress(tenant, mfaToken, clientId);
    const user = await activeUser(tenant, claims);
    return runtime.mfa.associate(tenant, claims, user, {
      types: params.list('authenticator_types') ?? [],
      channels: params.list('oob_channels'),
      email: params.get('email'),
    });
  });

  app.post('/:tenant/mfa/challenge', async (request, reply) => {
    noStore(reply);
    const tenant = tenantOf(request, runtime.catalog);
    const params = bodyParameters(request, { allowJson: true });
    const client = await authenticatedClient(request, tenant, params, 'mfa/challenge');
    const claims = await signInInProgress(tenant, params.require('mfa_token'), client.app.clientId);
    await activeUser(tenant, claims);
    return runtime.mfa.challenge(tenant, claims, params.get('challenge_type') ?? 'otp', params.get('authenticator_id'));
  });

  app.get('/:tenant/mfa/authenticators', async (request, reply) => {
    noStore(reply);
    try {
      const tenant = tenantOf(request, runtime.catalog);
      const { user } = await authorizeListing(bearerToken(request, undefined), tenant, access);
      return describeFactors(await runtime.mfa.overview(tenant.id, user.id));
    } catch (err) {
      throw withBearerChallenge(err);
    }
  });

  app.delete('/:tenant/mfa/authenticators/:id', async (request, reply) => {
    noStore(reply);
    try {
      const tenant = tenantOf(request, runtime.catalog);
      const { user, clientId } = await authorizeRemoval(bearerToken(request, undefined), tenant, access);
      const id = (request.params as { id: string }).id;
      const ip = requestOrigin(request.raw, tenant).networkIp();
      if (!(await runtime.mfa.remove(tenant, user, id, { clientId, ip }))) throw new NotFoundError('The user has no authenticator with this id.');
      return reply.code(204).send();
    } catch (err) {
      throw withBearerChallenge(err);
    }
  });
}

/** Auth0's list shape: confirmed factors are active, the enrolment in progress is not; an email address is shown masked. */
function describeFactors({ factors, pending, hasRecoveryCode }: MfaOverview): Array<Record<string, string | boolean>> {
  const listed = factors.map((f) => describe(f.id, f.type, f.email, true));
  if (pending) listed.push(describe(pending.authenticatorId, pending.type, pending.email, false));
  if (hasRecoveryCode) listed.push({ id: 'recovery-code', authenticator_type: 'recovery-code', active: true });
  return listed;
}

function describe(id: string, type: MfaAuthenticatorType, email: string | null, active: boolean): Record<string, string | boolean> {
  if (type === 'otp') return { id, authenticator_type: 'otp', active };
  return { id, authenticator_type: 'oob', oob_channel: 'email', name: maskEmail(email ?? ''), active };
}
