/**
 * Userinfo (OIDC Core §5.3, RFC 6750), revocation (RFC 7009) and
 * introspection (RFC 7662).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { presentedClientAuth } from '../../oauth/client-auth/presented.js';
import { BearerTokenMissingError, InsufficientScopeError, InvalidClientError, InvalidRequestError, OAuthError } from '../../domain/errors.js';
import { introspect } from '../../oauth/introspection.js';
import { revoke } from '../../oauth/revocation.js';
import type { RequestParameters } from '../../oauth/request-parameters.js';
import { userinfo } from '../../oauth/userinfo.js';
import type { Runtime } from '../../runtime.js';
import { bodyParameters } from '../body.js';
import { tenantOf } from '../tenant.js';

export function bearerToken(request: FastifyRequest, params: RequestParameters | undefined): string {
  const header = request.headers.authorization;
  const fromBody = params?.get('access_token');
  if (header !== undefined && fromBody !== undefined) throw new InvalidRequestError('Send the access token in one place only (RFC 6750 §2).');
  if (header !== undefined) {
    const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
    if (!match?.[1]) throw new InvalidRequestError('The Authorization header must be "Bearer <token>".');
    return match[1];
  }
  if (fromBody !== undefined) return fromBody;
  throw new BearerTokenMissingError();
}

const BEARER_ERRORS = new Set(['invalid_request', 'invalid_token', 'insufficient_scope']);

/**
 * RFC 6750 §3 (OIDC Core §5.3.3): a refused bearer request carries
 * `WWW-Authenticate: Bearer` with its error code; the description is reduced
 * to the characters §3 allows in a quoted value.
 */
export function withBearerChallenge(err: unknown): unknown {
  if (!(err instanceof OAuthError) || err.headers['www-authenticate'] !== undefined || !BEARER_ERRORS.has(err.error)) return err;
  const description = err.description.replace(/"/g, "'").replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '');
  const scope = err instanceof InsufficientScopeError ? `, scope="${err.requiredScope}"` : '';
  err.headers['www-authenticate'] = `Bearer realm="latchkey", error="${err.error}", error_description="${description}"${scope}`;
  return err;
}

export function registerProtectedResourceRoutes(app: FastifyInstance, runtime: Runtime): void {
  const userinfoHandler = async (request: FastifyRequest, reply: FastifyReply) => {
    // Personal data: no shared or private cache may keep it.
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    try {
      const tenant = tenantOf(request, runtime.catalog);
      const params = request.method === 'POST' ? bodyParameters(request, { allowJson: false }) : undefined;
      return await userinfo(bearerToken(request, params), tenant, runtime.verifier, runtime.stores.users);
    } catch (err) {
      throw withBearerChallenge(err);
    }
  };
  app.get('/:tenant/userinfo', userinfoHandler);
  app.post('/:tenant/userinfo', userinfoHandler);

  const clientOf = async (request: FastifyRequest, params: RequestParameters, endpointUrl: string) => {
    const tenant = tenantOf(request, runtime.catalog);
    const presented = presentedClientAuth(request.headers.authorization, params);
    const client = await runtime.clientAuthenticator.authenticate(presented, tenant, endpointUrl);
    return { tenant, client };
  };

  app.post('/:tenant/oauth/revoke', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const params = bodyParameters(request, { allowJson: true });
    const tenant = tenantOf(request, runtime.catalog);
    const { client } = await clientOf(request, params, tenant.endpoints.revocation);
    const outcome = await revoke(params, tenant, client, { refreshTokens: runtime.stores.refreshTokens, denylist: runtime.stores.accessTokenDenylist, verifier: runtime.verifier, clock: runtime.clock });
    request.log.info({ tenant: tenant.name, client_id: client.app.clientId, outcome }, 'token revocation');
    // RFC 7009 §2.2: the status says it all; like Auth0 and Keycloak, no body.
    return reply.code(200).send();
  });

  app.post('/:tenant/oauth/introspect', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const params = bodyParameters(request, { allowJson: true });
    const tenant = tenantOf(request, runtime.catalog);
    const { client } = await clientOf(request, params, tenant.endpoints.introspection);
    // RFC 7662 §2.1: the caller must be authorised; a public client may not probe tokens.
    if (client.method === 'none') throw new InvalidClientError('Introspection requires a confidential client.');
    return introspect(params, tenant, client, { refreshTokens: runtime.stores.refreshTokens, users: runtime.stores.users, verifier: runtime.verifier, clock: runtime.clock });
  });
}
