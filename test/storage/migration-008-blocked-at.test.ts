/**
 * Migration 008 (users.blocked_at) on a database from before it, on SQLite
 * and PostgreSQL: a user already blocked gets the upgrade's instant, so
 * lifting that block later revives no session from before it (issue #11
 * point 5); a user never blocked gets none.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Migrator, type Kysely, type Migration } from 'kysely';
import { BUNDLED_MIGRATIONS, migrateToLatest, openDatabase } from '../../src/storage/database.js';
import type { Database } from '../../src/storage/schema.js';
import { createSqlStores } from '../../src/storage/sql/index.js';
import { createScratchDatabase, postgresSkip } from '../helpers/postgres.js';

/** The schema as it was before migration 008: every bundled migration named before it. */
const BEFORE_008: Record<string, Migration> = Object.fromEntries(Object.entries(BUNDLED_MIGRATIONS).filter(([name]) => name < '008'));

/** A user row as the schema before 008 holds it (the store of today would write blocked_at). */
async function insertUser(
  db: Kysely<Database>,
  place: { tenantId: string; connectionId: string },
  username: string,
  blocked: boolean,
): Promise<string> {
  const id = randomUUID();
  const now = new Date().toISOString();
  await db
    .insertInto('users')
    .values({
      id,
      tenant_id: place.tenantId,
      connection_id: place.connectionId,
      username,
      username_key: username,
      email: null,
      email_key: null,
      email_verified: 0,
      name: null,
      given_name: null,
      family_name: null,
      password_hash: 'h',
      blocked: blocked ? 1 : 0,
      created_at: now,
      updated_at: now,
      password_changed_at: now,
      last_login_at: null,
      groups: null,
    })
    .execute();
  return id;
}

function upgradeSuite(open: () => Promise<{ db: Kysely<Database>; close(): Promise<void> }>): void {
  it('a user blocked before the upgrade is stamped with the upgrade instant; one never blocked is not', async () => {
    const { db, close } = await open();
    try {
      const old = await new Migrator({ db, provider: { getMigrations: async () => BEFORE_008 } }).migrateToLatest();
      assert.equal(old.error, undefined);
      const { catalog, users } = createSqlStores(db);
      const tenantId = await catalog.upsertTenant('acme', { id_token_signing_alg: 'RS256', id_token_lifetime: 36_000 });
      const place = {
        tenantId,
        connectionId: await catalog.upsertConnection(tenantId, { name: 'Username-Password-Authentication', type: 'database' }),
      };
      const blockedId = await insertUser(db, place, 'blocked-before', true);
      const openId = await insertUser(db, place, 'never-blocked', false);

      const before = Date.now();
      // 008 and every migration bundled after it.
      assert.deepEqual(
        await migrateToLatest(db),
        Object.keys(BUNDLED_MIGRATIONS).filter((name) => name >= '008'),
      );
      const after = Date.now();

      const blocked = await users.findById(tenantId, blockedId);
      assert.ok(blocked?.blockedAt, 'the blocked user has a block instant');
      assert.ok(blocked.blockedAt.getTime() >= before && blocked.blockedAt.getTime() <= after, 'the upgrade instant');
      assert.equal((await users.findById(tenantId, openId))?.blockedAt, null);
    } finally {
      await close();
    }
  });
}

describe('migration 008 on an upgraded SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-migration-008-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  upgradeSuite(async () => {
    const { db } = openDatabase(`sqlite:${join(dir, 'old.db')}`);
    return { db, close: () => db.destroy() };
  });
});

describe('migration 008 on an upgraded PostgreSQL database', { skip: postgresSkip('migration 008 on PostgreSQL') }, () => {
  upgradeSuite(async () => {
    const scratch = await createScratchDatabase();
    const { db } = openDatabase(scratch.url);
    return {
      db,
      async close() {
        try {
          await db.destroy();
        } finally {
          await scratch.drop();
        }
      },
    };
  });
});
