/**
 * The first phase of a start, and all an admin command may need: the master
 * key and the database with its stores. Opening for writing creates an
 * SQLite file that does not exist yet; opening for reading never creates,
 * migrates or writes anything, and refuses a database that a start has not
 * brought to this version's schema.
 */
import { Migrator, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { LatchkeyConfig } from '../config/load.js';
import { loadOrCreateMasterKey } from '../crypto/master-key.js';
import { describeError } from '../observability/error-text.js';
import {
  BUNDLED_MIGRATIONS,
  DatabaseConfigError,
  isStorageUnavailable,
  openDatabase,
  openDatabaseReadOnly,
  type OpenDatabase,
} from '../storage/database.js';
import type { Database } from '../storage/schema.js';
import { createSqlStores } from '../storage/sql/index.js';
import type { Stores } from '../storage/stores.js';
import type { DisposerStack } from './disposers.js';

export interface OpenedStorage {
  database: OpenDatabase;
  stores: Stores;
}

/** LATCHKEY_MASTER_KEY, or the data directory's key file (created, with a warning, when there is none). */
export function loadMasterKey(config: LatchkeyConfig, logger: Logger): Buffer {
  const masterKey = loadOrCreateMasterKey(config);
  if (masterKey.generatedAt) {
    logger.warn(
      { file: masterKey.generatedAt },
      'generated a new master key because LATCHKEY_MASTER_KEY is unset; ' +
        'back this file up, and give every node the same key (docs/deploy.md)',
    );
  }
  return masterKey.key;
}

/** The database for a start or a command that writes; migrating it is the bootstrap's (bootstrap/startup.ts). */
export function openStorage(config: LatchkeyConfig, logger: Logger, disposers: DisposerStack): OpenedStorage {
  const database = openDatabase(config.database, {
    poolSize: config.database_pool_size,
    onIdleError: (err) =>
      logger.warn({ err: err.message }, 'a pooled database connection broke while idle; it is replaced at the next query'),
  });
  if (database.looseFileModes) {
    logger.warn(
      { paths: database.looseFileModes.paths, fix: database.looseFileModes.fix },
      'other accounts on this machine may read the database files (token hashes, sealed keys, security events); ' +
        `make them private with: ${database.looseFileModes.fix}`,
    );
  }
  const stores = createSqlStores(database.db);
  disposers.defer('the database', () => stores.close());
  return { database, stores };
}

/**
 * The database for a command that only reads (`latchkey logs`, `users mfa
 * list`). Stops with one operator line when there is nothing to read yet
 * or the schema is older than this version's: migrating is a start's job,
 * never a reader's.
 */
export async function openStorageReadOnly(config: LatchkeyConfig, disposers: DisposerStack): Promise<OpenedStorage> {
  const database = openDatabaseReadOnly(config.database);
  if (!database) {
    throw new DatabaseConfigError(
      `the database ${config.database} does not exist yet; start the server once with this configuration (latchkey serve) to create it`,
    );
  }
  const stores = createSqlStores(database.db);
  disposers.defer('the database', () => stores.close());
  let pending: string[];
  try {
    pending = await pendingMigrations(database.db);
  } catch (err) {
    if (!isStorageUnavailable(err)) throw err;
    throw new DatabaseConfigError(
      `cannot reach the database ${database.describe} (${describeError(err)}); is it running, and is the URL right?`,
    );
  }
  if (pending.length > 0) {
    const state =
      pending.length === Object.keys(BUNDLED_MIGRATIONS).length
        ? 'holds no latchkey schema yet'
        : `is not migrated to this version of latchkey (pending: ${pending.join(', ')})`;
    throw new DatabaseConfigError(
      `the database ${database.describe} ${state}; this command only reads: ` +
        'start the server once with this configuration (latchkey serve migrates at start), then run it again',
    );
  }
  return { database, stores };
}

/** The bundled migrations the database has not run, read without creating Kysely's migration table. */
export async function pendingMigrations(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...BUNDLED_MIGRATIONS }) } });
  return (await migrator.getMigrations()).filter((m) => m.executedAt === undefined).map((m) => m.name);
}
