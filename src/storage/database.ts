/**
 * Opens the database named by the config and brings its schema up to date.
 * Dialect differences live here and nowhere else.
 */
import { hash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  type Migration,
  type MigrationProvider,
  type SqliteDatabase as SqliteDialectDatabase,
} from 'kysely';
import pg from 'pg';
import * as initial from './migrations/001-initial.js';
import * as attackProtection from './migrations/002-attack-protection.js';
import * as mfa from './migrations/003-mfa.js';
import * as directoryProfile from './migrations/004-directory-profile.js';
import * as mfaEnrolment from './migrations/005-mfa-enrolment.js';
import * as catalogAuthority from './migrations/007-catalog-authority.js';
import * as userBlockedAt from './migrations/008-user-blocked-at.js';
import * as browserSignIn from './migrations/009-browser-sign-in.js';
import * as accountTickets from './migrations/010-account-tickets.js';
import * as userManagement from './migrations/011-user-management.js';
import * as importJobs from './migrations/012-import-jobs.js';
import * as managementKeysTickets from './migrations/013-management-keys-tickets.js';
import type { Database } from './schema.js';
import { createPrivateFile, loosePermissions, makePrivateDirectory, type LoosePermissions } from './private-files.js';
import { disableWriteBatching } from './sql/write-batcher.js';
import { runCompiledStatementsDirectly } from './sql/compiled.js';

export type Dialect = 'sqlite' | 'postgres';

export interface OpenDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  describe: string;
  /**
   * Waits for, then holds, the database's start-up lock; resolves with its
   * release. PostgreSQL: nodes started together take turns migrating,
   * applying the configuration and creating signing keys (otherwise each
   * finds the tenant missing, inserts it, and all but one die on the unique
   * constraint). SQLite: nothing to wait for.
   */
  startupLock(): Promise<() => Promise<void>>;
  /**
   * SQLite: the data directory or database files (WAL and shared memory
   * included) that other accounts may read, found at open; the caller warns
   * with `fix`. PostgreSQL keeps its files itself: always undefined.
   */
  looseFileModes: LoosePermissions | undefined;
}

export class DatabaseConfigError extends Error {
  override name = 'DatabaseConfigError';
}

/** The migration that records which catalog rows the configuration file declared (DESIGN.md §2). */
export const CATALOG_AUTHORITY_MIGRATION = '007-catalog-authority';

/**
 * Migrations are bundled, not read from disk, so `dist/` and `tsx` behave
 * alike. Applied in name order; 006 was reserved during issue #11 and not used.
 */
export const BUNDLED_MIGRATIONS: Readonly<Record<string, Migration>> = {
  '001-initial': initial,
  '002-attack-protection': attackProtection,
  '003-mfa': mfa,
  '004-directory-profile': directoryProfile,
  '005-mfa-enrolment': mfaEnrolment,
  [CATALOG_AUTHORITY_MIGRATION]: catalogAuthority,
  '008-user-blocked-at': userBlockedAt,
  '009-browser-sign-in': browserSignIn,
  '010-account-tickets': accountTickets,
  '011-user-management': userManagement,
  '012-import-jobs': importJobs,
  '013-management-keys-tickets': managementKeysTickets,
};

class BundledMigrations implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return { ...BUNDLED_MIGRATIONS };
  }
}

export interface DatabaseOptions {
  /** PostgreSQL: connections per node. */
  poolSize?: number;
  /** Called when an idle pooled PostgreSQL connection breaks (a restart, a network cut): logged, never fatal. */
  onIdleError?: (err: Error) => void;
}

export function openDatabase(url: string, options: DatabaseOptions = {}): OpenDatabase {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length));
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgres(url, options);
  throw unsupportedDatabaseUrl(url);
}

function unsupportedDatabaseUrl(url: string): DatabaseConfigError {
  return new DatabaseConfigError(`database ${redactDatabaseUrl(url)}: expected sqlite:PATH or postgres://user@host/db`);
}

/** The URL without its password, for logs and errors. */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** A node waiting longer than this for a connection or an answer reports the database unavailable (503) rather than hanging. */
const POSTGRES_CONNECT_TIMEOUT_MS = 3000;
const POSTGRES_QUERY_TIMEOUT_MS = 5000;
const PG_INT8 = 20;

function openPostgres(url: string, options: DatabaseOptions): OpenDatabase {
  const pool = new pg.Pool({
    connectionString: url,
    // The server passes `database_pool_size` (its default is the schema's); a caller without one gets pg's own.
    ...(options.poolSize === undefined ? {} : { max: options.poolSize }),
    connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS,
    query_timeout: POSTGRES_QUERY_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
  });
  // Epoch-millisecond columns are bigint; their values fit a double exactly (below 2^53).
  pg.types.setTypeParser(PG_INT8, (value) => Number(value));
  // An idle connection that breaks emits 'error' on the pool; unhandled, that would end the process.
  pool.on('error', (err) => options.onIdleError?.(err));
  // So does one that breaks while checked out between queries (the database going away under load): its
  // query fails on its own and the pool discards it, so the event itself needs only a listener.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  disableWriteBatching(db);
  // Compiled statements as named prepared statements: PostgreSQL parses and plans each once per connection instead of
  // at every execution (the refresh's join cost it more to plan than to run). The name is the text's digest.
  const statementNames = new Map<string, string>();
  runCompiledStatementsDirectly(db, async (sql, parameters) => {
    let name = statementNames.get(sql);
    if (name === undefined) {
      name = `lk_${hash('sha256', sql, 'base64url').slice(0, 22)}`;
      statementNames.set(sql, name);
    }
    const result = await pool.query({ name, text: sql, values: parameters });
    const counted = result.command === 'INSERT' || result.command === 'UPDATE' || result.command === 'DELETE';
    return { rows: result.rows, ...(counted ? { numAffectedRows: BigInt(result.rowCount ?? 0) } : {}) };
  });
  return {
    db,
    dialect: 'postgres',
    describe: redactDatabaseUrl(url),
    startupLock: () => postgresStartupLock(url),
    looseFileModes: undefined,
  };
}

/** pg_advisory_lock key of the start-up work (any constant: advisory locks are per database). */
const STARTUP_LOCK_KEY = '7368291044';
/** How long a node waits for the others' start-up before it gives up (a large user import can take a while). */
const STARTUP_LOCK_TIMEOUT_MS = 120_000;

/**
 * A session lock on a connection of its own, outside the pool (whose query
 * timeout a wait would hit); a node that dies holding it loses its session,
 * and with it the lock.
 */
async function postgresStartupLock(url: string): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS });
  client.on('error', () => undefined); // a broken lock session only ends the lock; the pool reports the database itself
  await client.connect();
  try {
    await client.query(`set lock_timeout = ${STARTUP_LOCK_TIMEOUT_MS}`);
    await client.query('select pg_advisory_lock($1::bigint)', [STARTUP_LOCK_KEY]);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return async () => {
    await client.end().catch(() => undefined);
  };
}

function openSqlite(path: string): OpenDatabase {
  // Owner-only at rest (issue #11 point 12): SQLite gives the -wal and -shm files the database file's mode.
  const dir = dirname(path);
  try {
    makePrivateDirectory(dir);
    createPrivateFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new DatabaseConfigError(
      `database sqlite:${path}: cannot create it (${code}); check the path, and that its directory is writable by the user running latchkey`,
    );
  }
  const sqlite = new SqliteDatabase(path);
  // WAL: readers never block the writer; NORMAL: a commit survives a process
  // crash (kill -9), only an OS crash can drop the last transactions.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('cache_size = -32768'); // 32 MiB of page cache: the token tables' hot pages stay in memory
  const cached = withStatementCache(sqlite);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cached }) });
  runCompiledStatementsDirectly(db, (sql, parameters) => {
    // While a transaction is open (the write batcher's), Kysely's path waits for it: a statement run here now would
    // read the batch's uncommitted rows or become part of it. better-sqlite3 runs a statement synchronously, so
    // nothing else can interleave with one run here.
    if (sqlite.inTransaction) return undefined;
    const statement = cached.prepare(sql) as SqliteDatabase.Statement<unknown[]>;
    if (statement.reader) return Promise.resolve({ rows: statement.all(parameters) });
    return Promise.resolve({ rows: [], numAffectedRows: BigInt(statement.run(parameters).changes) });
  });
  // Checked once the WAL and shared-memory files exist (the pragma above opens them).
  const looseFileModes = loosePermissions(dir, [path, `${path}-wal`, `${path}-shm`]);
  return { db, dialect: 'sqlite', describe: `sqlite:${path}`, startupLock: async () => async () => undefined, looseFileModes };
}

/**
 * Opens an existing database for reading only (`latchkey config check`):
 * nothing is created, migrated or written. Undefined when an SQLite file does
 * not exist yet; a PostgreSQL session refuses writes
 * (default_transaction_read_only).
 */
export function openDatabaseReadOnly(url: string): OpenDatabase | undefined {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (!existsSync(path)) return undefined;
    const sqlite = new SqliteDatabase(path, { readonly: true, fileMustExist: true });
    sqlite.pragma('busy_timeout = 5000');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
    // Read-only: nothing here creates files, so their modes are the running server's to report.
    return { db, dialect: 'sqlite', describe: `sqlite:${path}`, startupLock: async () => async () => undefined, looseFileModes: undefined };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const pool = new pg.Pool({
      connectionString: url,
      max: 1,
      connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS,
      query_timeout: POSTGRES_QUERY_TIMEOUT_MS,
      options: '-c default_transaction_read_only=on',
    });
    pool.on('error', () => undefined); // an idle connection breaking ends nothing here: the next query reports it
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      dialect: 'postgres',
      describe: redactDatabaseUrl(url),
      startupLock: async () => async () => undefined,
      looseFileModes: undefined,
    };
  }
  throw unsupportedDatabaseUrl(url);
}

/** Whether a bundled migration has been applied; reads only (no migration table is created). */
export async function hasMigrated(db: Kysely<Database>, migrationName: string): Promise<boolean> {
  const migrator = new Migrator({ db, provider: new BundledMigrations() });
  return (await migrator.getMigrations()).some((m) => m.name === migrationName && m.executedAt !== undefined);
}

const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely's SQLite driver prepares every statement anew; on the token
 * endpoint that was a tenth of the CPU. The SQL text of a query shape is
 * stable (values are bound parameters), so prepared statements are reused.
 */
function withStatementCache(sqlite: SqliteDatabase.Database): SqliteDialectDatabase {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (!statement) {
        statement = sqlite.prepare(sql);
        // Shapes are few and fixed; the bound only guards against a caller building SQL from data.
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}

export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new BundledMigrations() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

const UNAVAILABLE_SQLITE_CODES = new Set([
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_IOERR',
  'SQLITE_FULL',
  'SQLITE_CANTOPEN',
  'SQLITE_READONLY',
  'SQLITE_PROTOCOL',
]);
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);

/**
 * True when an error means the database is unreachable or saturated (the
 * client should retry) rather than a bug: the reply becomes 503, never
 * `invalid_grant`, so clients do not throw away valid refresh tokens.
 */
/** node-postgres reports its own timeouts and dropped connections without a code. */
const PG_UNAVAILABLE_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated due to connection timeout',
  'Connection terminated unexpectedly',
  'Query read timeout',
  'timeout expired',
];

export function isStorageUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const message = (err as { message?: unknown }).message;
  if (typeof message === 'string' && PG_UNAVAILABLE_MESSAGES.some((m) => message.startsWith(m))) return true;
  const cause = (err as { cause?: unknown }).cause;
  if (cause !== undefined && cause !== err && isStorageUnavailable(cause)) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  if (UNAVAILABLE_NODE_CODES.has(code)) return true;
  if ([...UNAVAILABLE_SQLITE_CODES].some((c) => code.startsWith(c))) return true;
  // PostgreSQL: class 08 connection exceptions, 53 insufficient resources, 57P0x shutdown.
  return /^(08|53|57P0)/.test(code);
}
