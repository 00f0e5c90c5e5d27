import { sql, type Kysely } from 'kysely';

// Portable DDL only: the same migration runs on SQLite and PostgreSQL.
export async function up(db: Kysely<unknown>): Promise<void> {
  // When the user was last blocked (ISO-8601 text), kept after the block is lifted: sessions that signed in
  // before it stay ended, so unblocking revives no token (identity/user-sessions.ts).
  await db.schema.alterTable('users').addColumn('blocked_at', 'text').execute();
  // Users blocked before this column existed: their block counts from now, so lifting it revives nothing either.
  const now = new Date().toISOString();
  await sql`UPDATE users SET blocked_at = ${now} WHERE blocked = 1`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('blocked_at').execute();
}
