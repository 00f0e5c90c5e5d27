import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { processCpuSeconds } from './proc-cpu.js';

/**
 * Generous but finite: a PostgreSQL that does not answer must not hang the
 * bench (or its clean-up) forever. `drop database … with (force)` has to end
 * the nodes' sessions first, hence the longer statement bound.
 */
const CONNECT_TIMEOUT_MS = 10_000;
const STATEMENT_TIMEOUT_MS = 60_000;

/** The scratch database could not be created: exit status 1 with PostgreSQL's reason, no stack. */
export class ScratchDatabaseError extends Error {
  override readonly name = 'ScratchDatabaseError';
}

/** A database of the bench's own, so a run never sees another run's (or a test's) rows. */
export interface ScratchDatabase {
  readonly name: string;
  /** postgres:// URL of the new database: the nodes' `database:`. */
  readonly url: string;
  /** host:port/name, no credentials: for the report. */
  readonly description: string;
  /** Drops it, ending any session still connected; safe to call twice. */
  drop(): Promise<void>;
}

/** `create database latchkey_bench_<random>` through `adminUrl`. */
export async function createScratchDatabase(adminUrl: string): Promise<ScratchDatabase> {
  const name = `latchkey_bench_${randomBytes(6).toString('hex')}`;
  try {
    await runStatement(adminUrl, `create database ${name}`);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ScratchDatabaseError(`could not create a scratch database through ${redactUrl(adminUrl)}: ${reason}`);
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    description: `${url.host}/${name}`,
    drop: async () => {
      if (dropped) return;
      await runStatement(adminUrl, `drop database if exists ${name} with (force)`);
      dropped = true;
    },
  };
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

async function runStatement(adminUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({
    connectionString: adminUrl,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: STATEMENT_TIMEOUT_MS,
  });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/**
 * CPU seconds of the PostgreSQL backends serving one database. With SQLite
 * the storage engine runs inside the server process and its CPU is part of
 * "server CPU"; with PostgreSQL the same work moves into other processes,
 * so comparing node CPU alone would flatter PostgreSQL. Only backends of the
 * scratch database are counted (found through pg_stat_activity, read from
 * /proc): the shared WAL writer, checkpointer and background writer serve
 * every database on the cluster and are left out, so this is a lower bound.
 * Works only when PostgreSQL runs on this machine (same PID namespace).
 */
export class PostgresBackendCpu {
  private readonly client: pg.Client;
  private readonly database: string;
  private readonly ticksPerSecond: number;

  private constructor(client: pg.Client, database: string, ticksPerSecond: number) {
    this.client = client;
    this.database = database;
    this.ticksPerSecond = ticksPerSecond;
  }

  /** Connects to the admin database (not the scratch one, so the probe's own session is not counted). */
  static async open(adminUrl: string, database: string, ticksPerSecond: number): Promise<PostgresBackendCpu> {
    const client = new pg.Client({
      connectionString: adminUrl,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: STATEMENT_TIMEOUT_MS,
    });
    // A broken probe connection must not end the bench; the next sample reports it.
    client.on('error', () => undefined);
    await client.connect();
    return new PostgresBackendCpu(client, database, ticksPerSecond);
  }

  /** CPU seconds per backend PID; undefined when PostgreSQL's processes are not visible here. */
  async sample(): Promise<Map<number, number> | undefined> {
    let pids: number[];
    try {
      const result = await this.client.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [this.database]);
      pids = result.rows.map((row) => row.pid);
    } catch {
      return undefined;
    }
    const cpu = new Map<number, number>();
    for (const pid of pids) {
      const seconds = processCpuSeconds(pid, this.ticksPerSecond);
      if (seconds !== undefined) cpu.set(pid, seconds);
    }
    // Sessions exist (the nodes hold pools) but none is readable: PostgreSQL is elsewhere.
    return pids.length > 0 && cpu.size === 0 ? undefined : cpu;
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

/**
 * CPU the backends used between two samples. A backend that appeared in
 * between counts from zero (its start-up included); one that ended in
 * between is lost. The nodes' pools keep their connections for 30 s idle,
 * so within a measured window neither is common.
 */
export function backendCpuBetween(
  before: ReadonlyMap<number, number> | undefined,
  after: ReadonlyMap<number, number> | undefined,
): number | undefined {
  if (before === undefined || after === undefined) return undefined;
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}
