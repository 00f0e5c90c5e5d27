/**
 * One log line per answered request, with its tenant (the `:tenant` path
 * parameter), its request id (request.log's binding, listener.ts) and its
 * OAuth context (grant type, client) when the token endpoint got that far,
 * and the request counter. Refusals are logged by the listener's error
 * handler instead.
 */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../observability/metrics.js';
import type { TokenEndpointProgress } from '../oauth/token-endpoint.js';
import { tenantParam } from './tenant.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the token routes as soon as known, so logs and metrics are labelled even on failure. */
    oauthProgress: TokenEndpointProgress | null;
  }
}

/**
 * Answered at debug: a balancer or Kubernetes probes every few seconds on each node, and Prometheus scrapes
 * as often; at info they would bury the lines an operator reads. A failing probe is logged at warn by its route.
 */
const POLLED_ROUTES = new Set(['/healthz', '/readyz', '/readyz/database', '/metrics']);

export interface RequestLogOptions {
  /** Counts requests by route and status; the operations listener passes none (its traffic is polling). */
  metrics?: Pick<Metrics, 'httpRequests'>;
}

export function registerRequestLog(app: FastifyInstance, { metrics }: RequestLogOptions): void {
  app.decorateRequest('oauthProgress', null);
  // A callback hook, not an async one: it runs on every response, and a promise per request is measurable (issue #13).
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url;
    metrics?.httpRequests.inc({ route: route ?? 'unmatched', status: String(reply.statusCode) });
    if (reply.statusCode < 400) {
      const progress = request.oauthProgress;
      const line = {
        route,
        tenant: tenantParam(request),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        grant_type: progress?.grantType,
        client_id: progress?.clientId,
      };
      if (route !== undefined && POLLED_ROUTES.has(route)) request.log.debug(line, 'request completed');
      else request.log.info(line, 'request completed');
    }
    done();
  });
}
