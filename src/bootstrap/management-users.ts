/**
 * The services behind the Management API's user endpoints (DESIGN.md §9,
 * http/management/users.ts), built from the ones the rest of the server
 * uses, so a change through the API has the consequences it has by every
 * other path.
 */
import type { Clock } from '../clock.js';
import type { UserEndpointsDeps } from '../http/management/users.js';
import type { AccountLifecycle } from '../identity/account-lifecycle.js';
import { ManagementLogs } from '../oauth/management/logs.js';
import { UserSecurity } from '../oauth/management/user-security.js';
import { UserManagement } from '../oauth/management/users.js';
import type { SecurityEvents } from '../observability/security-events.js';
import type { AttackProtection } from '../protection/attack-protection.js';
import type { Stores } from '../storage/stores.js';

export interface UserManagementInput {
  stores: Stores;
  accounts: AccountLifecycle;
  attackProtection: Pick<AttackProtection, 'unblock'>;
  securityEvents: SecurityEvents;
  clock: Clock;
}

export function createUserManagement({
  stores,
  accounts,
  attackProtection,
  securityEvents,
  clock,
}: UserManagementInput): UserEndpointsDeps {
  const { users, refreshTokens, mfa } = stores;
  return {
    users: new UserManagement({
      users,
      lifecycle: accounts,
      deletion: { users, refreshTokens, mfa, securityEvents, clock },
      clock,
    }),
    security: new UserSecurity({ attackLocks: stores.attackLocks, attackProtection, mfa, refreshTokens, securityEvents, clock }),
    logs: new ManagementLogs(stores.securityEvents),
  };
}
