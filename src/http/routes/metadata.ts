/** Discovery (OIDC Discovery §4, RFC 8414 §3), JWKS, and the authorization endpoint stub MSAL needs. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { discoveryDocument } from '../../oauth/discovery.js';
import { OAuthError } from '../../domain/errors.js';
import type { Runtime } from '../../runtime.js';
import { tenantOf } from '../tenant.js';

export function registerMetadataRoutes(app: FastifyInstance, runtime: Runtime): void {
  const discovery = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'public, max-age=300');
    return discoveryDocument(tenantOf(request, runtime.catalog));
  };
  app.get('/:tenant/.well-known/openid-configuration', discovery);
  app.get('/:tenant/.well-known/oauth-authorization-server', discovery);
  // RFC 8414 §3.1: the well-known segment goes between host and path.
  app.get('/.well-known/oauth-authorization-server/:tenant', discovery);

  app.get('/:tenant/.well-known/jwks.json', async (request, reply) => {
    const tenant = tenantOf(request, runtime.catalog);
    // Short: a rotation must reach verifiers quickly (docs/operations.md).
    reply.header('cache-control', 'public, max-age=60');
    return runtime.signingKeys.jwks(tenant.id);
  });

  app.get('/:tenant/authorize', async (request) => {
    tenantOf(request, runtime.catalog);
    throw new OAuthError('unsupported_response_type', 400, 'This server offers no interactive sign-in; use the password grant at the token endpoint.');
  });
}
