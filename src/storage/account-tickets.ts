/**
 * Storage contract of the account tickets (DESIGN.md §8): the single-use
 * links emailed for a password reset and for an email verification. Only
 * the ticket's SHA-256 (base64url) is stored; the link in the email holds
 * the value. Spending a ticket is one conditional statement, so of
 * concurrent presentations exactly one wins, on any node.
 */

export type AccountTicketKind = 'verify_email' | 'reset_password';

export interface AccountTicketRecord {
  ticketHash: string;
  tenantId: string;
  userId: string;
  kind: AccountTicketKind;
  createdAt: Date;
  expiresAt: Date;
  /** Set once, when the ticket is spent. */
  usedAt: Date | null;
  /** What a ticket made through the Management API asks for once spent (Auth0's ticket options); absent for emailed ones. */
  onSpent?: TicketRedirect;
}

export interface TicketRedirect {
  /** Where the page sends the user afterwards (Auth0's `result_url`). */
  resultUrl: string | null;
  /** A reset also marks the email verified (Auth0's `mark_email_as_verified`). */
  markEmailVerified: boolean;
  /** The redirect names the email (Auth0's `includeEmailInRedirect`). */
  emailInRedirect: boolean;
}

export interface AccountTicketStore {
  create(ticket: Omit<AccountTicketRecord, 'usedAt'>): Promise<void>;
  /** The ticket of that kind in that tenant, spent or not (the page tells a used link from an unknown one). */
  find(tenantId: string, kind: AccountTicketKind, ticketHash: string): Promise<AccountTicketRecord | undefined>;
  /**
   * Spends the ticket: true for exactly one caller, and only while it is
   * unused and unexpired at `now`; false for every other.
   */
  consume(tenantId: string, kind: AccountTicketKind, ticketHash: string, now: Date): Promise<boolean>;
}
