/**
 * How a login name is compared: case-insensitive and compatibility-normalised
 * (NFKC), as Auth0's are. The user store keys its lookups on it and the
 * lockout counters key on it, so `Alice` and `alice` are one user and one lock.
 */
export function loginKey(login: string): string {
  return login.normalize('NFKC').toLowerCase();
}
