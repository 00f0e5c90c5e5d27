/**
 * A Kysely query built and compiled once, then executed with new values.
 * Building and compiling costs more than running a small statement on
 * SQLite; the counters of a password login run eight of them. The query is
 * compiled by the database's own dialect, so SQLite and PostgreSQL still
 * share one definition: the compiled text is kept per dialect adapter (one
 * per opened database, shared by its transactions), never shared between a
 * SQLite and a PostgreSQL database open in the same process.
 */
import { CompiledQuery, type Compilable, type DialectAdapter, type Kysely, type QueryResult } from 'kysely';
import type { Database } from '../schema.js';

/**
 * Runs a compiled statement on the database driver itself, skipping Kysely's
 * executor; answers undefined when the statement must take Kysely's path.
 */
export type DirectRunner = (sql: string, parameters: unknown[]) => Promise<QueryResult<unknown>> | undefined;

const directRunners = new WeakMap<Kysely<Database>, DirectRunner>();

/** Set by openDatabase for each database it opens (storage/database.ts says how each dialect runs them). */
export function runCompiledStatementsDirectly(db: Kysely<Database>, runner: DirectRunner): void {
  directRunners.set(db, runner);
}

export class CompiledStatement<Name extends string, Row> {
  private readonly compiled = new WeakMap<DialectAdapter, { sql: string; order: Name[] }>();

  /**
   * `build` receives a placeholder per value name; every placeholder must
   * reach the query as a bound parameter (never inlined as SQL text).
   */
  constructor(
    private readonly names: readonly Name[],
    private readonly build: (db: Kysely<Database>, placeholders: Record<Name, string>) => Compilable<Row>,
  ) {}

  async execute(db: Kysely<Database>, values: Record<Name, unknown>): Promise<QueryResult<Row>> {
    const adapter = db.getExecutor().adapter;
    let compiled = this.compiled.get(adapter);
    if (!compiled) {
      compiled = this.compile(db);
      this.compiled.set(adapter, compiled);
    }
    const parameters = compiled.order.map((name) => values[name]);
    const direct = directRunners.get(db)?.(compiled.sql, parameters) as Promise<QueryResult<Row>> | undefined;
    return direct ?? db.executeQuery<Row>(CompiledQuery.raw(compiled.sql, parameters));
  }

  private compile(db: Kysely<Database>): { sql: string; order: Name[] } {
    const placeholders = Object.fromEntries(this.names.map((name) => [name, `\u0000placeholder:${name}`])) as Record<Name, string>;
    const byPlaceholder = new Map<unknown, Name>(this.names.map((name) => [placeholders[name], name]));
    const { sql, parameters } = this.build(db, placeholders).compile();
    const order = parameters.map((p) => {
      const name = byPlaceholder.get(p);
      if (name === undefined) throw new Error(`compiled statement has a parameter that is not a named placeholder: ${String(p)}`);
      return name;
    });
    return { sql, order };
  }
}
