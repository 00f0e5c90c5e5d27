import type { Kysely } from 'kysely';

// Portable DDL only: the same migration runs on SQLite and PostgreSQL. The user-import jobs of issue #15 point 4
// (storage/import-jobs.ts): counts and the first per-row errors (JSON text); the rows themselves stay in memory.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('import_jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('connection_id', 'text', (c) => c.notNull())
    .addColumn('connection_name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull()) // pending | processing | completed | failed
    .addColumn('upsert', 'integer', (c) => c.notNull())
    .addColumn('external_id', 'text')
    .addColumn('total', 'integer', (c) => c.notNull())
    .addColumn('inserted', 'integer', (c) => c.notNull())
    .addColumn('updated', 'integer', (c) => c.notNull())
    .addColumn('failed', 'integer', (c) => c.notNull())
    .addColumn('errors', 'text', (c) => c.notNull())
    .addColumn('status_details', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  // The limit on a tenant's jobs at once, the start-up's search for abandoned jobs and the purge read by status.
  await db.schema.createIndex('import_jobs_status_idx').on('import_jobs').columns(['status', 'tenant_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('import_jobs_status_idx').execute();
  await db.schema.dropTable('import_jobs').execute();
}
