/** Liveness, readiness and Prometheus metrics. */
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';

export function registerOperationsRoutes(app: FastifyInstance, runtime: Runtime): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    try {
      await runtime.stores.health.ping();
    } catch (err) {
      runtime.logger.warn({ err: (err as Error).message }, 'readiness check failed: storage unreachable');
      return reply.code(503).header('retry-after', '5').send({ status: 'unavailable', reason: 'storage unreachable' });
    }
    try {
      await runtime.counters.ping();
    } catch (err) {
      runtime.logger.warn({ err: (err as Error).message, counters: runtime.counters.describe }, 'readiness check failed: attack-protection counters unreachable');
      return reply.code(503).header('retry-after', '5').send({ status: 'unavailable', reason: 'counters unreachable' });
    }
    return { status: 'ready' };
  });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', runtime.metrics.registry.contentType);
    return runtime.metrics.registry.metrics();
  });
}
