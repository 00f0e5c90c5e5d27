/**
 * When a user's sessions end, and whether one still stands (issue #11
 * point 5). A session is a refresh-token family and the access tokens issued
 * from its sign-in.
 *
 * - A password change and a block end every session of the user: each
 *   refresh-token family is revoked (RFC 9700 §4.14.2 allows revoking on
 *   such security events; DESIGN.md §8 requires it for a password change),
 *   and the change is stamped on the user (`password_changed_at`,
 *   `blocked_at`, which unblocking keeps), so lifting a block revives nothing.
 * - Whatever checks a session (the refresh grant, introspection, userinfo,
 *   the MFA API) refuses one whose user is gone or blocked, or whose sign-in
 *   predates the user's last password change or last block. That also covers
 *   a revocation that was missed (a crash between the two writes below).
 *   RFC 7662 §2.2: "active" means usable now, so introspection applies the
 *   rule too.
 */
import type { RefreshTokenStore, UserRecord, UserStore } from '../storage/stores.js';

/** Why a session no longer stands (`connection_removed`: oauth/sessions.ts adds the catalog's rule). */
export type SessionRefusal = 'user_gone' | 'user_blocked' | 'password_changed' | 'blocked_since_sign_in' | 'connection_removed';

/**
 * Whether a sign-in happened before `instant` (a password change, a block).
 *
 * - A `Date` (a refresh-token family's auth_time, stored to the millisecond)
 *   is compared exactly.
 * - A number is a JWT NumericDate (whole seconds, RFC 7519 §2) from an
 *   access token. It counts as before only when its second is earlier than
 *   the second of `instant`. A token from that same second is accepted:
 *   refusing it would refuse, for its whole lifetime, the token of a sign-in
 *   made right after a password change (a reset page that signs the user in
 *   at once), which Keycloak's not-before rule also avoids. The residue is
 *   an access token issued in the fraction of a second before the change;
 *   its refresh token is revoked all the same.
 *
 * Instants from different machines are compared, so nodes need synchronised
 * clocks (NTP), as token expiry already does.
 */
export function signedInBefore(instant: Date | null, signedInAt: Date | number): boolean {
  if (instant === null) return false;
  if (typeof signedInAt === 'number') return signedInAt < Math.floor(instant.getTime() / 1000);
  return signedInAt.getTime() < instant.getTime();
}

/** Why a session of `user` that signed in at `signedInAt` (see signedInBefore) no longer stands; undefined when it does. */
export function sessionRefusal(user: UserRecord | undefined, signedInAt: Date | number): SessionRefusal | undefined {
  if (!user) return 'user_gone';
  if (user.blocked) return 'user_blocked';
  if (signedInBefore(user.passwordChangedAt, signedInAt)) return 'password_changed';
  if (signedInBefore(user.blockedAt, signedInAt)) return 'blocked_since_sign_in';
  return undefined;
}

/** The claims of a verified access token that name its holder and its sign-in (RFC 9068 §2.2). */
export interface AccessTokenClaims {
  sub: string;
  client_id: string;
  iat?: number | undefined;
  auth_time?: unknown;
}

export type AccessTokenHolder =
  /** A user's token whose user is still active. */
  | { kind: 'user'; user: UserRecord }
  /** A client_credentials token: it names the client, and no user. */
  | { kind: 'client' }
  /** A user's token that no longer stands. */
  | { kind: 'inactive'; reason: SessionRefusal };

/**
 * Is this access token's user still active? For every endpoint that accepts
 * a user's access token (userinfo, introspection, the MFA API), after the
 * token itself was verified (AccessTokenVerifier: signature, expiry,
 * revocation). A JWT stays valid until it expires; this is what ends it
 * earlier at this server when the user is blocked or deleted, or changes
 * their password.
 */
export async function activeUserOfAccessToken(
  users: Pick<UserStore, 'findById'>,
  tenantId: string,
  claims: AccessTokenClaims,
): Promise<AccessTokenHolder> {
  // token-service.ts: a client's token has sub = client_id and no auth_time; a user's always has auth_time.
  if (claims.sub === claims.client_id && claims.auth_time === undefined) return { kind: 'client' };
  const user = await users.findById(tenantId, claims.sub);
  // auth_time is when the sign-in was (a refreshed token keeps its family's), never later than iat.
  // Neither present: the sign-in's time is unknown, so it counts as before any change (fail closed).
  const signedInAt = typeof claims.auth_time === 'number' ? claims.auth_time : (claims.iat ?? Number.NEGATIVE_INFINITY);
  const refusal = sessionRefusal(user, signedInAt);
  if (refusal !== undefined || !user) return { kind: 'inactive', reason: refusal ?? 'user_gone' };
  return { kind: 'user', user };
}

/** The stores a session-ending change writes to. */
export interface SessionStores {
  users: Pick<UserStore, 'setPasswordHash' | 'setBlocked'>;
  refreshTokens: Pick<RefreshTokenStore, 'revokeAllForUser'>;
}

/**
 * Stores a new password hash and ends every session of the user. Returns
 * how many refresh-token families were revoked. Callers go through
 * AccountLifecycle (identity/account-lifecycle.ts), or config apply, which
 * runs before it exists.
 */
export async function commitPasswordChange(
  stores: SessionStores,
  user: Pick<UserRecord, 'id' | 'tenantId'>,
  passwordHash: string,
  now: Date,
): Promise<number> {
  // The stamp first: from this instant every check refuses older sessions, so a crash before the revocation still fails closed.
  await stores.users.setPasswordHash(user.id, passwordHash, { passwordChangedAt: now });
  return stores.refreshTokens.revokeAllForUser(user.tenantId, user.id, now);
}

/** Blocks the user and ends every session, so that lifting the block later revives none. Returns how many families were revoked. */
export async function commitBlock(stores: SessionStores, user: Pick<UserRecord, 'id' | 'tenantId'>, now: Date): Promise<number> {
  // The block (and its stamp) first: from this instant every check refuses older sessions, even after an unblock,
  // so a crash before the revocation still fails closed.
  await stores.users.setBlocked(user.id, true, now);
  return stores.refreshTokens.revokeAllForUser(user.tenantId, user.id, now);
}
