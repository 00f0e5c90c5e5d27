import type { Kysely } from 'kysely';

// Portable DDL only: the same migration runs on SQLite and PostgreSQL. The browser sign-in of DESIGN.md §7
// (storage/browser-stores.ts): every secret a browser or device holds is a SHA-256 here, never the value.
export async function up(db: Kysely<unknown>): Promise<void> {
  // RFC 6749 §4.1.2: single use. The redemption is one conditional UPDATE of redeemed_at; the issued_* columns record
  // what it issued, so that a replay revokes exactly that.
  await db.schema
    .createTable('authorization_codes')
    .addColumn('code_hash', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('redirect_uri', 'text', (c) => c.notNull())
    .addColumn('code_challenge', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('grant', 'text', (c) => c.notNull()) // JSON, written and read by the code grant (oauth/)
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('redeemed_at', 'text')
    .addColumn('issued_family_id', 'text')
    .addColumn('issued_jti', 'text')
    .addColumn('issued_expires_at', 'text')
    .execute();

  await db.schema
    .createTable('browser_sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('auth_time', 'text', (c) => c.notNull())
    .addColumn('amr', 'text', (c) => c.notNull()) // JSON array of RFC 8176 method names
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('idle_expires_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  // A block or a password change ends all of a user's sessions in one indexed DELETE.
  await db.schema.createIndex('browser_sessions_user_idx').on('browser_sessions').columns(['tenant_id', 'user_id']).execute();

  await db.schema
    .createTable('device_codes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('device_code_hash', 'text', (c) => c.notNull().unique())
    .addColumn('user_code', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull()) // JSON array, as the device sent it
    .addColumn('audience', 'text')
    .addColumn('request_ip', 'text', (c) => c.notNull())
    .addColumn('request_user_agent', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('interval', 'integer', (c) => c.notNull())
    .addColumn('last_polled_at', 'text')
    .addColumn('status', 'text', (c) => c.notNull()) // pending | approved | denied | redeemed
    .addColumn('user_id', 'text')
    .addColumn('grant', 'text') // JSON, set at approval by the device grant (oauth/)
    // One row per user code and tenant: the key that makes two nodes drawing the same code race-safe. A holder that is
    // no longer live is deleted by the create that reuses its code (sql/device-code-store.ts).
    .addUniqueConstraint('device_codes_tenant_user_code_unique', ['tenant_id', 'user_code'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('device_codes').execute();
  await db.schema.dropIndex('browser_sessions_user_idx').execute();
  await db.schema.dropTable('browser_sessions').execute();
  await db.schema.dropTable('authorization_codes').execute();
}
