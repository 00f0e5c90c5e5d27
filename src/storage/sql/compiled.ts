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

/** The part of a better-sqlite3 connection a compiled statement runs on directly. */
export interface DirectSqlite {
  /** A prepared statement for this text (cached by the caller). */
  prepare(sql: string): { readonly reader: boolean; all(params: unknown[]): unknown[]; run(params: unknown[]): { changes: number } };
  /** True between BEGIN and COMMIT of a transaction Kysely holds the connection for. */
  readonly inTransaction: boolean;
}

const directHandles = new WeakMap<Kysely<Database>, DirectSqlite>();

/**
 * Lets compiled statements on this SQLite database skip Kysely's executor
 * (its connection mutex and the promises around each query: a tenth of a
 * refresh's CPU, issue #13). better-sqlite3 runs a statement synchronously,
 * so nothing can interleave with it; while a transaction is open (the write
 * batcher's), statements take Kysely's path and wait for it, so they never
 * read a batch's uncommitted rows nor join its transaction.
 */
export function runCompiledStatementsDirectly(db: Kysely<Database>, handle: DirectSqlite): void {
  directHandles.set(db, handle);
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
    const direct = directHandles.get(db);
    if (direct !== undefined && !direct.inTransaction) return runDirectly<Row>(direct, compiled.sql, parameters);
    return db.executeQuery<Row>(CompiledQuery.raw(compiled.sql, parameters));
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

/** What Kysely's SQLite driver would answer for the statement, without its executor around it. */
function runDirectly<Row>(direct: DirectSqlite, sql: string, parameters: unknown[]): QueryResult<Row> {
  const statement = direct.prepare(sql);
  if (statement.reader) return { rows: statement.all(parameters) as Row[] };
  const { changes } = statement.run(parameters);
  return { rows: [], numAffectedRows: BigInt(changes) };
}
