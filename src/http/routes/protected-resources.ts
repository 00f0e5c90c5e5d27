/**
 * Userinfo (OIDC Core §5.3, RFC 6750), revocation (RFC 7009) and
 * introspection (RFC 7662): each request read into its endpoint's typed
 * request, each result written back.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Catalog } from '../../domain/tenant.js';
import type { IntrospectionEndpoint } from '../../oauth/introspection.js';
import type { RevocationEndpoint } from '../../oauth/revocation.js';
import type { UserinfoEndpoint } from '../../oauth/userinfo.js';
import { bearerToken, withBearerChallenge } from '../bearer.js';
import { bodyParameters } from '../body.js';
import { tenantOf } from '../tenant.js';

export interface ProtectedResourceRoutesDeps {
  catalog: Catalog;
  userinfo: UserinfoEndpoint;
  revocation: RevocationEndpoint;
  introspection: IntrospectionEndpoint;
}

export const protectedResourceRoutes: FastifyPluginAsync<ProtectedResourceRoutesDeps> = async (
  app,
  { catalog, userinfo, revocation, introspection },
) => {
  const userinfoHandler = async (request: FastifyRequest, reply: FastifyReply) => {
    // Personal data: no shared or private cache may keep it.
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    try {
      const tenant = tenantOf(request, catalog);
      const params = request.method === 'POST' ? bodyParameters(request, { allowJson: false }) : undefined;
      return await userinfo.handle({ tenant, accessToken: bearerToken(request, params) });
    } catch (err) {
      throw withBearerChallenge(err);
    }
  };
  app.get('/:tenant/userinfo', userinfoHandler);
  app.post('/:tenant/userinfo', userinfoHandler);

  app.post('/:tenant/oauth/revoke', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const params = bodyParameters(request, { allowJson: true });
    const tenant = tenantOf(request, catalog);
    const { clientId, outcome } = await revocation.handle({ tenant, authorization: request.headers.authorization, params });
    request.log.info({ tenant: tenant.name, client_id: clientId, outcome }, 'token revocation');
    // RFC 7009 §2.2: the status says it all; like Auth0 and Keycloak, no body.
    return reply.code(200).send();
  });

  app.post('/:tenant/oauth/introspect', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const params = bodyParameters(request, { allowJson: true });
    const tenant = tenantOf(request, catalog);
    return introspection.handle({ tenant, authorization: request.headers.authorization, params });
  });
};
