/**
 * The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1), parsed
 * without I/O in the order RFC 6749 §4.1.2.1 demands: first the client and
 * its redirect_uri, whose errors are shown to the person and never
 * redirected (an unchecked redirect_uri is an open redirector, RFC 9700
 * §4.11); then everything else, whose errors go back to the registered
 * callback with `state` and `iss`.
 */
import { AUTHORIZATION_CODE_GRANT } from '../../domain/grant-types.js';
import { InvalidRequestError, OAuthError, UnauthorizedClientError } from '../../domain/errors.js';
import type { Tenant } from '../../domain/tenant.js';
import type { ApplicationRecord } from '../../storage/stores.js';
import type { RequestParameters } from '../request-parameters.js';
import { optionalScopes, requestedAudience, selectRequestedResource } from '../scopes.js';

/** A request that cannot be answered at any callback: shown as a page, in a sentence the person can act on. */
export class AuthorizationPageError extends Error {
  override name = 'AuthorizationPageError';
  constructor(
    readonly sentence: string,
    readonly logDetail: string,
  ) {
    super(sentence);
  }
}

/** Where and how the answer goes: the registered callback, checked. */
export interface ResponseTarget {
  redirectUri: string;
  responseMode: 'query' | 'form_post';
  state: string | undefined;
  /** RFC 9207: the issuer, in every answer. */
  issuer: string;
}

/** An error for the client, delivered at its callback. */
export class AuthorizationRedirectError extends Error {
  override name = 'AuthorizationRedirectError';
  constructor(
    readonly target: ResponseTarget,
    readonly error: OAuthError,
  ) {
    super(error.description);
  }
}

export interface AuthorizationRequest {
  target: ResponseTarget;
  app: ApplicationRecord;
  /** The S256 challenge (RFC 7636 §4.2). */
  codeChallenge: string;
  nonce: string | undefined;
  /** OIDC `prompt`: `none` answers without any page; `login` forces a sign-in. */
  prompt: 'none' | 'login' | undefined;
  /** OIDC `max_age`, seconds. */
  maxAge: number | undefined;
  loginHint: string | undefined;
  /** Auth0's `connection`: the realm the sign-in page offers first. */
  connection: string | undefined;
  audience: string | undefined;
  scopes: string[] | undefined;
}

/** RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is always 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);

export function parseAuthorizationRequest(tenant: Tenant, params: RequestParameters): AuthorizationRequest {
  const app = registeredClient(tenant, params.get('client_id'));
  const redirectUri = params.get('redirect_uri');
  if (redirectUri === undefined) {
    throw new AuthorizationPageError(
      'The application did not say where to return after sign-in (redirect_uri is missing).',
      `authorization request of ${app.clientId} without redirect_uri`,
    );
  }
  if (!matchesCallback(redirectUri, app.settings.callbacks)) {
    throw new AuthorizationPageError(
      'The application asked to return to an address it has not registered, so the sign-in stops here. Its administrator must add the exact address to its callbacks.',
      `redirect_uri ${JSON.stringify(redirectUri.slice(0, 200))} is not one of ${app.clientId}'s callbacks`,
    );
  }
  const responseMode = params.get('response_mode') ?? 'query';
  const target: ResponseTarget = {
    redirectUri,
    responseMode: responseMode === 'form_post' ? 'form_post' : 'query',
    state: params.get('state'),
    issuer: tenant.endpoints.issuer,
  };
  try {
    if (responseMode !== 'query' && responseMode !== 'form_post') {
      throw new InvalidRequestError('response_mode must be query or form_post.');
    }
    return { target, app, ...checkedParameters(tenant, app, params) };
  } catch (err) {
    if (err instanceof OAuthError) throw new AuthorizationRedirectError(target, err);
    throw err;
  }
}

function registeredClient(tenant: Tenant, clientId: string | undefined): ApplicationRecord {
  if (clientId === undefined) {
    throw new AuthorizationPageError(
      'The application did not identify itself (client_id is missing).',
      'authorization request without client_id',
    );
  }
  const app = tenant.applications.get(clientId);
  if (!app) {
    throw new AuthorizationPageError(
      'The application that sent you here is not known to this sign-in service.',
      `authorization request of unknown client ${JSON.stringify(clientId.slice(0, 128))}`,
    );
  }
  return app;
}

/**
 * Exact string comparison (RFC 9700 §2.1), with one exception: a loopback
 * http callback matches on any port (RFC 8252 §7.3), since a native app
 * listens on whatever port the OS gives it.
 */
export function matchesCallback(redirectUri: string, callbacks: readonly string[]): boolean {
  if (callbacks.includes(redirectUri)) return true;
  const asked = loopbackWithoutPort(redirectUri);
  return asked !== undefined && callbacks.some((callback) => loopbackWithoutPort(callback) === asked);
}

function loopbackWithoutPort(uri: string): string | undefined {
  if (!uri.startsWith('http://127.0.0.1') && !uri.startsWith('http://[::1]')) return undefined;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  // Only a URL that serialises back to itself: `new URL` normalises, and the comparison must stay exact apart from the port.
  const port = url.port;
  url.port = '';
  const withoutPort = url.toString();
  const rebuilt = port === '' ? withoutPort : withoutPort.replace(`://${url.host}`, `://${url.host}:${port}`);
  return rebuilt === uri ? withoutPort : undefined;
}

function checkedParameters(
  tenant: Tenant,
  app: ApplicationRecord,
  params: RequestParameters,
): Omit<AuthorizationRequest, 'target' | 'app'> {
  if (params.get('request') !== undefined || params.get('request_uri') !== undefined) {
    throw new OAuthError('request_not_supported', 400, 'Request objects are not supported; send the parameters in the query.');
  }
  const responseType = params.get('response_type');
  if (responseType === undefined) throw new InvalidRequestError('response_type is required; this server supports code.');
  if (responseType !== 'code') {
    throw new OAuthError('unsupported_response_type', 400, 'Only response_type=code is supported (with PKCE).');
  }
  if (!app.settings.grant_types.includes(AUTHORIZATION_CODE_GRANT)) {
    throw new UnauthorizedClientError(
      'The application may not use the authorization code flow; add authorization_code to its grant_types.',
    );
  }
  const codeChallenge = params.get('code_challenge');
  const method = params.get('code_challenge_method');
  // RFC 9700 §2.1.1: PKCE for every client; `plain` (the default when the method is missing) is refused, no downgrade.
  if (codeChallenge === undefined) throw new InvalidRequestError('code_challenge is required (PKCE with S256).');
  if (method !== 'S256') throw new InvalidRequestError('code_challenge_method must be S256; plain is not accepted.');
  if (!S256_CHALLENGE.test(codeChallenge)) throw new InvalidRequestError('code_challenge must be a base64url SHA-256 (43 characters).');

  const prompts = (params.get('prompt') ?? '').split(' ').filter((p) => p !== '');
  if (prompts.some((p) => !PROMPTS.has(p))) throw new InvalidRequestError('prompt may be none, login, consent or select_account.');
  if (prompts.includes('none') && prompts.length > 1) throw new InvalidRequestError('prompt=none cannot be combined with other values.');
  const maxAgeText = params.get('max_age');
  if (maxAgeText !== undefined && !/^\d{1,9}$/.test(maxAgeText)) throw new InvalidRequestError('max_age must be a number of seconds.');

  const connection = params.get('connection');
  if (connection !== undefined) {
    const allowed = app.settings.connections;
    if (!tenant.connections.has(connection) || (allowed !== undefined && !allowed.includes(connection))) {
      throw new InvalidRequestError('The connection is not one this application may sign users in with.');
    }
  }
  const audience = requestedAudience(params);
  const scopes = optionalScopes(params);
  // The API is checked now, so an unknown audience goes back to the client before anyone types a password.
  selectRequestedResource(tenant, app, { audience, scopes });
  return {
    codeChallenge,
    nonce: params.get('nonce'),
    prompt: prompts.includes('none') ? 'none' : prompts.includes('login') || prompts.includes('select_account') ? 'login' : undefined,
    maxAge: maxAgeText === undefined ? undefined : Number(maxAgeText),
    loginHint: params.get('login_hint'),
    connection,
    audience,
    scopes,
  };
}

/** The answer at the callback: the parameters, plus `state` and `iss` (RFC 9207). */
export function callbackParameters(target: ResponseTarget, fields: Record<string, string>): Array<[string, string]> {
  const entries: Array<[string, string]> = Object.entries(fields);
  if (target.state !== undefined) entries.push(['state', target.state]);
  entries.push(['iss', target.issuer]);
  return entries;
}

/** The callback URL with the answer in its query (RFC 6749 §4.1.2), keeping any query the callback has. */
export function callbackUrl(target: ResponseTarget, fields: Record<string, string>): string {
  const url = new URL(target.redirectUri);
  for (const [name, value] of callbackParameters(target, fields)) url.searchParams.append(name, value);
  return url.toString();
}
