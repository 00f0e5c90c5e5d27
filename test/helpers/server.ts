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
import { TestClock } from './clock.js';

export type TenantInput = LatchkeyConfigInput['tenants'][number];

export interface TestServer {
  /** http://127.0.0.1:PORT */
  url: string;
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
}

export async function startTestServer(options: StartOptions): Promise<TestServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'latchkey-test-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const raw: LatchkeyConfigInput = {
    public_url: url,
    listen: { host: '127.0.0.1', port },
    database: `sqlite:${join(dir, 'latchkey.db')}`,
    ...options.extra,
    tenants: options.tenants,
  };
  const config = resolveConfig(raw, dir, { LATCHKEY_MASTER_KEY: options.masterKey ?? TEST_MASTER_KEY }, 'test configuration');
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      done();
    },
  });
  const clock = new TestClock();
  const logger = pino(loggerOptions(options.logLevel ?? 'info'), sink);
  const server = await startServer(config, { clock, logger });
  return {
    url,
    issuer: (tenant = 'acme') => `${url}/${tenant}/`,
    at: (path, tenant = 'acme') => `${url}/${tenant}${path}`,
    clock,
    server,
    dir,
    logs,
    async close() {
      await server.close();
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fixed for tests only, so restarts in one test can reuse a data directory. */
export const TEST_MASTER_KEY = randomBytes(32).toString('base64');
