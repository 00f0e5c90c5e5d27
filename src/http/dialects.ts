/**
 * The three wire dialects of one token endpoint. They differ only at the
 * edge: which bodies they take and how the success response is written.
 */
import { DeviceAccessDeniedError, UnknownDeviceCodeError } from '../domain/device-errors.js';
import { OAuthError } from '../domain/errors.js';
import { apiScopePrefix, OIDC_SCOPES } from '../oauth/scopes.js';
import type { IssuedTokens } from '../tokens/token-service.js';

export type Dialect = 'auth0' | 'entra' | 'ping';

export const DIALECT_ACCEPTS_JSON: Record<Dialect, boolean> = { auth0: true, entra: false, ping: true };

/** `requestedScope`: the request's raw `scope` parameter, to answer in the form it was asked. */
export function renderTokenResponse(dialect: Dialect, tokens: IssuedTokens, requestedScope?: string): Record<string, string | number> {
  const body: Record<string, string | number> = {
    access_token: tokens.accessToken,
    token_type: 'Bearer',
    expires_in: tokens.expiresIn,
  };
  // MSAL caches by the returned scopes, written `{identifier}/{scope}` for an API, and reads ext_expires_in. It posts
  // such scopes to discovery's token_endpoint (the Auth0 path) too: answered bare there, its cache lookup never matches.
  if (dialect === 'entra' || namesApiByPrefix(requestedScope, tokens.apiIdentifier)) {
    body.scope = tokens.scopes
      .map((s) => (tokens.apiIdentifier !== undefined && !isOidcScope(s) ? `${apiScopePrefix(tokens.apiIdentifier)}${s}` : s))
      .join(' ');
  } else if (tokens.scopeDiffersFromRequest) {
    body.scope = tokens.scopes.join(' ');
  }
  if (dialect === 'entra') body.ext_expires_in = tokens.expiresIn;
  if (tokens.refreshToken !== undefined) body.refresh_token = tokens.refreshToken;
  if (tokens.idToken !== undefined) body.id_token = tokens.idToken;
  if (tokens.extra) Object.assign(body, tokens.extra);
  return body;
}

const isOidcScope = (s: string): boolean => OIDC_SCOPES.has(s);
const namesApiByPrefix = (scope: string | undefined, identifier: string | undefined): boolean =>
  scope !== undefined && identifier !== undefined && scope.split(' ').some((s) => s.startsWith(apiScopePrefix(identifier)));

/**
 * The device grant's answers as each provider spells them (RFC 8628 §3.5
 * elsewhere): Entra ID calls a denied device `authorization_declined` and
 * an unknown device code `bad_verification_code`. Any other error passes
 * unchanged.
 */
export function dialectError(dialect: Dialect, err: unknown): unknown {
  if (dialect !== 'entra') return err;
  const renamed = (error: OAuthError, name: string) =>
    new OAuthError(name, error.statusCode, error.description, error.logDetail === undefined ? {} : { logDetail: error.logDetail });
  if (err instanceof DeviceAccessDeniedError) return renamed(err, 'authorization_declined');
  if (err instanceof UnknownDeviceCodeError) return renamed(err, 'bad_verification_code');
  return err;
}
