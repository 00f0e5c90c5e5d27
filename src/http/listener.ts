/**
 * What every HTTP listener shares, the public one and the operations one
 * (issue #11 point 11; security report L1, L3): slow clients are cut off,
 * the number of open connections is capped, every response says
 * `X-Content-Type-Options: nosniff`, and everything the framework or Node
 * itself would answer (no route, a malformed URL, broken framing, too many
 * headers, a missing Host) is answered as the same JSON error, without
 * echoing the request.
 */
import { METHODS, type IncomingMessage, type ServerOptions, type ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import { InvalidRequestError, NotFoundError, OAuthError } from '../domain/errors.js';
import { BODY_LIMIT_BYTES } from './body.js';
import { errorReply } from './error-reply.js';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id.js';
import { tenantParam } from './tenant.js';

/** A client must have sent its request line and headers within this (Slowloris); Node answers 408. */
export const HEADERS_TIMEOUT_MS = 10_000;
/** …and its whole request, body included, within this. */
export const REQUEST_TIMEOUT_MS = 30_000;
/**
 * Node enforces both timeouts only when it sweeps its connections, every
 * `connectionsCheckingInterval` (30 s by default: a 10 s limit would hold
 * for up to 40 s). A sweep walks the open connections, cheap even at the cap.
 */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000;
/** An idle socket (no bytes either way) is closed after this. */
const SOCKET_IDLE_TIMEOUT_MS = 60_000;
/**
 * Header fields per request, as Tomcat's `maxHeaderCount` (100). Node keeps
 * only the first 2000 and drops the rest silently (an Authorization header
 * past them was ignored, report L3); more than this is refused with 431.
 */
export const MAX_HEADER_FIELDS = 100;
/** A refused connection is logged at most this often, with the count since the last line: a flood must not flood the log. */
const DROP_LOG_INTERVAL_MS = 60_000;

/** RFC 6585 §5: 431 for a request with too many header fields. */
class TooManyHeaderFieldsError extends OAuthError {
  constructor(count: number) {
    super('invalid_request', 431, `The request has more than ${MAX_HEADER_FIELDS} header fields.`, {
      logDetail: `${count}+ header fields`,
    });
  }
}

/** RFC 9110 §15.6.6: a bare request line (HTTP/0.9) or a version other than 1.x. */
class HttpVersionNotSupportedError extends OAuthError {
  constructor(version: string) {
    super('invalid_request', 505, 'Only HTTP/1.1 and HTTP/1.0 are served here.', { logDetail: `HTTP version ${version}` });
  }
}

export interface ListenerOptions {
  /** `public` or `operations`: names the listener in logs and the refused-connections metric. */
  name: string;
  logger: Logger;
  https?: { cert: Buffer; key: Buffer };
  /** server.maxConnections: connections beyond it are closed as soon as they are accepted. */
  maxConnections: number;
  /** Counts a connection refused for the cap. */
  onConnectionRefused?: () => void;
  /** Appended to the 404 description: where the client finds what this listener serves. */
  notFoundHint: string;
}

export function createListener(options: ListenerOptions): FastifyInstance {
  const { logger } = options;
  // Node's own options: Fastify passes `http` to http.createServer and `https` to https.createServer.
  const nodeOptions: ServerOptions = {
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
    // RFC 9112 §3.2 still applies (onRequest below); Node's own refusal would be a bare 400 without JSON.
    requireHostHeader: false,
  };
  const serverOptions: FastifyServerOptions = {
    loggerInstance: logger,
    // One line per request, written by the app's onResponse hook with OAuth context instead of Fastify's two.
    // Every line written through request.log carries the request id as request_id.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    // The proxy's X-Request-Id when well formed, else a UUID (request-id.ts); Fastify's own requestIdHeader
    // would take any header value as it is.
    genReqId: requestIdOf,
    requestIdHeader: false,
    bodyLimit: BODY_LIMIT_BYTES,
    return503OnClosing: true,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionTimeout: SOCKET_IDLE_TIMEOUT_MS,
    // Proxies are trusted only per tenant (trusted_proxies), never by the framework.
    trustProxy: false,
    // ignoreDuplicateSlashes: Auth0 SDKs build URLs as `https://${domain}/path`; a tenant's domain
    // must be given as `host/T/` (so the derived issuer is `{public_url}/T/`), which gives `/T//path`.
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 200 },
    // A malformed URL (bad %-escape, over-long segment) gets the same JSON error as everything else.
    frameworkErrors: (err, request, genericReply) => {
      const reply = genericReply as unknown as FastifyReply; // the option's reply is generic over route schemas we do not use
      const r = errorReply(err);
      request.log.info({ route: 'unmatched', status: r.statusCode, error: r.error.error, detail: r.error.logDetail }, 'request refused');
      void reply.code(r.statusCode).header(REQUEST_ID_HEADER, request.id).headers(r.headers).send(r.body);
    },
    // Broken HTTP framing (bad Content-Length, chunking, oversized headers, headers or a body too slow)
    // never reaches a route: answer it in the same JSON shape, with no-store, before the socket closes.
    clientErrorHandler(err, socket) {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || socket.destroyed) return;
      const code = (err as NodeJS.ErrnoException).code;
      const [status, reason] =
        code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout']
          : code === 'HPE_HEADER_OVERFLOW'
            ? [431, 'Request Header Fields Too Large']
            : [400, 'Bad Request'];
      const body = JSON.stringify({
        error: 'invalid_request',
        error_description:
          status === 408
            ? 'The request took too long to arrive.'
            : status === 431
              ? 'The request headers are too large.'
              : 'The HTTP request is malformed.',
      });
      logger.info({ listener: options.name, route: 'unparsed', status, error: 'invalid_request', detail: code }, 'request refused');
      if (socket.writable) {
        socket.write(
          `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n` +
            `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      }
      socket.destroy(err);
    },
  };
  // The HTTPS and HTTP instances differ only in their raw server type, which no route touches.
  const app = (
    options.https
      ? Fastify({ ...serverOptions, https: { ...nodeOptions, ...options.https } } as FastifyServerOptions)
      : Fastify({ ...serverOptions, http: nodeOptions } as FastifyServerOptions)
  ) as FastifyInstance;

  // On the raw response, before Fastify sees the request: so the header is on every answer, including
  // Fastify's own 503 while closing, which no hook reaches (OWASP REST Security: nosniff on every response).
  app.server.prependListener('request', (_request: IncomingMessage, response: ServerResponse) =>
    response.setHeader('x-content-type-options', 'nosniff'),
  );
  // Node parses one field past the limit into the request, so onRequest below can tell "too many".
  app.server.maxHeadersCount = MAX_HEADER_FIELDS + 1;
  app.server.maxConnections = options.maxConnections;
  let refused = 0;
  let lastRefusalLog = 0;
  app.server.on('drop', () => {
    options.onConnectionRefused?.();
    refused++;
    const now = Date.now();
    if (now - lastRefusalLog < DROP_LOG_INTERVAL_MS) return;
    logger.warn(
      { listener: options.name, refused, max_connections: options.maxConnections },
      'connections refused: the listener holds its maximum of open connections (listen.max_connections; per-IP limits belong to the reverse proxy, docs/deploy.md)',
    );
    lastRefusalLog = now;
    refused = 0;
  });

  // A callback hook, not an async one: it runs on every request, and a promise per request is measurable there.
  app.addHook('onRequest', (request, reply, done) => {
    // Echoed first, so every answer carries it, refusals included: the id a client quotes to an operator.
    reply.header(REQUEST_ID_HEADER, request.id);
    const { rawHeaders, httpVersion, httpVersionMajor } = request.raw;
    if (httpVersionMajor !== 1) return done(new HttpVersionNotSupportedError(httpVersion));
    const fields = rawHeaders.length / 2;
    if (fields > MAX_HEADER_FIELDS) return done(new TooManyHeaderFieldsError(fields));
    // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host, and to any with two
    // (Node keeps the first and drops the other silently).
    let hosts = 0;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i] ?? '';
      if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
    }
    if (hosts > 1) return done(new InvalidRequestError('The request has more than one Host header (RFC 9112 §3.2).'));
    if (httpVersion === '1.1' && hosts === 0)
      return done(new InvalidRequestError('An HTTP/1.1 request needs a Host header (RFC 9112 §3.2).'));
    // The request id reaches the request line, not the security events: AsyncLocalStorage would carry it there,
    // but on Node 20 its promise hooks cost 5-12% CPU per token request (BENCHMARKS.md, issue #15).
    done();
  });

  app.setErrorHandler((err, request, reply) => {
    const r = errorReply(err);
    const progress = request.oauthProgress;
    const fields = {
      route: request.routeOptions.url,
      tenant: tenantParam(request),
      status: r.statusCode,
      error: r.error.error,
      error_reason: r.error.errorReason,
      detail: r.error.logDetail,
      grant_type: progress?.grantType,
      client_id: progress?.clientId,
    };
    if (r.statusCode >= 500)
      request.log.error(
        { ...fields, err: r.cause instanceof Error ? { message: r.cause.message, stack: r.cause.stack } : r.cause },
        'request failed',
      );
    // A device polls every few seconds for minutes (RFC 8628 §3.5): its "not yet" answers are not news.
    else if (r.error.error === 'authorization_pending' || r.error.error === 'slow_down') request.log.debug(fields, 'request refused');
    else request.log.info(fields, 'request refused');
    void reply.code(r.statusCode).headers(r.headers).send(r.body);
  });

  app.setNotFoundHandler((request, reply) => {
    // The path as sent is never echoed (it may carry markup); the method comes from Node's fixed list.
    const method = METHODS.includes(request.method) ? request.method : 'this method';
    const r = errorReply(new NotFoundError(`No route answers ${method} at this path; ${options.notFoundHint}.`));
    // A client posting to a wrong URL is an operator's first question; the query string (which may carry secrets) is not logged.
    const path = request.url.split('?')[0]?.slice(0, 200) ?? '';
    request.log.info({ route: 'unmatched', method: request.method, path, status: 404, error: r.error.error }, 'request refused');
    void reply.code(404).headers(r.headers).send(r.body);
  });

  return app;
}
