import type { Kysely } from 'kysely';

// Portable DDL only: the same migration runs on SQLite and PostgreSQL.
export async function up(db: Kysely<unknown>): Promise<void> {
  // A directory user's groups (JSON array of names), refreshed at each login; null for users without a directory.
  await db.schema.alterTable('users').addColumn('groups', 'text').execute();
  // How the family's first login was authenticated (JSON array of amr values), so refreshes keep `amr` and hooks see it.
  await db.schema.alterTable('refresh_token_families').addColumn('amr', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('refresh_token_families').dropColumn('amr').execute();
  await db.schema.alterTable('users').dropColumn('groups').execute();
}
