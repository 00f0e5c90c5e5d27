/**
 * Tickets through the Management API (`POST /tickets/password-change`,
 * `POST /tickets/email-verification`, DESIGN.md §9): a link to the same
 * reset and verification pages the account emails lead to (DESIGN.md §8,
 * oauth/accounts/accounts.ts), single-use and stored as a hash. As Auth0,
 * nothing is sent: the caller gets the link and delivers it.
 *
 * Auth0's options are kept with the ticket and honoured when it is spent:
 * `result_url` (the page redirects there, with `success` and `message`),
 * `includeEmailInRedirect`, and for a reset `mark_email_as_verified`.
 * `ttl_sec` absent or 0 is Auth0's 5 days.
 */
import { userIdOf } from '../../domain/user-id.js';
import { badRequest, type ManagementApiError, notFound } from '../../domain/management-errors.js';
import { servedConnectionOf, type Tenant } from '../../domain/tenant.js';
import type { TicketRedirect } from '../../storage/account-tickets.js';
import type { UserRecord, UserStore } from '../../storage/stores.js';
import type { Accounts } from '../accounts/accounts.js';

/** Auth0's default when `ttl_sec` is absent or 0: 432,000 s. */
export const DEFAULT_TICKET_TTL_SECONDS = 5 * 86_400;
/** Auth0 documents no ceiling; a month bounds how long a leaked link works. */
export const MAX_TICKET_TTL_SECONDS = 30 * 86_400;

export interface TicketOptions {
  resultUrl?: string | undefined;
  ttlSec?: number | undefined;
  includeEmailInRedirect?: boolean | undefined;
}

export type PasswordChangeTicketRequest = TicketOptions & {
  markEmailAsVerified?: boolean | undefined;
} & ({ userId: string; email?: undefined; connectionId?: undefined } | { userId?: undefined; email: string; connectionId: string });

export interface UserTicketsDeps {
  users: Pick<UserStore, 'findById' | 'findByLogin'>;
  accounts: Pick<Accounts, 'issueTicket'>;
}

export class UserTickets {
  constructor(private readonly deps: UserTicketsDeps) {}

  /** The reset page's link for the user, named by id or by email in a database connection. */
  async passwordChange(tenant: Tenant, request: PasswordChangeTicketRequest): Promise<string> {
    const user = request.userId !== undefined ? await this.userById(tenant, request.userId) : await this.userByEmail(tenant, request);
    const connection = servedConnectionOf(tenant, user);
    if (connection?.type !== 'database') {
      // A directory (LDAP) or a custom credential validator holds that password, not Latchkey.
      throw badRequest(
        "The user's connection does not keep passwords in Latchkey: change the password where it is kept.",
        'operation_not_supported',
      );
    }
    return this.link(tenant, user, 'reset_password', request, request.markEmailAsVerified === true);
  }

  /** The verification link for the user's email. */
  async emailVerification(tenant: Tenant, request: TicketOptions & { userId: string }): Promise<string> {
    const user = await this.userById(tenant, request.userId);
    if (!user.email) throw badRequest('The user has no email address to verify.');
    return this.link(tenant, user, 'verify_email', request, false);
  }

  private async link(
    tenant: Tenant,
    user: UserRecord,
    kind: 'reset_password' | 'verify_email',
    options: TicketOptions,
    markEmailVerified: boolean,
  ): Promise<string> {
    const ttlSeconds = options.ttlSec === undefined || options.ttlSec === 0 ? DEFAULT_TICKET_TTL_SECONDS : options.ttlSec;
    if (ttlSeconds > MAX_TICKET_TTL_SECONDS) throw badRequest(`ttl_sec may be at most ${MAX_TICKET_TTL_SECONDS} (30 days).`);
    const onSpent: TicketRedirect = {
      resultUrl: options.resultUrl ?? null,
      markEmailVerified,
      emailInRedirect: options.includeEmailInRedirect === true,
    };
    const ticket = await this.deps.accounts.issueTicket(tenant, user, kind, ttlSeconds * 1000, onSpent);
    const page = kind === 'reset_password' ? 'reset-password' : 'verify-email';
    return `${tenant.endpoints.issuer}${page}?ticket=${ticket}`;
  }

  private async userById(tenant: Tenant, userId: string): Promise<UserRecord> {
    const user = await this.deps.users.findById(tenant.id, userIdOf(userId));
    if (!user) throw inexistentUser();
    return user;
  }

  private async userByEmail(tenant: Tenant, request: { email: string; connectionId: string }): Promise<UserRecord> {
    const connection = [...tenant.connections.values()].find((c) => c.id === request.connectionId);
    if (!connection) throw notFound('inexistent_connection', 'The connection does not exist.');
    const user = await this.deps.users.findByLogin(tenant.id, connection.id, request.email.trim().toLowerCase());
    // findByLogin also matches a username: only the address counts here.
    if (!user || user.email?.toLowerCase() !== request.email.trim().toLowerCase()) throw inexistentUser();
    return user;
  }
}

const inexistentUser = (): ManagementApiError => notFound('inexistent_user', 'The user does not exist.');
