/**
 * What every hosted page shares (DESIGN.md §7), registered inside the pages'
 * own Fastify context so the JSON endpoints are untouched:
 *
 * - headers: a Content-Security-Policy without inline script and with
 *   `frame-ancestors 'none'` (and no `form-action`, which Chromium would apply
 *   to the redirect to the application's callback after a form post),
 *   X-Frame-Options DENY, nosniff, Referrer-Policy no-referrer (Helmet), and
 *   Cache-Control no-store;
 * - CSRF: @fastify/csrf-protection's double-submit token in a hidden
 *   `_csrf` input, its secret in a cookie scoped to the tenant;
 * - cookies: HttpOnly, SameSite=Lax, Secure when the issuer is https, path
 *   `/T/`;
 * - errors as a page with one plain sentence, never JSON or a stack trace.
 */
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidRequestError } from '../../domain/errors.js';
import type { Catalog, Tenant } from '../../domain/tenant.js';
import { RequestParameters } from '../../oauth/request-parameters.js';
import type { RawBody } from '../body.js';
import { toOAuthError } from '../error-reply.js';
import { messageView, type PageFrame } from './views.js';

export const CSRF_FIELD = '_csrf';
const CSRF_COOKIE = 'latchkey_csrf';

/** The cookie attributes of DESIGN.md §7 for tenant T. */
export function cookieOptions(tenant: Tenant) {
  return {
    // The issuer's path: `/T/`, or `/base/T/` when public_url has a path (a proxy that strips it still shows it to the browser).
    path: new URL(tenant.endpoints.issuer).pathname,
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: tenant.endpoints.issuer.startsWith('https:'),
  };
}

export async function registerPageKit(app: FastifyInstance, catalog: Catalog): Promise<void> {
  await app.register(fastifyCookie);
  await app.register(fastifyCsrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: CSRF_COOKIE,
    cookieOpts: { httpOnly: true, sameSite: 'lax', path: '/' },
    getToken: (request) => formParameters(request).get(CSRF_FIELD),
  });
  await app.register(fastifyHelmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        scriptSrc: ["'self'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    // HSTS belongs to the TLS terminator; on plain http it means nothing.
    strictTransportSecurity: false,
    crossOriginEmbedderPolicy: false,
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return payload;
  });
  app.setErrorHandler((err, request, reply) => {
    const tenant = tenantNameOf(request, catalog);
    const csrf = (err as { code?: unknown }).code;
    if (typeof csrf === 'string' && csrf.startsWith('FST_CSRF_')) {
      request.log.info({ route: request.routeOptions.url, status: 403, error: 'csrf', detail: csrf }, 'page refused');
      return sendPage(
        reply.code(403),
        messagePage(tenant, 'This form has expired', [
          'The form was open too long, or it was not sent from this site. Go back, reload the page and try again.',
        ]),
      );
    }
    const { error, cause } = toOAuthError(err);
    const fields = { route: request.routeOptions.url, status: error.statusCode, error: error.error, detail: error.logDetail };
    if (error.statusCode >= 500) {
      request.log.error({ ...fields, err: cause instanceof Error ? { message: cause.message, stack: cause.stack } : cause }, 'page failed');
      const sentence =
        error.statusCode === 503
          ? 'The sign-in service is briefly unavailable. Wait a moment and try again.'
          : 'Something went wrong on our side. Try again in a moment.';
      if (error.headers['retry-after']) reply.header('retry-after', error.headers['retry-after']);
      return sendPage(reply.code(error.statusCode), messagePage(tenant, 'Sign-in is unavailable', [sentence]));
    }
    request.log.info(fields, 'page refused');
    return sendPage(reply.code(error.statusCode), messagePage(tenant, 'Something is not right', [error.description]));
  });
}

function tenantNameOf(request: FastifyRequest, catalog: Catalog): Tenant | undefined {
  const name = (request.params as { tenant?: unknown } | undefined)?.tenant;
  return typeof name === 'string' ? catalog.tenant(name) : undefined;
}

function messagePage(tenant: Tenant | undefined, title: string, lines: string[]): string {
  return messageView(tenant ? { ...frame(tenant, title), lines } : { tenantName: 'Latchkey', title, assetBase: '/assets/', lines });
}

export function sendPage(reply: FastifyReply, html: string): FastifyReply {
  return reply.header('content-type', 'text/html; charset=utf-8').send(html);
}

/** A page for tenant T with a heading; `frame` adds the script, if any. */
export function frame(tenant: Tenant, title: string, extra: Partial<PageFrame> = {}): PageFrame {
  return { tenantName: tenant.name, title, assetBase: assetBaseOf(tenant), ...extra };
}

/** `{public_url}/assets/`: the assets live beside the tenants, below public_url's path if it has one. */
function assetBaseOf(tenant: Tenant): string {
  return `${tenant.endpoints.issuer.slice(0, -(tenant.name.length + 1))}assets/`;
}

/** A fresh CSRF token for a form of tenant T (its secret cookie is set on first use). */
export function csrfToken(reply: FastifyReply, tenant: Tenant): string {
  return reply.generateCsrf({ ...cookieOptions(tenant) });
}

/** A page form's fields (application/x-www-form-urlencoded only; a page never posts JSON). */
export function formParameters(request: FastifyRequest): RequestParameters {
  const raw = request.body as RawBody | undefined | null;
  if (raw === undefined || raw === null) return RequestParameters.empty();
  if (raw.kind !== 'form') throw new InvalidRequestError('The form must be sent as application/x-www-form-urlencoded.');
  return RequestParameters.fromForm(raw.text);
}

/** The query string as parameters (a page's GET), with the same rules as a form (repeats refused). */
export function queryParameters(request: FastifyRequest): RequestParameters {
  const index = request.url.indexOf('?');
  return RequestParameters.fromForm(index === -1 ? '' : request.url.slice(index + 1));
}
