import { sql, type Kysely } from 'kysely';

/** The catalog tables the configuration file declares (DESIGN.md §2, §9). */
const DECLARABLE_TABLES = ['tenants', 'connections', 'apis', 'applications'] as const;

// Portable DDL only: the same migration runs on SQLite and PostgreSQL.
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const table of DECLARABLE_TABLES) {
    // managed_by_config: the file declared the row (the Management API of issue #15 refuses to change those, 409
    // managed_by_config); rows it creates itself get 0. disabled_at: the start at which the file stopped declaring it;
    // such a row is kept (its users, its tokens' history) but not served.
    await db.schema
      .alterTable(table)
      .addColumn('managed_by_config', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.alterTable(table).addColumn('disabled_at', 'text').execute();
    // Until now only the file created catalog rows.
    await sql`update ${sql.table(table)} set managed_by_config = 1`.execute(db);
  }

  // Auth0's client grants: which API an application may call with client_credentials, and with which scopes.
  await db.schema
    .createTable('client_grants')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('audience', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull()) // JSON array of scope names
    .addColumn('managed_by_config', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('disabled_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('client_grants_tenant_client_audience_unique', ['tenant_id', 'client_id', 'audience'])
    .execute();

  // Removing an application revokes its refresh-token families in one indexed UPDATE.
  await db.schema
    .createIndex('refresh_token_families_client_idx')
    .on('refresh_token_families')
    .columns(['tenant_id', 'client_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('refresh_token_families_client_idx').execute();
  await db.schema.dropTable('client_grants').execute();
  for (const table of DECLARABLE_TABLES) {
    await db.schema.alterTable(table).dropColumn('disabled_at').execute();
    await db.schema.alterTable(table).dropColumn('managed_by_config').execute();
  }
}
