/**
 * buildApp() assembles the public HTTP adapter around a runtime, and
 * buildOperationsApp() the operations listener's; neither listens
 * (STYLE.md: build apart from listen), so tests and the server share them.
 * Each route group is a Fastify plugin handed only the services it uses.
 */
import type { FastifyInstance } from 'fastify';
import { registerBodyParsers } from './http/body.js';
import { createListener } from './http/listener.js';
import { dbConnectionsRoutes } from './http/routes/dbconnections.js';
import { deviceRoutes } from './http/routes/device.js';
import { registerRequestLog } from './http/request-log.js';
import { managementEndpoints } from './http/management/groups.js';
import { MANAGEMENT_API_PREFIX, managementRoutes } from './http/management/index.js';
import { metadataRoutes } from './http/routes/metadata.js';
import { mfaRoutes } from './http/routes/mfa.js';
import { healthRoutes, metricsRoute } from './http/routes/operations.js';
import { protectedResourceRoutes } from './http/routes/protected-resources.js';
import { tokenRoutes } from './http/routes/token.js';
import { assetRoutes } from './http/pages/assets.js';
import { pageRoutes } from './http/pages/index.js';
import type { Runtime } from './runtime.js';

export interface BuildAppOptions {
  https?: { cert: Buffer; key: Buffer };
}

/** Connections the operations listener holds at once: a Prometheus server and a few probes need a handful. */
export const OPERATIONS_MAX_CONNECTIONS = 64;

export function buildApp(runtime: Runtime, options: BuildAppOptions = {}): FastifyInstance {
  const { catalog, endpoints, metrics } = runtime;
  const app = createListener({
    name: 'public',
    logger: runtime.logger,
    ...(options.https ? { https: options.https } : {}),
    maxConnections: runtime.config.listen.max_connections,
    onConnectionRefused: () => metrics.connectionsRefused.inc({ listener: 'public' }),
    notFoundHint: "a tenant's endpoints are listed in its discovery document, /:tenant/.well-known/openid-configuration",
  });

  registerBodyParsers(app);
  registerRequestLog(app, { metrics });

  void app.register(tokenRoutes, { tokenEndpoint: endpoints.token, catalog, metrics });
  void app.register(protectedResourceRoutes, {
    catalog,
    userinfo: endpoints.userinfo,
    revocation: endpoints.revocation,
    introspection: endpoints.introspection,
  });
  void app.register(mfaRoutes, { catalog, mfaApi: endpoints.mfaApi });
  void app.register(metadataRoutes, { catalog, jwks: runtime.signingKeys });
  // The device flow's JSON endpoint (RFC 8628 §3.1); its verification page is one of the hosted pages.
  void app.register(deviceRoutes, { deviceAuthorization: endpoints.deviceAuthorization, catalog });
  void app.register(assetRoutes);
  void app.register(pageRoutes, { catalog, ...runtime.browser, accounts: runtime.accounts });
  // Auth0's sign-up and forgot-password endpoints (issue #15 point 1, DESIGN.md §8).
  void app.register(dbConnectionsRoutes, { catalog, accounts: runtime.accounts });
  // Auth0's Management API v2 (issue #15, DESIGN.md §9).
  void app.register(managementRoutes, {
    prefix: MANAGEMENT_API_PREFIX,
    catalog,
    callers: runtime.management.callers,
    securityEvents: runtime.management.securityEvents,
    endpoints: managementEndpoints(runtime.management),
  });
  // /metrics is not here: its counters tell operators what clients must not learn (issue #11 point 3, DESIGN.md §3).
  void app.register(healthRoutes, healthDeps(runtime));
  return app;
}

/**
 * The operations listener (`operations.listen`): /metrics, plus /healthz and
 * /readyz for probes that reach only this port. Plain HTTP, meant for
 * loopback or a private interface (docs/deploy.md). Successful scrapes and
 * probes are logged at debug only: they come every few seconds.
 */
export function buildOperationsApp(runtime: Runtime): FastifyInstance {
  const app = createListener({
    name: 'operations',
    logger: runtime.logger,
    maxConnections: OPERATIONS_MAX_CONNECTIONS,
    onConnectionRefused: () => runtime.metrics.connectionsRefused.inc({ listener: 'operations' }),
    notFoundHint: 'the operations listener serves /metrics, /healthz, /readyz and /readyz/database',
  });
  // Probes and scrapes are logged at debug (request-log.ts), and not counted in latchkey_http_requests_total.
  registerRequestLog(app, {});
  void app.register(metricsRoute, { metrics: runtime.metrics });
  void app.register(healthRoutes, healthDeps(runtime));
  return app;
}

function healthDeps(runtime: Runtime) {
  return { database: runtime.stores.health, counters: runtime.counters, logger: runtime.logger };
}
