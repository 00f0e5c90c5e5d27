/**
 * The one place where errors become HTTP (STYLE.md §3). OAuth errors keep
 * their code and status; malformed requests caught by the framework become
 * `invalid_request`; an unavailable database becomes 503 so clients retry
 * instead of discarding tokens; anything else is a `server_error` that
 * reveals nothing to the client and everything to the operator.
 */
import {
  InvalidClientError,
  InvalidRequestError,
  OAuthError,
  RequestTooLargeError,
  ServerError,
  TemporarilyUnavailableError,
} from '../domain/errors.js';
import { isStorageUnavailable } from '../storage/database.js';

export interface ErrorReply {
  statusCode: number;
  headers: Record<string, string>;
  body: Record<string, string>;
  /** The error as the operator should see it in the log. */
  error: OAuthError;
  /** The original, when it was not an OAuthError (a bug or a dependency failure). */
  cause?: unknown;
}

export function toOAuthError(err: unknown): { error: OAuthError; cause?: unknown } {
  if (err instanceof OAuthError) return { error: err };
  // First: Fastify marks request errors with a 4xx status, and a client hanging up mid-body carries
  // ECONNRESET, which must not read as a storage outage (a 503 and an error-level log).
  const framework = frameworkError(err);
  if (framework) return { error: framework };
  if (isStorageUnavailable(err)) {
    return {
      error: new TemporarilyUnavailableError('The service is temporarily unavailable; retry shortly. Your tokens remain valid.', 5, {
        errorReason: 'storage_unavailable',
        logDetail: `storage unavailable: ${(err as Error).message}`,
      }),
      cause: err,
    };
  }
  return { error: new ServerError(err instanceof Error ? `${err.name}: ${err.message}` : String(err)), cause: err };
}

/** Fastify's own 4xx errors (bad JSON, unsupported media type, too large) in OAuth terms. */
function frameworkError(err: unknown): OAuthError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { statusCode, code } = err as { statusCode?: unknown; code?: unknown };
  if (typeof statusCode !== 'number' || statusCode < 400 || statusCode >= 500) return undefined;
  const logDetail = `${String(code)}: ${(err as Error).message}`;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new RequestTooLargeError('The request body is too large.', { logDetail });
  const description =
    code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
      ? 'The request body must be application/x-www-form-urlencoded (or application/json on the Auth0 path).'
      : code === 'FST_ERR_CTP_INVALID_JSON_BODY' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
        ? 'The request body is not valid JSON.'
        : 'The request is malformed.';
  return new InvalidRequestError(description, { logDetail });
}

export function errorReply(err: unknown): ErrorReply {
  const { error, cause } = toOAuthError(err);
  const headers: Record<string, string> = { 'cache-control': 'no-store', pragma: 'no-cache', ...error.headers };
  if (error instanceof InvalidClientError && error.usedBasicAuth) headers['www-authenticate'] = 'Basic realm="latchkey", charset="UTF-8"';
  const body: Record<string, string> = { error: error.error, error_description: error.description };
  if (error.errorReason) body.error_reason = error.errorReason;
  if (error.extra) Object.assign(body, error.extra);
  return { statusCode: error.statusCode, headers, body, error, ...(cause === undefined ? {} : { cause }) };
}
