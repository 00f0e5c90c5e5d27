/**
 * Management API errors as typed values, in Auth0's shape: every answer
 * carries `statusCode`, `error` (the HTTP reason phrase), `message` and
 * `errorCode` (Auth0's machine-readable name, e.g. `inexistent_user`).
 * Turned into HTTP in one place: src/http/management/reply.ts.
 */

export class ManagementApiError extends Error {
  readonly logDetail: string | undefined;
  readonly headers: Record<string, string>;

  constructor(
    readonly statusCode: number,
    readonly errorCode: string,
    message: string,
    options: { logDetail?: string; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'ManagementApiError';
    this.logDetail = options.logDetail;
    this.headers = options.headers ?? {};
  }
}

/** 400: the body (or `errorCode` says which part) breaks the endpoint's schema or a rule. */
export function badRequest(message: string, errorCode = 'invalid_body', logDetail?: string): ManagementApiError {
  return new ManagementApiError(400, errorCode, message, logDetail === undefined ? {} : { logDetail });
}

/** 404 with Auth0's code for the kind of object: `inexistent_user`, `inexistent_client`, … */
export function notFound(errorCode: string, message: string): ManagementApiError {
  return new ManagementApiError(404, errorCode, message);
}

export function conflict(errorCode: string, message: string): ManagementApiError {
  return new ManagementApiError(409, errorCode, message);
}

/**
 * 409 managed_by_config (DESIGN.md §9): the configuration file declares the
 * object, and the file is authoritative for what it declares.
 */
export function managedByConfig(what: string): ManagementApiError {
  return new ManagementApiError(
    409,
    'managed_by_config',
    `${what} is declared in the configuration file, which is authoritative for it: change it there and restart, or create another object through the API.`,
  );
}
