/**
 * Stores on a freshly migrated database, for the suites that run one body of
 * tests on SQLite and on PostgreSQL: an SQLite file at `path`, or a scratch
 * PostgreSQL database dropped again at close.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { migrateToLatest, openDatabase } from '../../src/storage/database.js';
import type { Database } from '../../src/storage/schema.js';
import { createSqlStores } from '../../src/storage/sql/index.js';
import type { Stores } from '../../src/storage/stores.js';
import { createScratchDatabase, TEST_DATABASE_URL } from './postgres.js';

export interface MigratedStores {
  stores: Stores;
  db: Kysely<Database>;
  close(): Promise<void>;
}

export async function sqliteStores(path: string): Promise<MigratedStores> {
  const { db } = openDatabase(`sqlite:${path}`);
  await migrateToLatest(db);
  const stores = createSqlStores(db);
  return { stores, db, close: () => stores.close() };
}

export async function scratchPostgresStores(): Promise<MigratedStores> {
  const scratch = await createScratchDatabase(TEST_DATABASE_URL);
  try {
    const { db } = openDatabase(scratch.url);
    await migrateToLatest(db);
    const stores = createSqlStores(db);
    return {
      stores,
      db,
      async close() {
        try {
          await stores.close();
        } finally {
          await scratch.drop();
        }
      },
    };
  } catch (err) {
    await scratch.drop();
    throw err;
  }
}

/** Ids of the tenants the user-store suites share: one with connections `main` and `other`, and a stranger tenant. */
export interface TwoTenants {
  tenantId: string;
  mainId: string;
  otherId: string;
  otherTenantId: string;
  otherTenantConnectionId: string;
}

export async function twoTenants(stores: Stores): Promise<TwoTenants> {
  const settings = { id_token_signing_alg: 'RS256' as const, id_token_lifetime: 36_000 };
  const tenantId = await stores.catalog.upsertTenant(`t-${randomUUID()}`, settings);
  const mainId = await stores.catalog.upsertConnection(tenantId, { name: 'main', type: 'database' });
  const otherId = await stores.catalog.upsertConnection(tenantId, { name: 'other', type: 'database' });
  const otherTenantId = await stores.catalog.upsertTenant(`t-${randomUUID()}`, settings);
  const otherTenantConnectionId = await stores.catalog.upsertConnection(otherTenantId, { name: 'main', type: 'database' });
  return { tenantId, mainId, otherId, otherTenantId, otherTenantConnectionId };
}
