/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0; Auth0's
 * `/v2/logout`, DESIGN.md §7): ends the browser session, then sends the
 * browser back to the application, or says it is signed out.
 *
 * - The application is the `aud` of a valid `id_token_hint`, or `client_id`;
 *   when both are given they must agree (§2: "the OP MUST verify that the
 *   Client Identifier matches the one used when issuing the ID Token").
 * - The address to return to (`post_logout_redirect_uri`, Auth0's
 *   `returnTo`) must be exactly one of that application's
 *   `allowed_logout_urls`. §3: "The OP also MUST NOT perform post-logout
 *   redirection if the post_logout_redirect_uri value supplied does not
 *   exactly match one of the previously registered post_logout_redirect_uris
 *   values." So logout is no open redirector (RFC 9700 §4.11). Without a
 *   hint, §3 allows the redirect when "the OP has other means of confirming
 *   the legitimacy of the post-logout redirection target": here the exact
 *   address registered for `client_id`, after the person confirmed.
 * - Without a valid hint for the current session the person is asked first.
 *   §2: "the OP MUST ask the End-User this question if an id_token_hint was
 *   not provided or if the supplied ID Token does not belong to the current
 *   OP session with the RP and/or currently logged in End-User"; a logout
 *   anyone can link to would otherwise sign people out at will.
 * - The user's refresh tokens stay: logout ends the browser's session, not
 *   the applications' (DESIGN.md §7, issue #14 point 6).
 *
 * Choices where the specification leaves room (docs/browser-sign-in.md,
 * Logout): with no session at all there is nothing to ask about, so the
 * answer comes at once; without an address to return to, the signed-out page
 * is shown (Auth0 would pick the first allowed URL; here the application
 * says where it wants to go). An invalid hint is not an error: the person is
 * asked, as with none.
 */
import { InvalidRequestError } from '../../domain/errors.js';
import type { Tenant } from '../../domain/tenant.js';
import type { SecurityEvents } from '../../observability/security-events.js';
import type { ApplicationRecord } from '../../storage/stores.js';
import type { IdTokenHintVerifier } from '../../tokens/id-token-hint.js';
import type { RequestParameters } from '../request-parameters.js';
import { sessionIdOf, type ActiveSession, type BrowserSessions } from './browser-sessions.js';

/** The end_session_endpoint (OIDC Discovery): the first of DESIGN.md §7's paths. */
export function endSessionEndpoint(tenant: Tenant): string {
  return `${tenant.endpoints.issuer}logout`;
}

/** The request as the application sent it; `logout_hint`, `ui_locales` and Auth0's `federated` are ignored. */
export interface LogoutRequest {
  idTokenHint: string | undefined;
  clientId: string | undefined;
  /** `post_logout_redirect_uri`, or Auth0's `returnTo`. */
  postLogoutRedirectUri: string | undefined;
  state: string | undefined;
}

export function parseLogoutRequest(params: RequestParameters): LogoutRequest {
  const postLogout = params.get('post_logout_redirect_uri');
  const returnTo = params.get('returnTo');
  if (postLogout !== undefined && returnTo !== undefined && postLogout !== returnTo) {
    throw new InvalidRequestError('The sign-out request names two different addresses to return to, so it stops here.', {
      logDetail: 'logout with both post_logout_redirect_uri and returnTo, different',
    });
  }
  return {
    idTokenHint: params.get('id_token_hint'),
    clientId: params.get('client_id'),
    postLogoutRedirectUri: postLogout ?? returnTo,
    state: params.get('state'),
  };
}

export type LogoutOutcome =
  /** The session, if there was one, is over: send the browser to the application's registered address. */
  | { kind: 'redirect'; location: string }
  /** The session, if there was one, is over. `unregistered`: an address was asked for that the application has not registered. */
  | { kind: 'signed_out'; unregistered: boolean }
  /** Ask first; `carried` goes back in the confirmation form's hidden inputs, by wire name. */
  | { kind: 'confirm'; appName: string | undefined; userName: string | undefined; carried: Array<[string, string]> }
  /** The person chose to stay signed in. */
  | { kind: 'stayed' };

export interface LogoutInput {
  tenant: Tenant;
  params: RequestParameters;
  /** The session cookie's value, as the browser sent it. */
  sessionCookie: string | undefined;
  /** The browser's IP, for the security event. */
  ip: string;
}

/** What the request names, checked, before anything changes. */
interface ResolvedLogout {
  request: LogoutRequest;
  /** A valid id_token_hint's subject; undefined without a valid hint. */
  hintSubject: string | undefined;
  /** Its `sid`, when the id_token came from a browser session (OpenID Connect Front-Channel Logout §3). */
  hintSessionId: string | undefined;
  app: ApplicationRecord | undefined;
  /** The registered address with `state`; undefined when there is none to go to. */
  location: string | undefined;
  unregistered: boolean;
  /** Why a hint was not taken, for the log. */
  hintRefused: string | undefined;
}

export interface LogoutDeps {
  hints: IdTokenHintVerifier;
  sessions: BrowserSessions;
  securityEvents: SecurityEvents;
}

export class Logout {
  constructor(private readonly deps: LogoutDeps) {}

  /** GET (or an application's POST): at once when a valid hint names this session's user or there is no session; else ask. */
  async request(input: LogoutInput): Promise<LogoutOutcome & { hintRefused?: string }> {
    const resolved = await this.resolve(input.tenant, parseLogoutRequest(input.params));
    const session = await this.deps.sessions.current(input.tenant, input.sessionCookie);
    // A hint with a sid names one session: an older id_token of the same user (another sign-in) does not end this one unasked.
    const hintNamesSession =
      resolved.hintSubject !== undefined &&
      session?.user.id === resolved.hintSubject &&
      (resolved.hintSessionId === undefined || resolved.hintSessionId === sessionIdOf(session.record));
    if (session === undefined || hintNamesSession) {
      return { ...(await this.finish(input, resolved, session, 'id_token_hint')), ...refusal(resolved) };
    }
    return {
      kind: 'confirm',
      appName: resolved.app === undefined ? undefined : (resolved.app.settings.name ?? resolved.app.clientId),
      userName: session.user.email ?? session.user.username,
      carried: carriedFields(resolved),
      ...refusal(resolved),
    };
  }

  /** The confirmation form's answer (`action=confirm|deny`), its parameters checked again as they came back. */
  async decide(input: LogoutInput): Promise<LogoutOutcome & { hintRefused?: string }> {
    const action = input.params.get('action');
    if (action !== 'confirm' && action !== 'deny') {
      throw new InvalidRequestError('The sign-out form was not answered with one of its buttons; go back and choose one.', {
        logDetail: 'logout decision without action=confirm|deny',
      });
    }
    const resolved = await this.resolve(input.tenant, parseLogoutRequest(input.params));
    if (action === 'deny') return { kind: 'stayed', ...refusal(resolved) };
    const session = await this.deps.sessions.current(input.tenant, input.sessionCookie);
    return { ...(await this.finish(input, resolved, session, 'confirmed')), ...refusal(resolved) };
  }

  private async resolve(tenant: Tenant, request: LogoutRequest): Promise<ResolvedLogout> {
    let hint: { subject: string; clientId: string; sessionId: string | undefined } | undefined;
    let hintRefused: string | undefined;
    if (request.idTokenHint !== undefined) {
      const check = await this.deps.hints.verify(request.idTokenHint, tenant);
      if (check.valid) hint = check;
      else hintRefused = check.reason;
    }
    if (hint !== undefined && request.clientId !== undefined && request.clientId !== hint.clientId) {
      throw new InvalidRequestError('The sign-out request names two different applications, so it stops here.', {
        logDetail: `logout: client_id ${JSON.stringify(request.clientId.slice(0, 128))} is not the id_token_hint's audience ${hint.clientId}`,
      });
    }
    const clientId = hint?.clientId ?? request.clientId;
    // The catalog holds only the applications the file still declares.
    const app = clientId === undefined ? undefined : tenant.applications.get(clientId);
    const asked = request.postLogoutRedirectUri;
    const registered = asked !== undefined && app?.settings.allowed_logout_urls.includes(asked) === true;
    return {
      request,
      hintSubject: hint?.subject,
      hintSessionId: hint?.sessionId,
      app,
      location: registered ? withState(asked, request.state) : undefined,
      unregistered: asked !== undefined && !registered,
      hintRefused,
    };
  }

  private async finish(
    input: LogoutInput,
    resolved: ResolvedLogout,
    session: ActiveSession | undefined,
    reason: 'id_token_hint' | 'confirmed',
  ): Promise<LogoutOutcome> {
    // The cookie as sent, even when it names no live session: a stale id is deleted all the same.
    await this.deps.sessions.end(session?.id ?? input.sessionCookie);
    if (session !== undefined) {
      await this.deps.securityEvents.record({
        type: 'logout',
        reason,
        tenantId: input.tenant.id,
        clientId: resolved.app?.clientId,
        userId: session.user.id,
        ip: input.ip,
      });
    }
    if (resolved.location !== undefined) return { kind: 'redirect', location: resolved.location };
    return { kind: 'signed_out', unregistered: resolved.unregistered };
  }
}

/** §2 `state`: passed back to the application in the `state` parameter of the redirect, beside any query the registered address has. */
function withState(uri: string, state: string | undefined): string {
  if (state === undefined) return uri;
  const url = new URL(uri);
  url.searchParams.append('state', state);
  return url.toString();
}

/** What the confirmation form sends back: the request as received, a hint only when it was valid. */
function carriedFields(resolved: ResolvedLogout): Array<[string, string]> {
  const { request } = resolved;
  const fields: Array<[string, string | undefined]> = [
    ['id_token_hint', resolved.hintSubject === undefined ? undefined : request.idTokenHint],
    ['client_id', request.clientId],
    ['post_logout_redirect_uri', request.postLogoutRedirectUri],
    ['state', request.state],
  ];
  return fields.filter((field): field is [string, string] => field[1] !== undefined);
}

function refusal(resolved: ResolvedLogout): { hintRefused?: string } {
  return resolved.hintRefused === undefined ? {} : { hintRefused: resolved.hintRefused };
}
