/**
 * One log line per answered request, with its OAuth context (grant type,
 * client) when the token endpoint got that far, and the request counter.
 * Refusals are logged by the listener's error handler instead.
 */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../observability/metrics.js';
import type { TokenEndpointProgress } from '../oauth/token-endpoint.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the token routes as soon as known, so logs and metrics are labelled even on failure. */
    oauthProgress: TokenEndpointProgress | null;
  }
}

export function registerRequestLog(app: FastifyInstance, { metrics }: { metrics: Pick<Metrics, 'httpRequests'> }): void {
  app.decorateRequest('oauthProgress', null);
  // A callback hook, not an async one: it runs on every response, and a promise per request is measurable (issue #13).
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpRequests.inc({ route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) });
    if (reply.statusCode < 400) {
      const progress = request.oauthProgress;
      request.log.info(
        {
          route: request.routeOptions.url,
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
          grant_type: progress?.grantType,
          client_id: progress?.clientId,
        },
        'request completed',
      );
    }
    done();
  });
}
