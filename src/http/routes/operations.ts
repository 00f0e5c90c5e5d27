/**
 * Liveness and readiness (on the public listener and the operations one)
 * and Prometheus metrics (on the operations listener only, DESIGN.md §3).
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../../observability/metrics.js';
import type { StorageHealth } from '../../storage/stores.js';

export interface HealthRoutesDeps {
  database: StorageHealth;
  /** The attack-protection counters' store (database or Redis). */
  counters: { readonly describe: string; ping(): Promise<void> };
  logger: Logger;
}

export const healthRoutes: FastifyPluginAsync<HealthRoutesDeps> = async (app, { database, counters, logger }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));

  const databaseReady = async (reply: FastifyReply): Promise<boolean> => {
    try {
      await database.ping();
      return true;
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'readiness check failed: storage unreachable');
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
      await counters.ping();
    } catch (err) {
      logger.warn(
        { err: (err as Error).message, counters: counters.describe },
        'readiness check failed: attack-protection counters unreachable',
      );
      return reply.code(503).header('retry-after', '5').send({ status: 'unavailable', reason: 'counters unreachable' });
    }
    return { status: 'ready' };
  });
};

/**
 * Never on the public port: `latchkey_security_events_total` tells
 * unknown_user from wrong_password, which clients must not learn (issue #11 point 3).
 */
export const metricsRoute: FastifyPluginAsync<{ metrics: Pick<Metrics, 'registry'> }> = async (app, { metrics }) => {
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
