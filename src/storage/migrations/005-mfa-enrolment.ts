import { sql, type Kysely } from 'kysely';

// Portable DDL only: the same migration runs on SQLite and PostgreSQL.
export async function up(db: Kysely<unknown>): Promise<void> {
  // Issue #11 point 2: an enrolment that was never confirmed is no factor. Rows the previous version left
  // unconfirmed (abandoned or raced enrolments) go, and so does a recovery code no confirmed factor backs.
  await sql`delete from mfa_authenticators where confirmed = 0`.execute(db);
  await sql`delete from mfa_recovery_codes where not exists (select 1 from mfa_authenticators a where a.tenant_id = mfa_recovery_codes.tenant_id and a.user_id = mfa_recovery_codes.user_id)`.execute(
    db,
  );

  // RFC 6238 §5.2 (issue #11 point 10): the last TOTP time step accepted for the factor; a code must be for a later one.
  await db.schema.alterTable('mfa_authenticators').addColumn('last_used_step', 'bigint').execute();

  // At most one enrolment in progress per user (the primary key): a new /mfa/associate replaces it in one upsert.
  await db.schema
    .createTable('mfa_pending_enrolments')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('authenticator_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('secret_sealed', 'text')
    .addColumn('email', 'text')
    .addColumn('recovery_code_hash', 'text', (c) => c.notNull())
    .addColumn('mfa_token_jti', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('mfa_pending_enrolments_pk', ['tenant_id', 'user_id'])
    .execute();
  await db.schema.createIndex('mfa_pending_enrolments_expiry_idx').on('mfa_pending_enrolments').column('expires_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('mfa_pending_enrolments').execute();
  await db.schema.alterTable('mfa_authenticators').dropColumn('last_used_step').execute();
}
