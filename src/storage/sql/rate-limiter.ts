/**
 * A rate-limiter-flexible store on Kysely: the library keeps the logic
 * (points, windows, blocks, reward), this file only its four storage
 * operations, each one atomic SQL statement on SQLite and PostgreSQL alike.
 *
 * Why not the library's own RateLimiterSQLite: it drives the better-sqlite3
 * handle directly, outside Kysely's connection lock, so its writes could
 * land inside (and be rolled back with) a Kysely transaction in flight; it
 * also reads Date.now(), where ours reads the injected clock.
 */
import { createRequire } from 'node:module';
import { sql, type Kysely } from 'kysely';
import type { RateLimiterAbstract, RateLimiterStoreAbstract as StoreAbstractType } from 'rate-limiter-flexible';
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Clock } from '../../clock.js';
import type { Database } from '../schema.js';
import { CompiledStatement } from './compiled.js';
import { writeBatcherFor, type WriteBatcher } from './write-batcher.js';

/** rate-limiter-flexible does not export its store base class from the index; its file is part of the package. */
const requireFromPackage = createRequire(import.meta.url);

interface StoreRow {
  points: number;
  expiresAtMs: number | null;
}

export interface SqlRateLimiterOptions {
  db: Kysely<Database>;
  clock: Clock;
  keyPrefix: string;
  points: number;
  duration: number;
}

let SqlRateLimiterClass: (new (options: SqlRateLimiterOptions) => RateLimiterAbstract) | undefined;

export function createSqlRateLimiter(options: SqlRateLimiterOptions): RateLimiterAbstract {
  SqlRateLimiterClass ??= defineClass();
  return new SqlRateLimiterClass(options);
}

function defineClass(): new (options: SqlRateLimiterOptions) => RateLimiterAbstract {
  const StoreAbstract = requireFromPackage('rate-limiter-flexible/lib/RateLimiterStoreAbstract.js') as typeof StoreAbstractType;

  class SqlRateLimiter extends StoreAbstract {
    private readonly batcher: WriteBatcher;
    private readonly clock: Clock;

    constructor(options: SqlRateLimiterOptions) {
      super({ storeClient: options.db, keyPrefix: options.keyPrefix, points: options.points, duration: options.duration });
      // A login's counters are read and written together: one transaction, not one commit each.
      this.batcher = writeBatcherFor(options.db);
      this.clock = options.clock;
    }

    /** Adds `points` (or, with forceExpire, sets them) and returns the row as stored, in one statement. */
    async _upsert(rlKey: string, points: number, msDuration: number, forceExpire = false): Promise<StoreRow> {
      const now = this.clock.now().getTime();
      const expiresAt = msDuration > 0 ? now + msDuration : null;
      const statement = forceExpire ? SET_COUNTER : ADD_TO_COUNTER;
      const result = await this.batcher.run((db) => statement.execute(db, { key: rlKey, points, expiresAt, now }));
      const row = result.rows[0];
      if (!row) throw new Error(`counter upsert returned no row for ${rlKey}`);
      return toStoreRow(row);
    }

    async _get(rlKey: string): Promise<StoreRow | null> {
      const now = this.clock.now().getTime();
      const result = await this.batcher.run((db) => GET_COUNTER.execute(db, { key: rlKey, now }));
      const row = result.rows[0];
      return row === undefined ? null : toStoreRow(row);
    }

    async _delete(rlKey: string): Promise<boolean> {
      const result = await this.batcher.run((db) => DELETE_COUNTER.execute(db, { key: rlKey }));
      return Number(result.numAffectedRows ?? 0n) > 0;
    }

    _getRateLimiterRes(_rlKey: string, changedPoints: number, row: StoreRow): RateLimiterRes {
      const msBeforeNext = row.expiresAtMs === null ? -1 : Math.max(row.expiresAtMs - this.clock.now().getTime(), 0);
      return new RateLimiterRes(Math.max(this.points - row.points, 0), msBeforeNext, row.points, changedPoints === row.points);
    }
  }
  return SqlRateLimiter as unknown as new (
    options: SqlRateLimiterOptions,
  ) => RateLimiterAbstract;
}

type CounterRow = { points: number; expires_at_ms: number | string | null };

const ADD_TO_COUNTER = new CompiledStatement<'key' | 'points' | 'expiresAt' | 'now', CounterRow>(
  ['key', 'points', 'expiresAt', 'now'],
  (db, v) =>
    db
      .insertInto('attack_counters')
      .values({ key: v.key, points: sql<number>`cast(${v.points} as bigint)`, expires_at_ms: sql<number>`cast(${v.expiresAt} as bigint)` })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({
          // An expired window starts afresh; a live one accumulates and keeps its expiry.
          // Never below zero: a refund racing a reset must not leave a free attempt.
          points: sql<number>`case when attack_counters.expires_at_ms is null or attack_counters.expires_at_ms > cast(${v.now} as bigint) then (case when attack_counters.points + excluded.points < 0 then 0 else attack_counters.points + excluded.points end) else (case when excluded.points < 0 then 0 else excluded.points end) end`,
          expires_at_ms: sql<number>`case when attack_counters.expires_at_ms is null or attack_counters.expires_at_ms > cast(${v.now} as bigint) then attack_counters.expires_at_ms else excluded.expires_at_ms end`,
        }),
      )
      .returning(['points', 'expires_at_ms']),
);

const SET_COUNTER = new CompiledStatement<'key' | 'points' | 'expiresAt', CounterRow>(['key', 'points', 'expiresAt'], (db, v) =>
  db
    .insertInto('attack_counters')
    .values({ key: v.key, points: sql<number>`cast(${v.points} as bigint)`, expires_at_ms: sql<number>`cast(${v.expiresAt} as bigint)` })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({ points: (eb) => eb.ref('excluded.points'), expires_at_ms: (eb) => eb.ref('excluded.expires_at_ms') }),
    )
    .returning(['points', 'expires_at_ms']),
);

const GET_COUNTER = new CompiledStatement<'key' | 'now', CounterRow>(['key', 'now'], (db, v) =>
  db
    .selectFrom('attack_counters')
    .select(['points', 'expires_at_ms'])
    .where('key', '=', v.key)
    .where((eb) => eb.or([eb('expires_at_ms', 'is', null), eb('expires_at_ms', '>', sql<number>`cast(${v.now} as bigint)`)])),
);

const DELETE_COUNTER = new CompiledStatement<'key', never>(['key'], (db, v) => db.deleteFrom('attack_counters').where('key', '=', v.key));

function toStoreRow(row: { points: number; expires_at_ms: number | string | null }): StoreRow {
  return { points: Number(row.points), expiresAtMs: row.expires_at_ms === null ? null : Number(row.expires_at_ms) };
}
