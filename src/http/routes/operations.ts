/** Liveness, readiness and Prometheus metrics. */
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';

export function registerOperationsRoutes(app: FastifyInstance, runtime: Runtime): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    try {
      await runtime.stores.health.ping();
      return { status: 'ready' };
    } catch (err) {
      runtime.logger.warn({ err: (err as Error).message }, 'readiness check failed: storage unreachable');
      return reply.code(503).header('retry-after', '5').send({ status: 'unavailable', reason: 'storage unreachable' });
    }
  });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', runtime.metrics.registry.contentType);
    return runtime.metrics.registry.metrics();
  });
}
