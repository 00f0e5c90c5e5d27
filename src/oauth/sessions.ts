/**
 * Whether a user's session still stands at this tenant: the user's own rule
 * (identity/user-sessions.ts: gone, blocked, or a password change or a
 * block since the sign-in, issue #11 point 5) and the catalog's: the user's
 * connection is still served (a connection the file no longer declares
 * signs no one in, DESIGN.md §2, issue #11 point 9). Every place that
 * accepts a user's token asks here: userinfo, introspection, the
 * authenticators API, the MFA API's mfa_token, the MFA grants.
 */
import {
  activeUserOfAccessToken,
  sessionRefusal,
  type AccessTokenClaims,
  type AccessTokenHolder,
  type SessionRefusal,
} from '../identity/user-sessions.js';
import type { UserRecord, UserStore } from '../storage/stores.js';
import { servedConnectionOf, type Tenant } from '../domain/tenant.js';
import { InvalidGrantError } from '../domain/errors.js';

/** Why a session of `user` that signed in at `signedInAt` no longer stands at `tenant`; undefined when it does. */
export function sessionRefusalAt(tenant: Tenant, user: UserRecord | undefined, signedInAt: Date | number): SessionRefusal | undefined {
  const refusal = sessionRefusal(user, signedInAt);
  if (refusal !== undefined || !user) return refusal ?? 'user_gone';
  return servedConnectionOf(tenant, user) ? undefined : 'connection_removed';
}

/** The holder of a verified access token, with both rules applied (see activeUserOfAccessToken). */
export async function accessTokenHolderAt(
  users: Pick<UserStore, 'findById'>,
  tenant: Tenant,
  claims: AccessTokenClaims,
): Promise<AccessTokenHolder> {
  const holder = await activeUserOfAccessToken(users, tenant.id, claims);
  if (holder.kind === 'user' && !servedConnectionOf(tenant, holder.user)) return { kind: 'inactive', reason: 'connection_removed' };
  return holder;
}

/**
 * The user of a sign-in in progress (what an mfa_token carries): refused
 * with invalid_grant once that sign-in no longer stands. `what` names the
 * request in the log detail (`MFA request`, `mfa grant`).
 */
export async function userOfSignInInProgress(
  users: Pick<UserStore, 'findById'>,
  tenant: Tenant,
  signIn: { userId: string; authTime: number },
  what: string,
): Promise<UserRecord> {
  const user = await users.findById(tenant.id, signIn.userId);
  const ended = sessionRefusalAt(tenant, user, new Date(signIn.authTime));
  if (ended !== undefined || !user) {
    const logDetail = `${what} for user ${signIn.userId}: ${ended ?? 'user_gone'}`;
    throw new InvalidGrantError('The user can no longer sign in.', { logDetail });
  }
  return user;
}
