/**
 * The extension point for checking a user's credentials (STYLE.md §6).
 *
 * A source answers one of three outcomes: `verified` (the password is right;
 * the user signs in unless the core's own policies refuse), `rejected` (wrong
 * password, unknown user, no password: the same invalid_grant for all, and a
 * failed attempt counted) or `refused` (the password is right, but the
 * directory refuses the sign-in, and says why). The caller fails closed:
 * only `verified` with a user signs anyone in; any other answer is refused
 * as `rejected` is, and logged as the source's fault.
 *
 * A throw is not a verdict but a dependency failure (the directory down, the
 * hash queue full): the attempt is refunded, as the password was never
 * judged, and the error answers the client as it is (503
 * temporarily_unavailable for a directory that did not answer, 429 or 503
 * for a busy server).
 *
 * Blocked-user checks, the dummy verify for unknown users and audit events
 * stay in the core, so no source can weaken them.
 */
import type { ConnectionRecord, UserRecord } from '../storage/stores.js';

/** What a directory may say about a right password it still refuses: told to the client, as PingFederate's LDAP validator does. */
export type DirectoryRefusal = 'password_expired' | 'password_change_required' | 'account_locked';

export type CredentialResult =
  | { outcome: 'verified'; user: UserRecord }
  /**
   * `reason` and `userId` (when the login names a user) are for the log and
   * security events only; the client always sees the same invalid_grant.
   */
  | { outcome: 'rejected'; reason: 'unknown_user' | 'wrong_password' | 'no_password'; userId?: string }
  /** The password was right, but the directory refuses the sign-in for this reason. */
  | { outcome: 'refused'; reason: DirectoryRefusal; user: UserRecord };

export interface CredentialSource {
  readonly type: string;
  verify(input: {
    tenantId: string;
    connectionId: string;
    connection: ConnectionRecord;
    username: string;
    password: string;
    clientId: string;
    ip: string;
  }): Promise<CredentialResult>;
}
