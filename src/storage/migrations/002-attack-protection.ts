import type { Kysely } from 'kysely';

// Portable DDL only: the same migration runs on SQLite and PostgreSQL.
export async function up(db: Kysely<unknown>): Promise<void> {
  // rate-limiter-flexible's counters (storage/sql/rate-limiter.ts): points and an expiry in epoch milliseconds.
  await db.schema
    .createTable('attack_counters')
    .addColumn('key', 'text', (c) => c.primaryKey())
    // bigint: a token bucket keeps an epoch-millisecond time here (SQLite stores either type alike).
    .addColumn('points', 'bigint', (c) => c.notNull())
    .addColumn('expires_at_ms', 'bigint')
    .execute();
  await db.schema.createIndex('attack_counters_expiry_idx').on('attack_counters').column('expires_at_ms').execute();

  // One row per lock in force, so an operator can unblock an identifier from every IP at once.
  await db.schema
    .createTable('attack_locks')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('connection_id', 'text', (c) => c.notNull())
    .addColumn('identifier_key', 'text', (c) => c.notNull())
    .addColumn('identifier', 'text', (c) => c.notNull())
    /** The end-user IP (or IPv6 /64) of a per-IP lock; '' for the all-IP backstop. */
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('locked_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('attack_locks_pk', ['tenant_id', 'connection_id', 'identifier_key', 'ip'])
    .execute();

  await db.schema
    .createTable('security_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('client_id', 'text')
    .addColumn('connection', 'text')
    .addColumn('user_id', 'text')
    .addColumn('identifier', 'text')
    .addColumn('ip', 'text')
    .addColumn('details', 'text')
    .execute();
  await db.schema.createIndex('security_events_tenant_at_idx').on('security_events').columns(['tenant_id', 'at']).execute();
  await db.schema.createIndex('security_events_at_idx').on('security_events').column('at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['security_events', 'attack_locks', 'attack_counters']) await db.schema.dropTable(table).execute();
}
