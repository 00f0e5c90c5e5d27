/**
 * Starts a server: runtime, the public HTTP app and (when configured) the
 * operations one, listen, and graceful shutdown on SIGTERM/SIGINT (finish
 * in-flight requests on both, then close storage).
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { buildApp, buildOperationsApp } from './app.js';
import { ConfigError, type LatchkeyConfig } from './config/load.js';
import { createRuntime, type Runtime, type RuntimeOptions } from './runtime.js';

/** The address in `listen` cannot be used: an operator error, reported in one line. */
export class ListenError extends Error {
  override name = 'ListenError';
}

export interface RunningServer {
  app: FastifyInstance;
  /** The operations listener (/metrics), when `operations.listen` is configured. */
  operationsApp: FastifyInstance | undefined;
  runtime: Runtime;
  /** The base URL actually listened on (the port may have been 0). */
  url: string;
  /** The operations listener's base URL (http://HOST:PORT), when configured. */
  operationsUrl: string | undefined;
  /** Closes both listeners (in-flight requests finish), then storage. */
  close(): Promise<void>;
}

/** The TLS files, read before anything else starts, so a bad path stops start-up with the key that names it. */
function readTls(config: LatchkeyConfig): { cert: Buffer; key: Buffer } | undefined {
  if (!config.tls) return undefined;
  const read = (key: 'cert' | 'key') => {
    const path = (config.tls as { cert: string; key: string })[key];
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError('configuration', [`tls.${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
    }
  };
  return { cert: read('cert'), key: read('key') };
}

/**
 * Listens, turning an address that cannot be used into one operator line
 * naming the config keys to change (`keyPrefix`: `listen` or
 * `operations.listen`); returns the base URL actually listened on.
 */
async function listenOn(
  app: FastifyInstance,
  address: { host: string; port: number },
  keyPrefix: string,
  scheme: 'http' | 'https',
): Promise<string> {
  try {
    await app.listen({ host: address.host, port: address.port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new ListenError(
        `port ${address.port} on ${address.host} (${keyPrefix}.port) is already in use; stop the other process or set ${keyPrefix}.port`,
      );
    }
    if (code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new ListenError(`cannot listen on ${address.host}:${address.port} (${code}); check ${keyPrefix}.host and ${keyPrefix}.port`);
    }
    throw err;
  }
  const bound = app.server.address();
  const port = typeof bound === 'object' && bound ? bound.port : address.port;
  return `${scheme}://${address.host.includes(':') ? `[${address.host}]` : address.host}:${port}`;
}

export async function startServer(config: LatchkeyConfig, options: RuntimeOptions = {}): Promise<RunningServer> {
  const https = readTls(config);
  const runtime = await createRuntime(config, options);
  let app: FastifyInstance | undefined;
  let operationsApp: FastifyInstance | undefined;
  let url: string;
  let operationsUrl: string | undefined;
  try {
    app = buildApp(runtime, https ? { https } : {});
    url = await listenOn(app, config.listen, 'listen', config.tls ? 'https' : 'http');
    if (config.operations) {
      operationsApp = buildOperationsApp(runtime);
      operationsUrl = await listenOn(operationsApp, config.operations.listen, 'operations.listen', 'http');
    }
  } catch (err) {
    // Neither listener may outlive a failed start: the CLI exits, and a test's port must be free again.
    await Promise.all([app?.close(), operationsApp?.close()]);
    await runtime.close();
    throw err;
  }
  const publicApp = app;
  let closing: Promise<void> | undefined;
  return {
    app: publicApp,
    operationsApp,
    runtime,
    url,
    operationsUrl,
    close() {
      closing ??= (async () => {
        await Promise.all([publicApp.close(), operationsApp?.close()]);
        await runtime.close();
      })();
      return closing;
    },
  };
}

/** SIGTERM/SIGINT: stop accepting, finish in-flight requests, close storage, exit 0. */
export function closeOnSignals(server: RunningServer): void {
  const shutdown = (signal: NodeJS.Signals) => {
    server.runtime.logger.info({ signal }, 'shutting down: finishing in-flight requests');
    const forced = setTimeout(() => {
      server.runtime.logger.error('in-flight requests did not finish within 25 s; exiting anyway');
      process.exit(1);
    }, 25_000);
    forced.unref();
    server
      .close()
      .then(() => {
        server.runtime.logger.info('shutdown complete');
        process.exit(0);
      })
      .catch((err: unknown) => {
        server.runtime.logger.error({ err: (err as Error).message }, 'error during shutdown');
        process.exit(1);
      });
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
