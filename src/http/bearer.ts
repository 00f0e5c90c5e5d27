/**
 * Bearer tokens on the wire (RFC 6750): where a request may carry one, and
 * how a refusal says so in `WWW-Authenticate`.
 */
import type { FastifyRequest } from 'fastify';
import { BearerTokenMissingError, InsufficientScopeError, InvalidRequestError, OAuthError } from '../domain/errors.js';
import type { RequestParameters } from '../oauth/request-parameters.js';

/**
 * RFC 6750 §2.1 (the Authorization header) or §2.2 (`access_token` in a
 * form body, when `params` is given); never both.
 */
export function bearerToken(request: FastifyRequest, params: RequestParameters | undefined): string {
  const header = request.headers.authorization;
  const fromBody = params?.get('access_token');
  if (header !== undefined && fromBody !== undefined) {
    throw new InvalidRequestError('Send the access token in one place only (RFC 6750 §2).');
  }
  if (header !== undefined) {
    const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
    if (!match?.[1]) throw new InvalidRequestError('The Authorization header must be "Bearer <token>".');
    return match[1];
  }
  if (fromBody !== undefined) return fromBody;
  throw new BearerTokenMissingError();
}

const BEARER_ERRORS = new Set(['invalid_request', 'invalid_token', 'insufficient_scope']);

/**
 * RFC 6750 §3 (OIDC Core §5.3.3): a refused bearer request carries
 * `WWW-Authenticate: Bearer` with its error code; the description is reduced
 * to the characters §3 allows in a quoted value.
 */
export function withBearerChallenge(err: unknown): unknown {
  if (!(err instanceof OAuthError) || err.headers['www-authenticate'] !== undefined || !BEARER_ERRORS.has(err.error)) return err;
  const description = err.description.replace(/"/g, "'").replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '');
  const scope = err instanceof InsufficientScopeError ? `, scope="${err.requiredScope}"` : '';
  err.headers['www-authenticate'] = `Bearer realm="latchkey", error="${err.error}", error_description="${description}"${scope}`;
  return err;
}
