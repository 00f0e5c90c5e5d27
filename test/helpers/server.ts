/**
 * Starts a real Latchkey server (real SQLite file, real HTTP on a loopback
 * port) for black-box tests, with an injectable clock.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { resolveConfig } from '../../src/config/load.js';
import type { LatchkeyConfigInput } from '../../src/config/schema.js';
import { loggerOptions } from '../../src/observability/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createScratchDatabase, TEST_DATABASE_URL, type ScratchDatabase } from './postgres.js';
import { TestClock } from './clock.js';

export type TenantInput = LatchkeyConfigInput['tenants'][number];

export interface TestServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** The operations listener (/metrics): http://127.0.0.1:PORT; undefined with `operations: false`. */
  operationsUrl: string | undefined;
  /** {url}/{tenant}/ — the issuer, trailing slash included. */
  issuer(tenant?: string): string;
  /** {url}/{tenant}{path} */
  at(path: string, tenant?: string): string;
  clock: TestClock;
  server: RunningServer;
  dir: string;
  /** Every log line the server wrote, as raw JSON text. */
  logs: string[];
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface StartOptions {
  tenants: TenantInput[];
  extra?: Partial<LatchkeyConfigInput>;
  /** Reuse a data directory (restart tests); default: a new temp dir. */
  dir?: string;
  masterKey?: string;
  logLevel?: string;
  /** A postgres:// URL instead of an SQLite file in the data directory. */
  database?: string;
  /** Serve the operations listener (/metrics) on a free loopback port (default true). */
  operations?: boolean;
}

/**
 * LATCHKEY_TEST_SERVERS_ON_POSTGRES=1 (with LATCHKEY_TEST_DATABASE_URL) runs
 * every test server on a scratch PostgreSQL database instead of SQLite: a
 * developer's check that the black-box suites hold on both (suites that read
 * the SQLite file itself then fail, as they should).
 */
const ALL_ON_POSTGRES = process.env.LATCHKEY_TEST_SERVERS_ON_POSTGRES === '1' && TEST_DATABASE_URL !== undefined;
/** By data directory, so a restart in the same directory finds its data. */
const scratchDatabases = new Map<string, ScratchDatabase>();

async function databaseFor(options: StartOptions, dir: string): Promise<string> {
  if (options.database !== undefined) return options.database;
  if (!ALL_ON_POSTGRES || options.extra?.database !== undefined) return `sqlite:${join(dir, 'latchkey.db')}`;
  let scratch = scratchDatabases.get(dir);
  if (!scratch) {
    scratch = await createScratchDatabase();
    scratchDatabases.set(dir, scratch);
  }
  return scratch.url;
}

export async function startTestServer(options: StartOptions): Promise<TestServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'latchkey-test-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const raw: LatchkeyConfigInput = {
    public_url: url,
    database: await databaseFor(options, dir),
    ...(options.operations === false ? {} : { operations: { listen: { host: '127.0.0.1', port: 0 } } }),
    ...options.extra,
    // Merged, so a test can set listen.max_connections and keep the free port chosen here.
    listen: { host: '127.0.0.1', port, ...options.extra?.listen },
    tenants: options.tenants,
  };
  const config = resolveConfig(raw, dir, { LATCHKEY_MASTER_KEY: options.masterKey ?? TEST_MASTER_KEY }, 'test configuration');
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((l) => l !== ''),
      );
      done();
    },
  });
  const clock = new TestClock();
  const logger = pino(loggerOptions(options.logLevel ?? 'info'), sink);
  const server = await startServer(config, { clock, logger });
  return {
    url,
    operationsUrl: server.operationsUrl,
    issuer: (tenant = 'acme') => `${url}/${tenant}/`,
    at: (path, tenant = 'acme') => `${url}/${tenant}${path}`,
    clock,
    server,
    dir,
    logs,
    async close() {
      await server.close();
      if (options.dir === undefined) {
        rmSync(dir, { recursive: true, force: true });
        await scratchDatabases.get(dir)?.drop();
        scratchDatabases.delete(dir);
      }
    },
  };
}

/** Fixed for tests only, so restarts in one test can reuse a data directory. */
export const TEST_MASTER_KEY = randomBytes(32).toString('base64');
