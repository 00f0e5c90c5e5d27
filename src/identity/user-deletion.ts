/**
 * Deleting a user (`latchkey users delete`, and the Management API's
 * `DELETE /users/{id}` later, DESIGN.md §9): what the user could still use is
 * ended before the row goes, so nothing outlives it. Their refresh-token
 * families are revoked (RFC 9700 §4.14.2, as a block does), their second
 * factors and recovery code removed, then the user row, and the deletion is
 * recorded as a security event `user_deleted` (docs/operations.md). With
 * the row gone, browser sessions end at their next use and userinfo and
 * introspection call the user's access tokens inactive (`user_gone`,
 * identity/user-sessions.ts); an API verifying them itself accepts them until
 * they expire, as after a block.
 */
import type { Clock } from '../clock.js';
import type { Tenant } from '../domain/tenant.js';
import type { SecurityEvents } from '../observability/security-events.js';
import type { MfaStore, RefreshTokenStore, UserRecord, UserStore } from '../storage/stores.js';
import type { AccountChangeSource } from './account-lifecycle.js';

export interface UserDeletionDeps {
  users: Pick<UserStore, 'delete'>;
  refreshTokens: Pick<RefreshTokenStore, 'revokeAllForUser'>;
  mfa: Pick<MfaStore, 'removeAllAuthenticators'>;
  securityEvents: Pick<SecurityEvents, 'record'>;
  clock: Clock;
}

export interface UserDeletionOutcome {
  refreshTokensRevoked: number;
  authenticatorsRemoved: number;
}

export async function deleteUser(
  deps: UserDeletionDeps,
  tenant: Tenant,
  /** The connection's name for the event (a user of a connection no longer served can be deleted too). */
  connection: string,
  user: UserRecord,
  source: AccountChangeSource,
): Promise<UserDeletionOutcome> {
  const refreshTokensRevoked = await deps.refreshTokens.revokeAllForUser(tenant.id, user.id, deps.clock.now());
  const authenticatorsRemoved = await deps.mfa.removeAllAuthenticators(tenant.id, user.id);
  await deps.users.delete(tenant.id, user.id);
  await deps.securityEvents.record({
    type: 'user_deleted',
    reason: source,
    tenantId: tenant.id,
    connection,
    userId: user.id,
    identifier: user.username,
    details: { refresh_token_families_revoked: refreshTokensRevoked, mfa_authenticators_removed: authenticatorsRemoved },
  });
  return { refreshTokensRevoked, authenticatorsRemoved };
}
