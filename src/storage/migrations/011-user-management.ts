import { PostgresAdapter, sql, type Kysely } from 'kysely';
import { loginKey } from '../../domain/login-key.js';

/** Rows read and rewritten at a time when the name keys are filled in. */
const BACKFILL_BATCH = 1000;

// The Management API's users (issue #15, DESIGN.md §9). DDL is portable except for one PostgreSQL statement below.
export async function up(db: Kysely<unknown>): Promise<void> {
  // Auth0's user object: metadata as JSON text (objects), how many times the user signed in.
  await db.schema.alterTable('users').addColumn('user_metadata', 'text').execute();
  await db.schema.alterTable('users').addColumn('app_metadata', 'text').execute();
  await db.schema
    .alterTable('users')
    .addColumn('logins_count', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  // The name as searched: loginKey(name), so `q` matches names case-insensitively as it does usernames and emails.
  await db.schema.alterTable('users').addColumn('name_key', 'text').execute();
  await fillNameKeys(db);

  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    // A search prefix is an index range [prefix, next prefix). That range holds exactly the keys starting with the
    // prefix only in code-point order: SQLite's default (BINARY) always, PostgreSQL's only under the "C" collation
    // (a database created with a language's collation orders 'j-o' between 'jo' and 'jp'). The key columns are
    // compared for equality and searched by prefix, never shown in order to people: bytewise costs nothing.
    for (const column of ['username_key', 'email_key', 'name_key'])
      await sql`ALTER TABLE users ALTER COLUMN ${sql.ref(column)} TYPE text COLLATE "C"`.execute(db);
  }
  // Tenant-wide lookups and prefix searches (users-by-email, `q`); the list itself is served by the
  // (tenant_id, connection_id, username_key) unique index, whose order it uses.
  await db.schema.createIndex('users_tenant_email_idx').on('users').columns(['tenant_id', 'email_key']).execute();
  await db.schema.createIndex('users_tenant_username_idx').on('users').columns(['tenant_id', 'username_key']).execute();
  await db.schema.createIndex('users_tenant_name_idx').on('users').columns(['tenant_id', 'name_key']).execute();
  // A user's logs (GET /users/{id}/logs), newest first.
  await db.schema.createIndex('security_events_user_idx').on('security_events').columns(['tenant_id', 'user_id', 'at']).execute();
}

/** loginKey is NFKC and Unicode lower case, which neither engine's lower() does the same way: filled in here. */
async function fillNameKeys(db: Kysely<unknown>): Promise<void> {
  const users = db as unknown as Kysely<{ users: { id: string; name: string | null; name_key: string | null } }>;
  for (;;) {
    const rows = await users
      .selectFrom('users')
      .select(['id', 'name'])
      .where('name', 'is not', null)
      .where('name_key', 'is', null)
      .limit(BACKFILL_BATCH)
      .execute();
    for (const row of rows)
      await users
        .updateTable('users')
        .set({ name_key: loginKey(row.name ?? '') })
        .where('id', '=', row.id)
        .execute();
    if (rows.length < BACKFILL_BATCH) return;
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('security_events_user_idx').execute();
  for (const index of ['users_tenant_name_idx', 'users_tenant_username_idx', 'users_tenant_email_idx'])
    await db.schema.dropIndex(index).execute();
  for (const column of ['name_key', 'logins_count', 'app_metadata', 'user_metadata'])
    await db.schema.alterTable('users').dropColumn(column).execute();
}
