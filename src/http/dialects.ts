/**
 * The three wire dialects of one token endpoint. They differ only at the
 * edge: which bodies they take and how the success response is written.
 */
import { OIDC_SCOPES } from '../oauth/scopes.js';
import type { IssuedTokens } from '../tokens/token-service.js';

export type Dialect = 'auth0' | 'entra' | 'ping';

export const DIALECT_ACCEPTS_JSON: Record<Dialect, boolean> = { auth0: true, entra: false, ping: true };

export function renderTokenResponse(dialect: Dialect, tokens: IssuedTokens): Record<string, string | number> {
  const body: Record<string, string | number> = {
    access_token: tokens.accessToken,
    token_type: 'Bearer',
    expires_in: tokens.expiresIn,
  };
  if (dialect === 'entra') {
    // MSAL caches by the returned scopes, written `{identifier}/{scope}` for an API, and reads ext_expires_in.
    body.scope = tokens.scopes.map((s) => (tokens.apiIdentifier !== undefined && !isOidcScope(s) ? `${withSlash(tokens.apiIdentifier)}${s}` : s)).join(' ');
    body.ext_expires_in = tokens.expiresIn;
  } else if (tokens.scopeDiffersFromRequest) {
    body.scope = tokens.scopes.join(' ');
  }
  if (tokens.refreshToken !== undefined) body.refresh_token = tokens.refreshToken;
  if (tokens.idToken !== undefined) body.id_token = tokens.idToken;
  return body;
}

const isOidcScope = (s: string): boolean => OIDC_SCOPES.has(s);
const withSlash = (identifier: string): string => (identifier.endsWith('/') ? identifier : `${identifier}/`);
