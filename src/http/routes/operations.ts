/**
 * Liveness and readiness (on the public listener and the operations one)
 * and Prometheus metrics (on the operations listener only, DESIGN.md §3).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Runtime } from '../../runtime.js';

export function registerHealthRoutes(app: FastifyInstance, runtime: Runtime): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  const databaseReady = async (reply: FastifyReply): Promise<boolean> => {
    try {
      await runtime.stores.health.ping();
      return true;
    } catch (err) {
      runtime.logger.warn({ err: (err as Error).message }, 'readiness check failed: storage unreachable');
      await reply.code(503).header('retry-after', '5').send({ status: 'unavailable', reason: 'storage unreachable' });
      return false;
    }
  };

  /**
   * The database alone: what refreshes and client credentials need. A balancer routing on this keeps nodes
   * in rotation through a Redis outage (password logins then answer 503 themselves), where /readyz would take
   * every node out at once (docs/deploy.md).
   */
  app.get('/readyz/database', async (_request, reply) => {
    if (!(await databaseReady(reply))) return reply;
    return { status: 'ready' };
  });

  app.get('/readyz', async (_request, reply) => {
    if (!(await databaseReady(reply))) return reply;
    try {
      await runtime.counters.ping();
    } catch (err) {
      runtime.logger.warn({ err: (err as Error).message, counters: runtime.counters.describe }, 'readiness check failed: attack-protection counters unreachable');
      return reply.code(503).header('retry-after', '5').send({ status: 'unavailable', reason: 'counters unreachable' });
    }
    return { status: 'ready' };
  });
}

/**
 * Never on the public port: `latchkey_security_events_total` tells
 * unknown_user from wrong_password, which clients must not learn (issue #11 point 3).
 */
export function registerMetricsRoute(app: FastifyInstance, runtime: Runtime): void {
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', runtime.metrics.registry.contentType);
    return runtime.metrics.registry.metrics();
  });
}
