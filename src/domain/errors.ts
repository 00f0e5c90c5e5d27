/**
 * OAuth errors as typed values (RFC 6749 §5.2, RFC 6750 §3.1, RFC 8707 §2,
 * plus the Auth0 extensions listed in DESIGN.md §4).
 *
 * Every error carries the wire `error` code, its HTTP status, a description
 * that is safe to show the client, an optional machine-readable
 * `errorReason` from the documented list (docs/errors.md), optional response
 * headers, and a `logDetail` that only ever reaches the operator's log.
 * They are turned into HTTP in exactly one place: src/http/error-reply.ts.
 */

/** The fixed, documented list of `error_reason` values (docs/errors.md). */
export type ErrorReason =
  | 'user_blocked'
  | 'password_expired'
  | 'password_change_required'
  | 'password_breached'
  | 'mfa_enrollment_required'
  | 'ip_blocked'
  | 'new_locations_paused'
  | 'ip_concurrent_checks'
  | 'rate_limited'
  | 'concurrent_attempts'
  | 'mfa_attempts_exceeded'
  | 'mfa_enrollments_exceeded'
  | 'mfa_emails_exceeded'
  | 'directory_unavailable'
  | 'hook_failed'
  | 'hook_timeout'
  | 'mfa_required'
  | 'hash_queue_full'
  | 'storage_unavailable';

export interface OAuthErrorOptions {
  errorReason?: ErrorReason;
  headers?: Record<string, string>;
  /** Operator-only context; never sent to the client. */
  logDetail?: string;
  /** Extra top-level members of the error body (e.g. `mfa_token`). */
  extra?: Record<string, string>;
}

export class OAuthError extends Error {
  readonly headers: Record<string, string>;
  readonly errorReason: ErrorReason | undefined;
  readonly logDetail: string | undefined;
  readonly extra: Record<string, string> | undefined;

  constructor(
    readonly error: string,
    readonly statusCode: number,
    readonly description: string,
    options: OAuthErrorOptions = {},
  ) {
    super(`${error}: ${description}`);
    this.name = 'OAuthError';
    this.headers = options.headers ?? {};
    this.errorReason = options.errorReason;
    this.logDetail = options.logDetail;
    this.extra = options.extra;
  }
}

export class InvalidRequestError extends OAuthError {
  constructor(description: string, options?: OAuthErrorOptions) {
    super('invalid_request', 400, description, options);
  }
}

/** `invalid_request` for a body over the size limit, with 413 so proxies and clients see why. */
export class RequestTooLargeError extends OAuthError {
  constructor(description: string, options?: OAuthErrorOptions) {
    super('invalid_request', 413, description, options);
  }
}

/**
 * RFC 6749 §5.2: 401 with `WWW-Authenticate` when the client tried HTTP
 * Basic; the reply layer adds the header from `usedBasicAuth`.
 */
export class InvalidClientError extends OAuthError {
  constructor(
    description: string,
    readonly usedBasicAuth = false,
    options?: OAuthErrorOptions,
  ) {
    super('invalid_client', 401, description, options);
  }
}

export class InvalidGrantError extends OAuthError {
  constructor(description: string, options?: OAuthErrorOptions) {
    super('invalid_grant', 400, description, options);
  }
}

export class UnauthorizedClientError extends OAuthError {
  constructor(description: string, options?: OAuthErrorOptions) {
    super('unauthorized_client', 400, description, options);
  }
}

export class UnsupportedGrantTypeError extends OAuthError {
  constructor(description: string, options?: OAuthErrorOptions) {
    super('unsupported_grant_type', 400, description, options);
  }
}

export class InvalidScopeError extends OAuthError {
  constructor(description: string, options?: OAuthErrorOptions) {
    super('invalid_scope', 400, description, options);
  }
}

/** RFC 8707 §2: the requested resource (audience) is unknown or not allowed. */
export class InvalidTargetError extends OAuthError {
  constructor(description: string, options?: OAuthErrorOptions) {
    super('invalid_target', 400, description, options);
  }
}

export class AccessDeniedError extends OAuthError {
  constructor(description: string, options?: OAuthErrorOptions) {
    super('access_denied', 403, description, options);
  }
}

/** Auth0's MFA shape: 403 with an `mfa_token` the client completes at /mfa/* and the MFA grants. */
export class MfaRequiredError extends OAuthError {
  constructor(mfaToken: string, enrollmentRequired: boolean) {
    super('mfa_required', 403, 'Multifactor authentication required', {
      extra: { mfa_token: mfaToken },
      ...(enrollmentRequired ? { errorReason: 'mfa_enrollment_required' as const } : {}),
    });
  }
}

export class TooManyAttemptsError extends OAuthError {
  constructor(description: string, retryAfterSeconds: number, options: OAuthErrorOptions = {}) {
    super('too_many_attempts', 429, description, {
      ...options,
      headers: { ...options.headers, 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    });
  }
}

/** A dependency is down or saturated: the client should retry, never drop its tokens. */
export class TemporarilyUnavailableError extends OAuthError {
  constructor(description: string, retryAfterSeconds: number, options: OAuthErrorOptions = {}) {
    super('temporarily_unavailable', 503, description, {
      ...options,
      headers: { ...options.headers, 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    });
  }
}

/** RFC 6750 §3.1, for resources protected by a Bearer token (userinfo). */
export class InvalidTokenError extends OAuthError {
  constructor(description: string, options?: OAuthErrorOptions) {
    super('invalid_token', 401, description, options);
  }
}

/**
 * RFC 6750 §3.1: the token is valid but does not allow this request; the
 * reply's `WWW-Authenticate` names `requiredScope` (http/routes/protected-resources.ts).
 */
export class InsufficientScopeError extends OAuthError {
  constructor(
    description: string,
    readonly requiredScope: string,
    options?: OAuthErrorOptions,
  ) {
    super('insufficient_scope', 403, description, options);
  }
}

export class NotFoundError extends OAuthError {
  constructor(description: string, options?: OAuthErrorOptions) {
    super('not_found', 404, description, options);
  }
}

/** Anything unexpected: the client learns nothing, the operator gets the cause. */
export class ServerError extends OAuthError {
  constructor(logDetail: string) {
    super('server_error', 500, 'The server could not complete the request. The operator has been told.', { logDetail });
  }
}

/** RFC 7009 §2.2.1: a token_type_hint the server does not know. */
export class UnsupportedTokenTypeError extends OAuthError {
  constructor(description: string) {
    super('unsupported_token_type', 400, description);
  }
}

/** RFC 6750 §3.1: a request with no token gets the challenge without an error code. */
export class BearerTokenMissingError extends OAuthError {
  constructor() {
    super('invalid_token', 401, 'An access token is required: send Authorization: Bearer <token>.', {
      headers: { 'www-authenticate': 'Bearer realm="latchkey"' },
    });
  }
}
