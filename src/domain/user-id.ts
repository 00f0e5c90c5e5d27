/**
 * User ids as the Management API receives them. Latchkey's id is the token
 * `sub` (a UUID); Auth0 writes a database user's id `auth0|<id>`, and
 * scripts written for Auth0 send it so: both name the same user.
 */
const AUTH0_DATABASE_PREFIX = 'auth0|';

export function userIdOf(id: string): string {
  return id.startsWith(AUTH0_DATABASE_PREFIX) ? id.slice(AUTH0_DATABASE_PREFIX.length) : id;
}
