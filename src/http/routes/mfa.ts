/**
 * Auth0's MFA API for the password flow (DESIGN.md §2, §3):
 * POST /T/mfa/associate (Bearer mfa_token, client authentication in the
 * body), POST /T/mfa/challenge (client authentication + mfa_token),
 * GET /T/mfa/authenticators (Bearer mfa_token or the user's access token),
 * DELETE /T/mfa/authenticators/:id (the user's access token).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MfaAuthenticator } from '../../storage/stores.js';
import { MfaTokens } from '../../mfa/mfa-token.js';
import type { Tenant } from '../../oauth/catalog.js';
import { authenticateClient } from '../../oauth/client-auth/authenticate.js';
import { presentedClientAuth } from '../../oauth/client-auth/presented.js';
import { InvalidGrantError, InvalidTokenError, NotFoundError, OAuthError } from '../../oauth/errors.js';
import type { RequestParameters } from '../../oauth/token-request.js';
import type { Runtime } from '../../runtime.js';
import { bodyParameters } from '../body.js';
import { tenantOf } from '../tenant.js';
import { bearerToken, withBearerChallenge } from './protected-resources.js';

export function registerMfaRoutes(app: FastifyInstance, runtime: Runtime): void {
  const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store').header('pragma', 'no-cache');

  /** Client authentication as at the token endpoint; with a Bearer mfa_token in Authorization, only the body can carry it. */
  async function authenticatedClient(request: FastifyRequest, tenant: Tenant, params: RequestParameters, path: string) {
    const authorization = /^Bearer /i.test(request.headers.authorization ?? '') ? undefined : request.headers.authorization;
    return authenticateClient(presentedClientAuth(authorization, params), tenant, `${tenant.endpoints.issuer}${path}`, {
      secretHasher: runtime.secretHasher,
      consumedJtis: runtime.stores.consumedJtis,
      clock: runtime.clock,
    });
  }

  async function activeUser(tenant: Tenant, userId: string) {
    const user = await runtime.stores.users.findById(tenant.id, userId);
    if (!user || user.blocked) throw new InvalidGrantError('The user can no longer sign in.', { logDetail: `MFA request for a removed or blocked user ${userId}` });
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
    const claims = runtime.mfaTokens.open(mfaToken, tenant.id, clientId);
    const user = await activeUser(tenant, claims.userId);
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
    const claims = runtime.mfaTokens.open(params.require('mfa_token'), tenant.id, client.app.clientId);
    await activeUser(tenant, claims.userId);
    return runtime.mfa.challenge(tenant, claims, params.get('challenge_type') ?? 'otp', params.get('authenticator_id'));
  });

  /** The user behind a Bearer value: an mfa_token (during sign-in) or one of the user's access tokens. */
  async function bearerUser(request: FastifyRequest, tenant: Tenant, options: { allowMfaToken: boolean }): Promise<string> {
    const token = bearerToken(request, undefined);
    if (MfaTokens.looksLikeMfaToken(token)) {
      if (!options.allowMfaToken) throw new InvalidTokenError('Removing an authenticator needs an access token of the user, not an mfa_token.');
      try {
        return runtime.mfaTokens.open(token, tenant.id, undefined).userId;
      } catch (err) {
        if (!(err instanceof OAuthError)) throw err;
        throw new InvalidTokenError(err.description, { logDetail: err.logDetail });
      }
    }
    const check = await runtime.verifier.verify(token, tenant, { checkRevocation: true });
    if (!check.valid || typeof check.payload.sub !== 'string') throw new InvalidTokenError('The access token is invalid, expired or revoked.', { logDetail: check.valid ? 'no sub' : check.reason });
    // A client_credentials token names the client, not a user.
    if (check.payload.sub === check.payload.client_id) throw new InvalidTokenError('The access token does not belong to a user.');
    return check.payload.sub;
  }

  app.get('/:tenant/mfa/authenticators', async (request, reply) => {
    noStore(reply);
    try {
      const tenant = tenantOf(request, runtime.catalog);
      const userId = await bearerUser(request, tenant, { allowMfaToken: true });
      const authenticators = await runtime.mfa.listAuthenticators(tenant.id, userId);
      const hasRecoveryCode = (await runtime.stores.mfa.recoveryCodeHash(tenant.id, userId)) !== undefined;
      return [...authenticators.map(describeAuthenticator), ...(hasRecoveryCode && authenticators.length > 0 ? [{ id: 'recovery-code', authenticator_type: 'recovery-code', active: true }] : [])];
    } catch (err) {
      throw withBearerChallenge(err);
    }
  });

  app.delete('/:tenant/mfa/authenticators/:id', async (request, reply) => {
    noStore(reply);
    try {
      const tenant = tenantOf(request, runtime.catalog);
      const userId = await bearerUser(request, tenant, { allowMfaToken: false });
      const id = (request.params as { id: string }).id;
      if (!(await runtime.mfa.remove(tenant.id, userId, id))) throw new NotFoundError('The user has no authenticator with this id.');
      await runtime.securityEvents.record({ type: 'mfa_authenticator_removed', reason: 'user', tenantId: tenant.id, userId, details: { authenticator_id: id } });
      return reply.code(204).send();
    } catch (err) {
      throw withBearerChallenge(err);
    }
  });
}

/** Auth0's list shape; an email address is shown masked. */
function describeAuthenticator(a: MfaAuthenticator): Record<string, string | boolean> {
  if (a.type === 'otp') return { id: a.id, authenticator_type: 'otp', active: a.confirmed };
  return { id: a.id, authenticator_type: 'oob', oob_channel: 'email', name: maskEmail(a.email ?? ''), active: a.confirmed };
}

function maskEmail(email: string): string {
  const [local = '', domain = ''] = email.split('@');
  return `${local.slice(0, 1)}${'*'.repeat(Math.max(1, local.length - 1))}@${domain}`;
}
