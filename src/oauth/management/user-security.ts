/**
 * What stands between a user and a sign-in, through the Management API
 * (DESIGN.md §9): the brute-force locks (Auth0's user blocks, by login name
 * or by user), the second factors (authentication methods), and the
 * refresh-token families. Lifting locks and removing factors go through the
 * services the CLI uses, and record the same security events.
 */
import type { Clock } from '../../clock.js';
import type { Tenant } from '../../domain/tenant.js';
import type { SecurityEvents } from '../../observability/security-events.js';
import type { AttackProtection } from '../../protection/attack-protection.js';
import { identifierKeyOf } from '../../protection/login-scopes.js';
import type { AttackLockStore, MfaAuthenticator, MfaStore, RefreshTokenFamily, RefreshTokenStore } from '../../storage/stores.js';
import type { ManagedUser } from './users.js';

export interface UserSecurityDeps {
  attackLocks: Pick<AttackLockStore, 'listForIdentifier'>;
  attackProtection: Pick<AttackProtection, 'unblock'>;
  mfa: Pick<MfaStore, 'listAuthenticators' | 'recoveryCodeHash' | 'removeAllAuthenticators'>;
  refreshTokens: Pick<RefreshTokenStore, 'listLiveForUser' | 'revokeAllForUser'>;
  securityEvents: Pick<SecurityEvents, 'record'>;
  clock: Clock;
}

/** A lock in force: `ip` absent for the all-IP backstop. */
export interface LoginBlock {
  identifier: string;
  ip?: string;
  connection: string;
}

export interface AuthenticationMethods {
  factors: MfaAuthenticator[];
  hasRecoveryCode: boolean;
}

export class UserSecurity {
  constructor(private readonly deps: UserSecurityDeps) {}

  /** The locks of a login name, in every connection of the tenant (Auth0's `identifier` names no connection). */
  async blocksOfIdentifier(tenant: Tenant, identifier: string): Promise<LoginBlock[]> {
    const blocks: LoginBlock[] = [];
    for (const connection of tenant.connections.values())
      blocks.push(...(await this.locksOf(tenant, connection.id, connection.name, [identifier])));
    return blocks;
  }

  /** Lifts the locks of a login name in every connection; answers how many were in force. */
  async unblockIdentifier(tenant: Tenant, identifier: string): Promise<number> {
    let cleared = 0;
    for (const connection of tenant.connections.values())
      cleared += await this.deps.attackProtection.unblock(tenant, connection, [identifier], 'operator');
    return cleared;
  }

  /** The locks of the user's login names (username and email) in their connection. */
  async blocksOfUser(tenant: Tenant, { user, connection }: ManagedUser): Promise<LoginBlock[]> {
    if (!connection) return [];
    return this.locksOf(tenant, connection.id, connection.name, loginNamesOf(user));
  }

  async unblockUser(tenant: Tenant, { user, connection }: ManagedUser): Promise<number> {
    if (!connection) return 0;
    return this.deps.attackProtection.unblock(tenant, connection, loginNamesOf(user), 'operator', user.id);
  }

  async authenticationMethods(tenant: Tenant, { user }: ManagedUser): Promise<AuthenticationMethods> {
    const [factors, recoveryCode] = await Promise.all([
      this.deps.mfa.listAuthenticators(tenant.id, user.id),
      this.deps.mfa.recoveryCodeHash(tenant.id, user.id),
    ]);
    return { factors, hasRecoveryCode: recoveryCode !== undefined && factors.length > 0 };
  }

  /** Every factor and the recovery code go, as `latchkey users mfa reset` does; the user enrolls again when policy asks. */
  async removeAuthenticators(tenant: Tenant, { user, connection }: ManagedUser): Promise<number> {
    const removed = await this.deps.mfa.removeAllAuthenticators(tenant.id, user.id);
    await this.deps.securityEvents.record({
      type: 'mfa_authenticator_removed',
      reason: 'operator_reset',
      tenantId: tenant.id,
      connection: connection?.name,
      userId: user.id,
      details: { removed },
    });
    return removed;
  }

  async refreshTokens(tenant: Tenant, { user }: ManagedUser, page: { offset: number; limit: number }): Promise<RefreshTokenFamily[]> {
    return this.deps.refreshTokens.listLiveForUser(tenant.id, user.id, this.deps.clock.now(), page);
  }

  /** RFC 9700 §4.14.2 by hand: every family of the user ends, as a password change would end them. */
  async revokeRefreshTokens(tenant: Tenant, { user }: ManagedUser): Promise<number> {
    return this.deps.refreshTokens.revokeAllForUser(tenant.id, user.id, this.deps.clock.now());
  }

  private async locksOf(tenant: Tenant, connectionId: string, connectionName: string, identifiers: string[]): Promise<LoginBlock[]> {
    const now = this.deps.clock.now();
    const blocks: LoginBlock[] = [];
    for (const key of new Set(identifiers.map((identifier) => identifierKeyOf(connectionId, identifier)))) {
      for (const lock of await this.deps.attackLocks.listForIdentifier(tenant.id, connectionId, key, now))
        blocks.push({ identifier: lock.identifier, ...(lock.ip === null ? {} : { ip: lock.ip }), connection: connectionName });
    }
    return blocks;
  }
}

function loginNamesOf(user: ManagedUser['user']): string[] {
  return [user.username, ...(user.email === null ? [] : [user.email])];
}
