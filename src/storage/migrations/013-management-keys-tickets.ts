import type { Kysely } from 'kysely';

// Portable DDL only: the same migration runs on SQLite and PostgreSQL. For the Management API's signing keys and
// tickets (DESIGN.md §9, issue #15 point 2):
// - signing_keys.certificate: the self-signed X.509 certificate (PEM) over the key that `GET /keys/signing`
//   answers as Auth0's `cert`. Made once and kept: an ECDSA signature differs at each signing, and the
//   fingerprint must not change from one read (or node) to the next.
// - account_tickets: what a ticket made through the API asks for when it is spent (Auth0's `result_url`,
//   `mark_email_as_verified`, `includeEmailInRedirect`); emailed tickets leave them empty.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('signing_keys').addColumn('certificate', 'text').execute();
  await db.schema.alterTable('account_tickets').addColumn('result_url', 'text').execute();
  await db.schema
    .alterTable('account_tickets')
    .addColumn('mark_email_verified', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('account_tickets')
    .addColumn('email_in_redirect', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('account_tickets').dropColumn('email_in_redirect').execute();
  await db.schema.alterTable('account_tickets').dropColumn('mark_email_verified').execute();
  await db.schema.alterTable('account_tickets').dropColumn('result_url').execute();
  await db.schema.alterTable('signing_keys').dropColumn('certificate').execute();
}
