/**
 * The authorization endpoint's decisions (RFC 6749 §4.1, OIDC Core §3.1.2),
 * from a request to its answer at the callback: whether the browser's
 * session will do (`prompt`, `max_age`), whether a second factor must be
 * shown first (the MFA policy of the application and API, or a hook), the
 * post-login hooks (`event.grant_type` authorization_code), and the code.
 * The HTTP layer (http/pages/) only renders the step it is given.
 */
import type { Clock } from '../../clock.js';
import type { AuthenticatedClient } from '../../domain/client.js';
import { AccessDeniedError, MfaRequiredError, type OAuthError } from '../../domain/errors.js';
import type { Grant } from '../../domain/grant.js';
import { AUTHORIZATION_CODE_GRANT } from '../../domain/grant-types.js';
import { servedConnectionOf, type Tenant } from '../../domain/tenant.js';
import type { MfaGate } from '../mfa-gate.js';
import type { PostLoginHooks } from '../post-login.js';
import { RequestParameters } from '../request-parameters.js';
import type { AuthorizationCodes } from './authorization-codes.js';
import { parseAuthorizationRequest, type AuthorizationRequest, type ResponseTarget } from './authorization-request.js';
import type { ActiveSession, BrowserSessions } from './browser-sessions.js';
import type { LoginTransaction, LoginTransactions } from './login-transaction.js';
import { sessionGrant } from './session-grant.js';
import type { FactorChallenge, FactorEnrolment, PageSignIn, PageSignInContext } from './page-sign-in.js';

export type AuthorizationStep =
  /** Deliver to the client: a code, or an error it must hear about (login_required, access_denied …). */
  | { kind: 'callback'; target: ResponseTarget; fields: Record<string, string>; appName: string }
  /** The sign-in page, for this transaction. */
  | { kind: 'sign_in'; transaction: LoginTransaction }
  /** The session is not enough for this application: a second factor first (or its enrolment). */
  | { kind: 'second_factor'; transaction: LoginTransaction; factor: FactorChallenge | FactorEnrolment; context: PageSignInContext }
  /** A hook refused: the person reads why, and the link takes the error back to the application. */
  | { kind: 'denied'; sentence: string; target: ResponseTarget; fields: Record<string, string>; appName: string };

export interface AuthorizationFlowDeps {
  sessions: BrowserSessions;
  transactions: LoginTransactions;
  codes: AuthorizationCodes;
  signIn: PageSignIn;
  mfaGate: MfaGate;
  postLogin: PostLoginHooks;
  clock: Clock;
}

export class AuthorizationFlow {
  constructor(private readonly deps: AuthorizationFlowDeps) {}

  /** GET /T/authorize: the request as sent, and the browser's session cookie if any. */
  async start(tenant: Tenant, query: string, sessionCookie: string | undefined, ip: string): Promise<AuthorizationStep> {
    const request = parseAuthorizationRequest(tenant, RequestParameters.fromForm(query));
    const session = await this.deps.sessions.current(tenant, sessionCookie);
    const transaction = this.deps.transactions.begin({
      tenantId: tenant.id,
      clientId: request.app.clientId,
      purpose: { kind: 'authorize', query },
      ...(request.loginHint === undefined ? {} : { loginHint: request.loginHint }),
    });
    if (!session || !this.sessionSatisfies(tenant, request, session, undefined)) {
      // OIDC Core §3.1.2.6: prompt=none never shows a page.
      if (request.prompt === 'none') return callbackError(request, 'login_required', 'The user is not signed in.');
      return { kind: 'sign_in', transaction };
    }
    return this.complete(tenant, request, session, ip, transaction);
  }

  /** After a sign-in on the page: the transaction's request, answered for the session just started. */
  async resume(tenant: Tenant, transaction: LoginTransaction, session: ActiveSession, ip: string): Promise<AuthorizationStep> {
    if (transaction.purpose.kind !== 'authorize') throw new TypeError('not an authorization transaction');
    // Validated again: the application may have changed while the person typed.
    const request = parseAuthorizationRequest(tenant, RequestParameters.fromForm(transaction.purpose.query));
    if (!this.sessionSatisfies(tenant, request, session, transaction)) return { kind: 'sign_in', transaction };
    return this.complete(tenant, request, session, ip, transaction);
  }

  /**
   * The password on the page was right but the tenant refuses the person for
   * this request (oauth/management-audience.ts): answered as a hook's
   * refusal, not as a wrong password on the form, where typing again could
   * not help.
   */
  denied(tenant: Tenant, transaction: LoginTransaction, err: AccessDeniedError): AuthorizationStep {
    if (transaction.purpose.kind !== 'authorize') throw err;
    return deniedStep(parseAuthorizationRequest(tenant, RequestParameters.fromForm(transaction.purpose.query)), err);
  }

  /**
   * `prompt=login` wants a sign-in after the request began; `max_age` a
   * sign-in at most that old, which a sign-in made for this very request
   * always is (else `max_age=0`, OIDC's "sign in again", would loop: the
   * password check itself takes longer than 0 s). And the session's user
   * must belong to a connection the application may use.
   */
  private sessionSatisfies(
    tenant: Tenant,
    request: AuthorizationRequest,
    session: ActiveSession,
    transaction: LoginTransaction | undefined,
  ): boolean {
    const authTime = session.record.authTime.getTime();
    const signedInForThisRequest = transaction !== undefined && authTime >= transaction.startedAt;
    if (request.prompt === 'login' && !signedInForThisRequest) return false;
    const age = this.deps.clock.now().getTime() - authTime;
    if (request.maxAge !== undefined && age > request.maxAge * 1000 && !signedInForThisRequest) return false;
    const allowed = request.app.settings.connections;
    const connection = servedConnectionOf(tenant, session.user);
    return allowed === undefined || (connection !== undefined && allowed.includes(connection.name));
  }

  private async complete(
    tenant: Tenant,
    request: AuthorizationRequest,
    session: ActiveSession,
    ip: string,
    transaction: LoginTransaction,
  ): Promise<AuthorizationStep> {
    const { app } = request;
    const client: AuthenticatedClient = { app, method: app.settings.token_endpoint_auth_method };
    const context: PageSignInContext = {
      tenant,
      app,
      ip,
      grantType: AUTHORIZATION_CODE_GRANT,
      audience: request.audience,
      scopes: request.scopes,
    };
    const grant = sessionGrant(tenant, app, session, {
      grantType: AUTHORIZATION_CODE_GRANT,
      audience: request.audience,
      scopes: request.scopes,
      nonce: request.nonce,
    });
    let final: Grant;
    try {
      await this.deps.mfaGate.checkSession(grant, tenant, client);
      final = await this.deps.postLogin.apply(grant, tenant, client, () => ip);
    } catch (err) {
      if (err instanceof MfaRequiredError) {
        if (request.prompt === 'none') return callbackError(request, 'interaction_required', 'A second factor is required.');
        return { kind: 'second_factor', transaction, factor: await this.deps.signIn.secondFactor(context, err), context };
      }
      if (err instanceof AccessDeniedError) return deniedStep(request, err);
      throw err;
    }
    const code = await this.deps.codes.issue(
      { ...final, hooksApplied: true },
      { tenantId: tenant.id, clientId: app.clientId, redirectUri: request.target.redirectUri, codeChallenge: request.codeChallenge },
    );
    return { kind: 'callback', target: request.target, fields: { code }, appName: appName(request) };
  }
}

/**
 * A refusal of the person who signed in (a hook's, or the tenant's rule that
 * only administrators hold Management API tokens): they read why, and the
 * link takes access_denied back to the application (RFC 6749 §4.1.2.1).
 */
function deniedStep(request: AuthorizationRequest, err: AccessDeniedError): AuthorizationStep {
  // prompt=none shows no page, not even this one (OIDC Core §3.1.2.6).
  if (request.prompt === 'none') return callbackError(request, 'access_denied', err.description);
  const fields = { error: 'access_denied', error_description: err.description };
  return { kind: 'denied', sentence: err.description, target: request.target, fields, appName: appName(request) };
}

function callbackError(request: AuthorizationRequest, error: string, description: string): AuthorizationStep {
  return { kind: 'callback', target: request.target, fields: { error, error_description: description }, appName: appName(request) };
}

/** An error at the callback (RFC 6749 §4.1.2.1): its code and description. */
export function callbackErrorFields(error: OAuthError): Record<string, string> {
  return { error: error.error, error_description: error.description };
}

export function appName(request: Pick<AuthorizationRequest, 'app'>): string {
  return request.app.settings.name ?? request.app.clientId;
}
