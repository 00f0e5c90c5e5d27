/**
 * Password changes and blocks, by whichever path they come (the CLI, the
 * configuration file, and later the password-reset page and the Management
 * API, DESIGN.md §8–§9): one place that ends the user's sessions
 * (user-sessions.ts), lifts a changed password's brute-force locks and
 * records the security event.
 */
import type { Clock } from '../clock.js';
import type { Tenant } from '../domain/tenant.js';
import type { AttackProtection } from '../protection/attack-protection.js';
import type { SecurityEvents } from '../observability/security-events.js';
import type { ConnectionRecord, RefreshTokenStore, UserRecord, UserStore } from '../storage/stores.js';
import { hashPassword } from './passwords.js';
import { checkNewPassword, PasswordPolicyError } from './user-admin.js';
import { commitBlock, commitPasswordChange } from './user-sessions.js';

/** Who made the change: the security event's reason (docs/operations.md). */
export type AccountChangeSource = 'cli' | 'config' | 'password_reset' | 'management_api';

export interface AccountLifecycleDeps {
  users: UserStore;
  refreshTokens: RefreshTokenStore;
  attackProtection: Pick<AttackProtection, 'unblock'>;
  securityEvents: Pick<SecurityEvents, 'record'>;
  clock: Clock;
}

/** The user an event names, and the login names whose locks a new password lifts. */
export type AccountSubject = Pick<UserRecord, 'id' | 'username'> & { email?: string | null | undefined };

export interface PasswordChangeOutcome {
  refreshTokensRevoked: number;
  locksCleared: number;
}

export class AccountLifecycle {
  constructor(private readonly deps: AccountLifecycleDeps) {}

  /**
   * Replaces the user's password: checked against the connection's policy
   * (a refusal throws PasswordPolicyError and is recorded), stored as a new
   * hash, every session ended, the login name's brute-force locks lifted.
   */
  async changePassword(
    tenant: Tenant,
    connection: ConnectionRecord,
    user: UserRecord,
    password: string,
    source: AccountChangeSource,
  ): Promise<PasswordChangeOutcome> {
    try {
      checkNewPassword(connection.passwordPolicy, password);
    } catch (err) {
      await this.recordPolicyRefusal(tenant, connection, user.username, err, 'change', user.id);
      throw err;
    }
    const refreshTokensRevoked = await commitPasswordChange(this.deps, user, await hashPassword(password), this.deps.clock.now());
    const locksCleared = await this.passwordChanged(tenant, connection, user, refreshTokensRevoked, source);
    return { refreshTokensRevoked, locksCleared };
  }

  /**
   * What follows a stored password change: the event, and the brute-force
   * locks of the user's login names lifted. changePassword calls it; so does
   * the start-up for a password the configuration file changed (config apply
   * stores it before these services exist). Returns how many locks ended.
   */
  async passwordChanged(
    tenant: Tenant,
    connection: ConnectionRecord,
    user: AccountSubject,
    refreshTokensRevoked: number,
    source: AccountChangeSource,
  ): Promise<number> {
    await this.recordSessionsEnded('password_changed', tenant, connection, user, refreshTokensRevoked, source);
    const loginNames = [user.username, ...(user.email ? [user.email] : [])];
    return this.deps.attackProtection.unblock(tenant, connection, loginNames, 'password_changed', user.id);
  }

  /**
   * A new password the connection's policy refused (creating, importing or
   * changing) is a security event too: the rule, never the password.
   * Anything but a PasswordPolicyError is not recorded.
   */
  async recordPolicyRefusal(
    tenant: Tenant,
    connection: ConnectionRecord,
    identifier: string,
    err: unknown,
    operation: 'create' | 'import' | 'change',
    userId?: string,
  ): Promise<void> {
    if (!(err instanceof PasswordPolicyError)) return;
    await this.deps.securityEvents.record({
      type: 'password_policy_refused',
      reason: err.rule,
      tenantId: tenant.id,
      connection: connection.name,
      userId,
      identifier,
      details: { operation },
    });
  }

  /** Blocks the user and ends every session, so that lifting the block later revives none. Returns how many families were revoked. */
  async block(tenant: Tenant, connection: ConnectionRecord, user: UserRecord, source: AccountChangeSource): Promise<number> {
    const refreshTokensRevoked = await commitBlock(this.deps, user, this.deps.clock.now());
    await this.blocked(tenant, connection, user, refreshTokensRevoked, source);
    return refreshTokensRevoked;
  }

  /** The event of a stored block (block() calls it; the start-up too, for a block the configuration file added). */
  async blocked(
    tenant: Tenant,
    connection: ConnectionRecord,
    user: AccountSubject,
    refreshTokensRevoked: number,
    source: AccountChangeSource,
  ): Promise<void> {
    await this.recordSessionsEnded('user_blocked', tenant, connection, user, refreshTokensRevoked, source);
  }

  private async recordSessionsEnded(
    type: 'password_changed' | 'user_blocked',
    tenant: Tenant,
    connection: ConnectionRecord,
    user: AccountSubject,
    refreshTokensRevoked: number,
    source: AccountChangeSource,
  ): Promise<void> {
    await this.deps.securityEvents.record({
      type,
      reason: source,
      tenantId: tenant.id,
      connection: connection.name,
      userId: user.id,
      identifier: user.username,
      details: { refresh_token_families_revoked: refreshTokensRevoked },
    });
  }
}
