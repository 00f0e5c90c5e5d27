/**
 * The database counter backend (storage/counters.ts): counters in the
 * `attack_counters` table through Kysely, one SQL path for SQLite and
 * PostgreSQL, so a restart keeps a lock. Counters are rate-limiter-flexible
 * limiters on our store (rate-limiter.ts); token buckets keep their TAT in
 * the same table, under `tb:` keys.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Clock } from '../../clock.js';
import type { CounterBackend } from '../counters.js';
import { LimiterCounter } from '../limiter-counter.js';
import type { Database } from '../schema.js';
import { tokenBucket, type TatStore } from '../token-bucket.js';
import { CompiledStatement } from './compiled.js';
import { createSqlRateLimiter } from './rate-limiter.js';
import { writeBatcherFor } from './write-batcher.js';

export function sqlCounterBackend(db: Kysely<Database>, clock: Clock, shared = false): CounterBackend {
  return {
    describe: 'database',
    // An SQLite file serves one node (DESIGN.md §1); a PostgreSQL database is shared by every node.
    shared,
    counter: ({ name, limit, windowSeconds }) =>
      new LimiterCounter(createSqlRateLimiter({ db, clock, keyPrefix: name, points: limit, duration: windowSeconds }), (err) => {
        // isStorageUnavailable() turns a busy or unreachable database into 503 at the reply; anything else is a bug.
        throw err;
      }),
    bucket: (options) => tokenBucket(sqlTatStore(db), clock, options),
    ping: async () => undefined,
    close: async () => undefined,
  };
}

type TatRow = { points: number | string };

/** max(TAT, now): a bucket is never fuller than full. */
const tatFrom = (now: string): RawBuilder<number> =>
  sql<number>`case when attack_counters.points > cast(${now} as bigint) then attack_counters.points else cast(${now} as bigint) end`;

const ADVANCE = new CompiledStatement<'key' | 'now' | 'interval', TatRow>(['key', 'now', 'interval'], (db, v) =>
  db
    .insertInto('attack_counters')
    // Parameters are cast: PostgreSQL cannot type `$1 + $2` on its own.
    .values({
      key: v.key,
      points: sql<number>`cast(${v.now} as bigint) + cast(${v.interval} as bigint)`,
      expires_at_ms: sql<number>`cast(${v.now} as bigint) + cast(${v.interval} as bigint)`,
    })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        points: sql<number>`${tatFrom(v.now)} + cast(${v.interval} as bigint)`,
        // The row means nothing once its TAT has passed: purge may take it then.
        expires_at_ms: sql<number>`${tatFrom(v.now)} + cast(${v.interval} as bigint)`,
      }),
    )
    .returning(['points']),
);

const REWIND = new CompiledStatement<'key' | 'interval', never>(['key', 'interval'], (db, v) =>
  db
    .updateTable('attack_counters')
    .set({
      points: sql<number>`points - cast(${v.interval} as bigint)`,
      expires_at_ms: sql<number>`expires_at_ms - cast(${v.interval} as bigint)`,
    })
    .where('key', '=', v.key),
);

function sqlTatStore(db: Kysely<Database>): TatStore {
  const batcher = writeBatcherFor(db);
  return {
    async advance(key, now, interval) {
      const result = await batcher.run((trx) => ADVANCE.execute(trx, { key: `tb:${key}`, now, interval }));
      return Number(result.rows[0]?.points);
    },
    async rewind(key, interval) {
      await batcher.run((trx) => REWIND.execute(trx, { key: `tb:${key}`, interval }));
    },
    async clear(key) {
      await batcher.run((trx) => trx.deleteFrom('attack_counters').where('key', '=', `tb:${key}`).execute());
    },
  };
}
