/**
 * The errors of Auth0's `/dbconnections/*` endpoints, in Auth0's shape
 * `{name, code, description, statusCode}` (what auth0.js and the
 * Authentication API SDKs read), apart from the OAuth errors of the token
 * endpoint. The route writes them; `description` is safe to show.
 */
export class AccountRequestError extends Error {
  override name = 'AccountRequestError';
  constructor(
    readonly statusCode: number,
    /** Auth0's error name (`BadRequestError`, `PasswordStrengthError`, …). */
    readonly auth0Name: string,
    readonly code: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${code}: ${description}`);
  }

  body(): { name: string; code: string; description: string; statusCode: number } {
    return { name: this.auth0Name, code: this.code, description: this.description, statusCode: this.statusCode };
  }
}

export const badRequest = (code: string, description: string): AccountRequestError =>
  new AccountRequestError(400, 'BadRequestError', code, description);
