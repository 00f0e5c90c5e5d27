/**
 * The authorization endpoint (GET and POST at its three paths, DESIGN.md §7)
 * and the sign-in page `/T/login` with its second-factor steps. Routes only
 * translate: the rules are in oauth/browser/.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AccessDeniedError, OAuthError } from '../../domain/errors.js';
import { AUTHORIZATION_CODE_GRANT, DEVICE_CODE_GRANT } from '../../domain/grant-types.js';
import { defaultDirectoryOf, type Catalog, type Tenant } from '../../domain/tenant.js';
import type { AuthorizationFlow } from '../../oauth/browser/authorization-flow.js';
import {
  AuthorizationPageError,
  AuthorizationRedirectError,
  parseAuthorizationRequest,
} from '../../oauth/browser/authorization-request.js';
import { SESSION_COOKIE, type ActiveSession, type BrowserSessions } from '../../oauth/browser/browser-sessions.js';
import type { LoginTransaction, LoginTransactions } from '../../oauth/browser/login-transaction.js';
import type { PageSignIn, PageSignInContext, SignInStep } from '../../oauth/browser/page-sign-in.js';
import { RequestParameters, type RequestParameters as Params } from '../../oauth/request-parameters.js';
import { requestOrigin } from '../request-origin.js';
import { tenantOf } from '../tenant.js';
import { cookieOptions, formParameters, frame, queryParameters, sendPage } from './page-kit.js';
import { sendAuthorizationStep, sendLoginForm, sendRecoveryCode, sendSecondFactor } from './sign-in-views.js';
import { messageView } from './views.js';

export interface SignInRoutesDeps {
  catalog: Catalog;
  flow: AuthorizationFlow;
  signIn: PageSignIn;
  sessions: BrowserSessions;
  transactions: LoginTransactions;
}

const AUTHORIZE_PATHS = ['/:tenant/authorize', '/:tenant/oauth2/v2.0/authorize', '/:tenant/as/authorization.oauth2'];

export const signInRoutes: FastifyPluginAsync<SignInRoutesDeps> = async (app, deps) => {
  const { catalog, flow, transactions } = deps;

  const authorize = async (request: FastifyRequest, reply: FastifyReply, query: string, afterPost: boolean) => {
    const tenant = tenantOf(request, catalog);
    try {
      const step = await flow.start(tenant, query, request.cookies[SESSION_COOKIE], browserIp(request, tenant));
      return await sendAuthorizationStep(reply, tenant, transactions, step, afterPost);
    } catch (err) {
      return sendAuthorizationError(request, reply, tenant, transactions, err);
    }
  };
  for (const path of AUTHORIZE_PATHS) {
    app.get(path, (request, reply) => authorize(request, reply, queryString(request), false));
    // OIDC Core §3.1.2.1: the authorization endpoint takes POST too (form-encoded); no CSRF token: it changes nothing by itself.
    app.post(path, (request, reply) => {
      const raw = request.body as { kind?: string; text?: string } | undefined;
      return authorize(request, reply, raw?.kind === 'form' ? (raw.text ?? '') : '', true);
    });
  }

  app.get('/:tenant/login', async (request, reply) => {
    const tenant = tenantOf(request, catalog);
    const params = queryParameters(request);
    const sealed = params.get('tx');
    const transaction = transactions.open(sealed, tenant.id);
    return sendLoginForm(reply, tenant, sealed ?? '', loginFormData(tenant, transaction, transaction.loginHint ?? ''));
  });

  app.post('/:tenant/login', { preHandler: app.csrfProtection }, async (request, reply) => {
    const tenant = tenantOf(request, catalog);
    const params = formParameters(request);
    const sealed = params.get('tx') ?? '';
    const transaction = transactions.open(sealed, tenant.id);
    const context = signInContext(tenant, transaction, browserIp(request, tenant));
    const step = params.get('step') ?? 'password';
    if (step === 'continue') {
      const session = await deps.sessions.current(tenant, request.cookies[SESSION_COOKIE]);
      if (!session) return reply.redirect(`${tenant.endpoints.issuer}login?tx=${encodeURIComponent(sealed)}`, 303);
      return continueAfterSignIn(request, reply, tenant, transaction, session);
    }
    let outcome: SignInStep;
    try {
      outcome = await runStep(deps.signIn, context, step, params);
    } catch (err) {
      if (err instanceof AccessDeniedError && transaction.purpose.kind === 'authorize') {
        return sendAuthorizationStep(reply, tenant, transactions, flow.denied(tenant, transaction, err), true);
      }
      if (!(err instanceof OAuthError) || err.statusCode >= 500) throw err;
      // The same page again, the reason in plain words (the grants' descriptions follow the no-enumeration rules).
      reply.code(err.statusCode === 429 ? 429 : 400);
      if (err.headers['retry-after']) reply.header('retry-after', err.headers['retry-after']);
      return sendStepAgain(reply, tenant, sealed, transaction, step, params, err.description);
    }
    if (outcome.kind !== 'signed_in') return sendSecondFactor(reply, tenant, sealed, outcome);
    // A new session id at every sign-in (no fixation); the old session, if any, ends.
    await deps.sessions.end(request.cookies[SESSION_COOKIE]);
    const session = await deps.sessions.start(tenant, outcome.user, { authTime: outcome.authTime, amr: outcome.amr });
    reply.setCookie(SESSION_COOKIE, session.id, { ...cookieOptions(tenant), expires: session.record.expiresAt });
    if (outcome.recoveryCode !== undefined) return sendRecoveryCode(reply, tenant, sealed, outcome.recoveryCode);
    return continueAfterSignIn(request, reply, tenant, transaction, session);
  });

  /** Where the sign-in was for: the authorization request it interrupted, or the device waiting at the verification page. */
  async function continueAfterSignIn(
    request: FastifyRequest,
    reply: FastifyReply,
    tenant: Tenant,
    transaction: LoginTransaction,
    session: ActiveSession,
  ) {
    if (transaction.purpose.kind === 'device') {
      return reply.redirect(`${tenant.endpoints.issuer}activate?tx=${encodeURIComponent(transactions.seal(transaction))}`, 303);
    }
    try {
      const step = await flow.resume(tenant, transaction, session, browserIp(request, tenant));
      return await sendAuthorizationStep(reply, tenant, transactions, step, true);
    } catch (err) {
      return sendAuthorizationError(request, reply, tenant, transactions, err);
    }
  }

  function sendStepAgain(
    reply: FastifyReply,
    tenant: Tenant,
    sealed: string,
    transaction: LoginTransaction,
    step: string,
    params: Params,
    alert: string,
  ) {
    const mfaToken = params.get('mfa_token') ?? '';
    if (step === 'enrol')
      return sendSecondFactor(reply, tenant, sealed, deps.signIn.enrolmentAgain(mfaToken, params.get('enrolment') ?? ''), alert);
    if (step === 'code' || step === 'recovery') {
      const oobCode = params.get('oob_code');
      const method = oobCode === undefined ? 'otp' : 'email';
      return sendSecondFactor(reply, tenant, sealed, { kind: 'challenge', mfaToken, method, ...(oobCode ? { oobCode } : {}) }, alert);
    }
    const data = loginFormData(tenant, transaction, params.get('username') ?? '');
    return sendLoginForm(reply, tenant, sealed, { ...data, realm: params.get('realm') ?? data.realm, alert });
  }
};

function runStep(signIn: PageSignIn, context: PageSignInContext, step: string, params: Params): Promise<SignInStep> {
  const mfaToken = () => params.require('mfa_token');
  switch (step) {
    case 'password':
      return signIn.password(context, {
        username: params.require('username'),
        password: params.require('password'),
        realm: params.get('realm'),
      });
    case 'code':
      return signIn.code(context, mfaToken(), params.require('otp'), params.get('oob_code'));
    case 'recovery':
      return signIn.recoveryCode(context, mfaToken(), params.require('recovery_code'));
    case 'enrol':
      return signIn.confirmEnrolment(context, mfaToken(), params.require('otp'), params.require('enrolment'));
    default:
      return Promise.reject(
        new OAuthError('invalid_request', 400, 'This form is not one of the sign-in steps; start again from the application.'),
      );
  }
}

/** The sign-in's request facts: for an authorization, its API and scopes decide the MFA policy as at the token endpoint. */
function signInContext(tenant: Tenant, transaction: LoginTransaction, ip: string): PageSignInContext {
  const app = tenant.applications.get(transaction.clientId);
  if (!app) throw new OAuthError('invalid_request', 400, 'The application of this sign-in is no longer available.');
  // A device's API and scopes are judged at its confirmation (oauth/device/device-approval.ts), with the MFA step-up there.
  if (transaction.purpose.kind !== 'authorize')
    return { tenant, app, ip, grantType: DEVICE_CODE_GRANT, audience: undefined, scopes: undefined };
  const request = parseAuthorizationRequest(tenant, RequestParameters.fromForm(transaction.purpose.query));
  return { tenant, app, ip, grantType: AUTHORIZATION_CODE_GRANT, audience: request.audience, scopes: request.scopes };
}

function loginFormData(tenant: Tenant, transaction: LoginTransaction, username: string) {
  const app = tenant.applications.get(transaction.clientId);
  const allowed = app?.settings.connections ?? [...tenant.connections.keys()];
  const realms = allowed.filter((name) => tenant.connections.has(name));
  // Auth0's `connection` on the authorization request chooses the realm offered first; else the default directory.
  const asked =
    transaction.purpose.kind === 'authorize' ? RequestParameters.fromForm(transaction.purpose.query).get('connection') : undefined;
  const defaultDirectory = defaultDirectoryOf(tenant);
  const preferred = asked ?? defaultDirectory;
  return {
    appName: app?.settings.name ?? transaction.clientId,
    username,
    realms,
    realm: preferred !== undefined && realms.includes(preferred) ? preferred : realms[0],
  };
}

/** The TCP peer, or the client of the tenant's trusted proxies: never a header a client chose (DESIGN.md §7). */
function browserIp(request: FastifyRequest, tenant: Tenant): string {
  return requestOrigin(request.raw, tenant).networkIp();
}

function queryString(request: FastifyRequest): string {
  const index = request.url.indexOf('?');
  return index === -1 ? '' : request.url.slice(index + 1);
}

/** RFC 6749 §4.1.2.1: a bad client or redirect_uri is a page, never a redirect; the rest goes back to the checked callback. */
function sendAuthorizationError(
  request: FastifyRequest,
  reply: FastifyReply,
  tenant: Tenant,
  transactions: LoginTransactions,
  err: unknown,
) {
  if (err instanceof AuthorizationPageError) {
    request.log.info({ route: request.routeOptions.url, status: 400, error: 'invalid_request', detail: err.logDetail }, 'page refused');
    return sendPage(reply.code(400), messageView({ ...frame(tenant, 'Sign-in cannot continue'), alert: err.sentence }));
  }
  if (err instanceof AuthorizationRedirectError) {
    request.log.info({ route: request.routeOptions.url, error: err.error.error, detail: err.error.logDetail }, 'authorization refused');
    const fields = { error: err.error.error, error_description: err.error.description };
    return sendAuthorizationStep(reply, tenant, transactions, { kind: 'callback', target: err.target, fields, appName: '' }, false);
  }
  throw err;
}
