/** Discovery (OIDC Discovery §4, RFC 8414 §3) and JWKS; the authorization endpoint is a page (http/pages/sign-in.ts). */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Catalog } from '../../domain/tenant.js';
import { discoveryDocument } from '../../oauth/discovery.js';
import type { SigningKeys } from '../../tokens/signing-keys.js';
import { tenantOf } from '../tenant.js';

export interface MetadataRoutesDeps {
  catalog: Catalog;
  /** The published verification keys of each tenant. */
  jwks: Pick<SigningKeys, 'jwks'>;
}

export const metadataRoutes: FastifyPluginAsync<MetadataRoutesDeps> = async (app, { catalog, jwks }) => {
  const discovery = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'public, max-age=300');
    return discoveryDocument(tenantOf(request, catalog));
  };
  app.get('/:tenant/.well-known/openid-configuration', discovery);
  app.get('/:tenant/.well-known/oauth-authorization-server', discovery);
  // RFC 8414 §3.1: the well-known segment goes between host and path.
  app.get('/.well-known/oauth-authorization-server/:tenant', discovery);

  app.get('/:tenant/.well-known/jwks.json', async (request, reply) => {
    const tenant = tenantOf(request, catalog);
    // Short: a rotation must reach verifiers quickly (docs/operations.md).
    reply.header('cache-control', 'public, max-age=60');
    return jwks.jwks(tenant.id);
  });
};
