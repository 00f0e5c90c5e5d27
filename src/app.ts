/**
 * buildApp() assembles the HTTP adapter around a runtime; it never listens
 * (STYLE.md: build apart from listen), so tests and the server share it.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { BODY_LIMIT_BYTES, registerBodyParsers } from './http/body.js';
import { errorReply } from './http/error-reply.js';
import { registerMetadataRoutes } from './http/routes/metadata.js';
import { registerMfaRoutes } from './http/routes/mfa.js';
import { registerOperationsRoutes } from './http/routes/operations.js';
import { registerProtectedResourceRoutes } from './http/routes/protected-resources.js';
import { registerTokenRoutes } from './http/routes/token.js';
import { NotFoundError } from './oauth/errors.js';
import type { Runtime } from './runtime.js';

export interface BuildAppOptions {
  https?: { cert: Buffer; key: Buffer };
}

export function buildApp(runtime: Runtime, options: BuildAppOptions = {}): FastifyInstance {
  const serverOptions: FastifyServerOptions = {
    loggerInstance: runtime.logger,
    // One line per request, written by the onResponse hook below with OAuth context instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    return503OnClosing: true,
    // Slow clients may not hold sockets open forever.
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
    // Proxies are trusted only when configured (attack protection, a later capability).
    trustProxy: false,
    // ignoreDuplicateSlashes: Auth0 SDKs build URLs as `https://${domain}/path`; a tenant's domain
    // must be given as `host/T/` (so the derived issuer is `{public_url}/T/`), which gives `/T//path`.
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 200 },
    // A malformed URL (bad %-escape, over-long segment) gets the same JSON error as everything else.
    frameworkErrors: (err, request, genericReply) => {
      const reply = genericReply as unknown as FastifyReply; // the option's reply is generic over route schemas we do not use
      const r = errorReply(err);
      request.log.info({ route: 'unmatched', status: r.statusCode, error: r.error.error, detail: r.error.logDetail }, 'request refused');
      void reply.code(r.statusCode).headers(r.headers).send(r.body);
    },
    // Broken HTTP framing (bad Content-Length, chunking, oversized headers) never reaches a route:
    // answer it in the same JSON shape, with no-store, before the socket closes.
    clientErrorHandler(err, socket) {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || socket.destroyed) return;
      const code = (err as NodeJS.ErrnoException).code;
      const [status, reason] = code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout'] : code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : [400, 'Bad Request'];
      const body = JSON.stringify({ error: 'invalid_request', error_description: status === 408 ? 'The request took too long to arrive.' : status === 431 ? 'The request headers are too large.' : 'The HTTP request is malformed.' });
      runtime.logger.info({ route: 'unparsed', status, error: 'invalid_request', detail: code }, 'request refused');
      if (socket.writable) {
        socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      }
      socket.destroy(err);
    },
  };
  // The HTTPS and HTTP instances differ only in their raw server type, which no route touches.
  const app = (options.https ? Fastify({ ...serverOptions, https: options.https } as FastifyServerOptions) : Fastify(serverOptions)) as FastifyInstance;

  registerBodyParsers(app);

  app.setErrorHandler((err, request, reply) => {
    const r = errorReply(err);
    const progress = request.oauthProgress;
    const fields = {
      route: request.routeOptions.url,
      status: r.statusCode,
      error: r.error.error,
      error_reason: r.error.errorReason,
      detail: r.error.logDetail,
      grant_type: progress?.grantType,
      client_id: progress?.clientId,
    };
    if (r.statusCode >= 500) request.log.error({ ...fields, err: r.cause instanceof Error ? { message: r.cause.message, stack: r.cause.stack } : r.cause }, 'request failed');
    else request.log.info(fields, 'request refused');
    void reply.code(r.statusCode).headers(r.headers).send(r.body);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]?.slice(0, 200) ?? '';
    const r = errorReply(new NotFoundError(`No route ${request.method} ${path}.`));
    // A client posting to a wrong URL is an operator's first question; the query string (which may carry secrets) is not logged.
    request.log.info({ route: 'unmatched', method: request.method, path, status: 404, error: r.error.error }, 'request refused');
    void reply.code(404).headers(r.headers).send(r.body);
  });

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
  registerOperationsRoutes(app, runtime);
  return app;
}
