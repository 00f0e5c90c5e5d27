/**
 * The one place Management API errors become HTTP, in Auth0's shape:
 * `{statusCode, error, message, errorCode}`, all four always. Errors of the
 * shared layers (an unknown tenant, a body that is not JSON, a storage
 * outage) keep their status and are spelled the same way; anything else is a
 * 500 that reveals nothing to the caller and everything to the log.
 */
import { STATUS_CODES } from 'node:http';
import type { z } from 'zod';
import { ManagementApiError } from '../../domain/management-errors.js';
import { toOAuthError } from '../error-reply.js';

export interface ManagementErrorReply {
  statusCode: number;
  headers: Record<string, string>;
  body: { statusCode: number; error: string; message: string; errorCode: string };
  logDetail: string | undefined;
  /** The original of a 5xx: a bug or a dependency failure, for the log only. */
  cause?: unknown;
}

export function managementErrorReply(err: unknown): ManagementErrorReply {
  if (err instanceof ManagementApiError) return shaped(err.statusCode, err.errorCode, err.message, err.headers, err.logDetail);
  const { error, cause } = toOAuthError(err);
  // Auth0 calls a body that is not JSON (or too large) a body error; the OAuth layer calls it invalid_request.
  const errorCode = error.error === 'invalid_request' ? 'invalid_body' : error.error;
  const message =
    error.statusCode >= 500 && error.statusCode !== 503
      ? 'Internal error: the request failed on the server; its log line names the cause (quote the X-Request-Id header to your operator).'
      : error.description;
  return { ...shaped(error.statusCode, errorCode, message, error.headers, error.logDetail), ...(cause === undefined ? {} : { cause }) };
}

/** Where a request broke its endpoint's schema, in Auth0's codes and wording. */
export type RequestPart = 'params' | 'query' | 'body';

const PART_CODES: Record<RequestPart, { errorCode: string; label: string }> = {
  params: { errorCode: 'invalid_uri', label: 'Path validation error' },
  query: { errorCode: 'invalid_query_string', label: 'Query validation error' },
  body: { errorCode: 'invalid_body', label: 'Payload validation error' },
};

/** The first issue, named by its property path: enough to fix the request, and no echo of the value sent. */
export function validationError(part: RequestPart, error: z.ZodError): ManagementApiError {
  const { errorCode, label } = PART_CODES[part];
  const issue = error.issues[0];
  const path = issue && issue.path.length > 0 ? ` on property ${issue.path.map(String).join('.')}` : '';
  return new ManagementApiError(400, errorCode, `${label}: '${issue?.message ?? 'invalid'}'${path}.`);
}

function shaped(
  statusCode: number,
  errorCode: string,
  message: string,
  headers: Record<string, string>,
  logDetail: string | undefined,
): ManagementErrorReply {
  return {
    statusCode,
    headers: { 'cache-control': 'no-store', ...headers },
    body: { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, errorCode },
    logDetail,
  };
}
