/**
 * The logout endpoint's HTTP edge (OpenID Connect RP-Initiated Logout 1.0,
 * DESIGN.md §7): GET and POST at `/T/logout` (discovery's
 * end_session_endpoint), `/T/v2/logout` (Auth0) and `/T/oidc/logout` (Auth0's
 * OIDC path). The rules are oauth/browser/logout.ts; here the request
 * becomes its input and the outcome becomes a redirect or a page, with the
 * session cookie cleared once the session is over.
 *
 * Registered inside the pages' context (page-kit.ts: headers, CSRF, cookies,
 * the error page).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { Catalog, Tenant } from '../../domain/tenant.js';
import { SESSION_COOKIE } from '../../oauth/browser/browser-sessions.js';
import { endSessionEndpoint, type Logout, type LogoutInput, type LogoutOutcome } from '../../oauth/browser/logout.js';
import type { RequestParameters } from '../../oauth/request-parameters.js';
import { requestOrigin } from '../request-origin.js';
import { tenantOf } from '../tenant.js';
import { cookieOptions, csrfToken, formParameters, frame, queryParameters, sendPage } from './page-kit.js';
import { LOGOUT_CONFIRM } from './templates/logout.js';
import { defineView, messageView } from './views.js';

/** DESIGN.md §7: the first is discovery's end_session_endpoint. */
export const LOGOUT_PATHS = ['/logout', '/v2/logout', '/oidc/logout'] as const;

interface ConfirmData {
  action: string;
  csrf: string;
  carried: Array<[string, string]>;
  appName: string | undefined;
  userName: string | undefined;
}

const confirmView = defineView<ConfirmData>('logout-confirm', LOGOUT_CONFIRM);

export interface LogoutRoutesDeps {
  catalog: Catalog;
  logout: Logout;
}

export const logoutRoutes: FastifyPluginAsync<LogoutRoutesDeps> = async (app, { catalog, logout }) => {
  const inputOf = (request: FastifyRequest, tenant: Tenant, params: RequestParameters): LogoutInput => ({
    tenant,
    params,
    sessionCookie: request.cookies[SESSION_COOKIE],
    ip: requestOrigin(request.raw, tenant).networkIp(),
  });

  // Only the confirmation form (it has `action`) carries a CSRF token; an application's own POST is answered as its GET is.
  const csrfForDecisions = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    let decision: boolean;
    try {
      decision = formParameters(request).get('action') !== undefined;
    } catch (err) {
      done(err as Error);
      return;
    }
    if (!decision) {
      done();
      return;
    }
    app.csrfProtection(request, reply, done);
  };

  for (const path of LOGOUT_PATHS) {
    app.get(`/:tenant${path}`, async (request, reply) => {
      const tenant = tenantOf(request, catalog);
      const outcome = await logout.request(inputOf(request, tenant, queryParameters(request)));
      return answer(request, reply, tenant, outcome);
    });

    app.post(`/:tenant${path}`, { preHandler: csrfForDecisions }, async (request, reply) => {
      const tenant = tenantOf(request, catalog);
      const params = formParameters(request);
      if (params.get('action') === undefined) {
        // §2: the OP MUST support POST as well as GET. A cross-site POST carries no SameSite=Lax cookie, so the
        // session would look absent: the same request again as a GET, a top-level navigation that carries it.
        const raw = request.body as { text?: unknown } | undefined;
        const query = new URLSearchParams(typeof raw?.text === 'string' ? raw.text : '').toString();
        const target = `${tenant.endpoints.issuer}${path.slice(1)}`;
        return reply.redirect(query === '' ? target : `${target}?${query}`, 303);
      }
      const outcome = await logout.decide(inputOf(request, tenant, params));
      return answer(request, reply, tenant, outcome);
    });
  }
};

function answer(
  request: FastifyRequest,
  reply: FastifyReply,
  tenant: Tenant,
  outcome: LogoutOutcome & { hintRefused?: string },
): FastifyReply {
  // Never the hint, the state or the address: what happened, and why a hint was not taken.
  request.log.info(
    { tenant: tenant.name, outcome: outcome.kind, ...(outcome.hintRefused ? { id_token_hint_refused: outcome.hintRefused } : {}) },
    'logout',
  );
  switch (outcome.kind) {
    case 'redirect':
      reply.clearCookie(SESSION_COOKIE, cookieOptions(tenant));
      return reply.redirect(outcome.location, 303);
    case 'signed_out': {
      reply.clearCookie(SESSION_COOKIE, cookieOptions(tenant));
      const lines = [`You have signed out of ${tenant.name}.`];
      if (outcome.unregistered) {
        lines.push(
          'The application asked to send you on to an address it has not registered, so you stay on this page. Its administrator must add the exact address to its allowed logout URLs.',
        );
      }
      lines.push('You can close this page.');
      return sendPage(reply, messageView({ ...frame(tenant, 'You are signed out'), lines }));
    }
    case 'confirm':
      return sendPage(
        reply,
        confirmView({
          ...frame(tenant, `Sign out of ${tenant.name}?`),
          action: endSessionEndpoint(tenant),
          csrf: csrfToken(reply, tenant),
          carried: outcome.carried,
          appName: outcome.appName,
          userName: outcome.userName,
        }),
      );
    case 'stayed':
      return sendPage(
        reply,
        messageView({
          ...frame(tenant, 'You are still signed in'),
          lines: ['Nothing has changed. You can close this page and go back to the application.'],
        }),
      );
  }
}
