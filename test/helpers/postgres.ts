/**
 * PostgreSQL for the suites that need one: the URL comes from
 * LATCHKEY_TEST_DATABASE_URL (CI: postgres://postgres@127.0.0.1:5432/test).
 * Without it those suites are skipped, loudly: the reason is printed.
 *
 * Each suite works in a scratch database of its own, created from that URL
 * and dropped afterwards, so suites running side by side never share rows.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_DATABASE_URL: string | undefined = process.env.LATCHKEY_TEST_DATABASE_URL || undefined;

/** `false` when PostgreSQL is configured, else the skip reason (printed), for `describe(name, { skip: postgresSkip(name) }, …)`. */
export function postgresSkip(suite: string): string | false {
  if (TEST_DATABASE_URL !== undefined) return false;
  const reason =
    'LATCHKEY_TEST_DATABASE_URL is not set: the PostgreSQL suites need a real server (e.g. LATCHKEY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test)';
  console.log(`# SKIPPED ${suite}: ${reason}`);
  return reason;
}

export interface ScratchDatabase {
  /** postgres:// URL of the new, empty database. */
  url: string;
  name: string;
  /** Drops it, first ending any session still connected. */
  drop(): Promise<void>;
}

export async function createScratchDatabase(baseUrl = TEST_DATABASE_URL): Promise<ScratchDatabase> {
  if (baseUrl === undefined) throw new Error('LATCHKEY_TEST_DATABASE_URL is not set');
  const name = `latchkey_test_${randomBytes(6).toString('hex')}`;
  await admin(baseUrl, `create database ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => admin(baseUrl, `drop database if exists ${name} with (force)`),
  };
}

async function admin(baseUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
