/**
 * POST /T/oauth/token, /T/oauth2/v2.0/token and /T/as/token.oauth2: one
 * implementation behind three dialects (DESIGN.md §3).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Catalog, TenantEndpoints } from '../../domain/tenant.js';
import type { Metrics } from '../../observability/metrics.js';
import type { TokenEndpoint, TokenEndpointProgress } from '../../oauth/token-endpoint.js';
import { bodyParameters } from '../body.js';
import { DIALECT_ACCEPTS_JSON, dialectError, renderTokenResponse, type Dialect } from '../dialects.js';
import { toOAuthError } from '../error-reply.js';
import { requestOrigin } from '../request-origin.js';
import { tenantOf } from '../tenant.js';

const TOKEN_PATHS: Array<[Dialect, string, keyof Pick<TenantEndpoints, 'token' | 'entraToken' | 'pingToken'>]> = [
  ['auth0', '/:tenant/oauth/token', 'token'],
  ['entra', '/:tenant/oauth2/v2.0/token', 'entraToken'],
  ['ping', '/:tenant/as/token.oauth2', 'pingToken'],
];

export interface TokenRoutesDeps {
  tokenEndpoint: TokenEndpoint;
  catalog: Catalog;
  metrics: Pick<Metrics, 'tokenRequests'>;
}

export const tokenRoutes: FastifyPluginAsync<TokenRoutesDeps> = async (app, { tokenEndpoint, catalog, metrics }) => {
  for (const [dialect, path, endpointKey] of TOKEN_PATHS) {
    app.post(path, async (request: FastifyRequest, reply: FastifyReply) => {
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      const progress: TokenEndpointProgress = {};
      request.oauthProgress = progress;
      const started = process.hrtime.bigint();
      let outcome = 'ok';
      try {
        const tenant = tenantOf(request, catalog);
        const params = bodyParameters(request, { allowJson: DIALECT_ACCEPTS_JSON[dialect] });
        const result = await tokenEndpoint.handle(
          {
            tenant,
            endpointUrl: tenant.endpoints[endpointKey],
            authorization: request.headers.authorization,
            params,
            origin: requestOrigin(request.raw, tenant),
          },
          progress,
        );
        return renderTokenResponse(dialect, result.tokens, params.get('scope'));
      } catch (err) {
        const answered = dialectError(dialect, err);
        // Labelled as the client sees it: a storage outage counts as temporarily_unavailable, not server_error.
        const { error } = toOAuthError(answered);
        outcome = error.error;
        throw answered;
      } finally {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        metrics.tokenRequests.observe({ grant_type: metricGrantLabel(progress.grantType), outcome, dialect }, seconds);
      }
    });
  }
};

/** Bounded label values: unknown grant names would otherwise grow the metric without limit. */
function metricGrantLabel(grantType: string | undefined): string {
  if (grantType === undefined) return 'none';
  return grantType.startsWith('http://auth0.com/oauth/grant-type/')
    ? grantType.slice('http://auth0.com/oauth/grant-type/'.length)
    : grantType;
}
