/**
 * The device grant's polling answers (RFC 8628 §3.5), as typed errors. Each
 * is a token error response (RFC 6749 §5.2, status 400). The Entra dialect
 * renames two of them at the edge (http/dialects.ts): the grant says what
 * happened, not how a provider spells it.
 */
import { InvalidGrantError, OAuthError, type OAuthErrorOptions } from './errors.js';

/** The person has not yet confirmed or denied: poll again after `interval`. */
export class AuthorizationPendingError extends OAuthError {
  constructor() {
    super('authorization_pending', 400, 'The user has not yet confirmed this device; poll again after the interval.');
  }
}

/** Still pending, and polled faster than the interval: the interval grows by 5 seconds (RFC 8628 §3.5). */
export class SlowDownError extends OAuthError {
  constructor(intervalSeconds: number, options?: OAuthErrorOptions) {
    super('slow_down', 400, `Polling too fast; wait at least ${intervalSeconds} seconds between requests.`, options);
  }
}

/** The device code's lifetime (`device_flow.expires_in`) ended before a token was issued. */
export class ExpiredTokenError extends OAuthError {
  constructor(options?: OAuthErrorOptions) {
    super('expired_token', 400, 'The device code has expired; start the sign-in on the device again.', options);
  }
}

/** The person denied the request on the verification page, or a post-login hook refused it. Entra: `authorization_declined`. */
export class DeviceAccessDeniedError extends OAuthError {
  constructor(options?: OAuthErrorOptions) {
    super('access_denied', 400, 'The user denied this device.', options);
  }
}

/** A device code this server never issued (or no longer knows). Entra: `bad_verification_code`. */
export class UnknownDeviceCodeError extends InvalidGrantError {
  constructor(options?: OAuthErrorOptions) {
    super('The device code is invalid, expired or already used.', options);
  }
}
