import type { Kysely } from 'kysely';

// Portable DDL only: the same migration runs on SQLite and PostgreSQL. The account tickets of DESIGN.md §8
// (storage/account-tickets.ts): a password-reset or email-verification link, stored as its SHA-256, spent by one
// conditional UPDATE of used_at.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('account_tickets')
    .addColumn('ticket_hash', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull()) // verify_email | reset_password
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();
  // The purge of expired tickets reads by expiry.
  await db.schema.createIndex('account_tickets_expires_idx').on('account_tickets').column('expires_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('account_tickets_expires_idx').execute();
  await db.schema.dropTable('account_tickets').execute();
}
