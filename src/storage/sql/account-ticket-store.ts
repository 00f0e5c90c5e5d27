import type { Kysely, Selectable } from 'kysely';
import type { AccountTicketKind, AccountTicketRecord, AccountTicketStore } from '../account-tickets.js';
import type { AccountTicketsTable, Database } from '../schema.js';
import { fromIso, fromIsoOrNull, toIso } from './time.js';

export class SqlAccountTicketStore implements AccountTicketStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(ticket: Omit<AccountTicketRecord, 'usedAt'>): Promise<void> {
    await this.db
      .insertInto('account_tickets')
      .values({
        ticket_hash: ticket.ticketHash,
        tenant_id: ticket.tenantId,
        user_id: ticket.userId,
        kind: ticket.kind,
        created_at: toIso(ticket.createdAt),
        expires_at: toIso(ticket.expiresAt),
        used_at: null,
        result_url: ticket.onSpent?.resultUrl ?? null,
        mark_email_verified: ticket.onSpent?.markEmailVerified ? 1 : 0,
        email_in_redirect: ticket.onSpent?.emailInRedirect ? 1 : 0,
      })
      .execute();
  }

  async find(tenantId: string, kind: AccountTicketKind, ticketHash: string): Promise<AccountTicketRecord | undefined> {
    const row = await this.db
      .selectFrom('account_tickets')
      .selectAll()
      .where('ticket_hash', '=', ticketHash)
      .where('tenant_id', '=', tenantId)
      .where('kind', '=', kind)
      .executeTakeFirst();
    return row === undefined ? undefined : ticketOf(row);
  }

  async consume(tenantId: string, kind: AccountTicketKind, ticketHash: string, now: Date): Promise<boolean> {
    // The conditional UPDATE is the arbiter on both engines: a second writer re-checks `used_at IS NULL` after the
    // first commits and updates nothing.
    const result = await this.db
      .updateTable('account_tickets')
      .set({ used_at: toIso(now) })
      .where('ticket_hash', '=', ticketHash)
      .where('tenant_id', '=', tenantId)
      .where('kind', '=', kind)
      .where('used_at', 'is', null)
      .where('expires_at', '>', toIso(now))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}

function ticketOf(row: Selectable<AccountTicketsTable>): AccountTicketRecord {
  return {
    ticketHash: row.ticket_hash,
    tenantId: row.tenant_id,
    userId: row.user_id,
    kind: row.kind as AccountTicketKind,
    createdAt: fromIso(row.created_at),
    expiresAt: fromIso(row.expires_at),
    usedAt: fromIsoOrNull(row.used_at),
    ...(row.result_url === null && Number(row.mark_email_verified) === 0
      ? {}
      : {
          onSpent: {
            resultUrl: row.result_url,
            markEmailVerified: Number(row.mark_email_verified) === 1,
            emailInRedirect: Number(row.email_in_redirect) === 1,
          },
        }),
  };
}
