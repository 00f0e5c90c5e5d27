/**
 * buildApp() assembles the public HTTP adapter around a runtime, and
 * buildOperationsApp() the operations listener's; neither listens
 * (STYLE.md: build apart from listen), so tests and the server share them.
 */
import type { FastifyInstance } from 'fastify';
import { registerBodyParsers } from './http/body.js';
import { createListener } from './http/listener.js';
import { registerMetadataRoutes } from './http/routes/metadata.js';
import { registerMfaRoutes } from './http/routes/mfa.js';
import { registerHealthRoutes, registerMetricsRoute } from './http/routes/operations.js';
import { registerProtectedResourceRoutes } from './http/routes/protected-resources.js';
import { registerTokenRoutes } from './http/routes/token.js';
import type { Runtime } from './runtime.js';

export interface BuildAppOptions {
  https?: { cert: Buffer; key: Buffer };
}

/** Connections the operations listener holds at once: a Prometheus server and a few probes need a handful. */
export const OPERATIONS_MAX_CONNECTIONS = 64;

export function buildApp(runtime: Runtime, options: BuildAppOptions = {}): FastifyInstance {
  const app = createListener({
    name: 'public',
    logger: runtime.logger,
    ...(options.https ? { https: options.https } : {}),
    maxConnections: runtime.config.listen.max_connections,
    onConnectionRefused: () => runtime.metrics.connectionsRefused.inc({ listener: 'public' }),
    notFoundHint: "a tenant's endpoints are listed in its discovery document, /:tenant/.well-known/openid-configuration",
  });

  registerBodyParsers(app);

  app.addHook('onResponse', async (request, reply) => {
    runtime.metrics.httpRequests.inc({ route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) });
    if (reply.statusCode < 400) {
      const progress = request.oauthProgress;
      request.log.info(
        { route: request.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, grant_type: progress?.grantType, client_id: progress?.clientId },
        'request completed',
      );
    }
  });

  registerTokenRoutes(app, runtime);
  registerProtectedResourceRoutes(app, runtime);
  registerMfaRoutes(app, runtime);
  registerMetadataRoutes(app, runtime);
  // /metrics is not here: its counters tell operators what clients must not learn (issue #11 point 3, DESIGN.md §3).
  registerHealthRoutes(app, runtime);
  return app;
}

/**
 * The operations listener (`operations.listen`): /metrics, plus /healthz and
 * /readyz for probes that reach only this port. Plain HTTP, meant for
 * loopback or a private interface (docs/deploy.md). Successful scrapes are
 * not logged: Prometheus polls every few seconds.
 */
export function buildOperationsApp(runtime: Runtime): FastifyInstance {
  const app = createListener({
    name: 'operations',
    logger: runtime.logger,
    maxConnections: OPERATIONS_MAX_CONNECTIONS,
    onConnectionRefused: () => runtime.metrics.connectionsRefused.inc({ listener: 'operations' }),
    notFoundHint: 'the operations listener serves /metrics, /healthz, /readyz and /readyz/database',
  });
  registerMetricsRoute(app, runtime);
  registerHealthRoutes(app, runtime);
  return app;
}
