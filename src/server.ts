/**
 * Starts a server: runtime, HTTP app, listen, and graceful shutdown on
 * SIGTERM/SIGINT (finish in-flight requests, then close storage).
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { ConfigError, type LatchkeyConfig } from './config/load.js';
import { createRuntime, type Runtime, type RuntimeOptions } from './runtime.js';

/** The address in `listen` cannot be used: an operator error, reported in one line. */
export class ListenError extends Error {
  override name = 'ListenError';
}

export interface RunningServer {
  app: FastifyInstance;
  runtime: Runtime;
  /** The base URL actually listened on (the port may have been 0). */
  url: string;
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

export async function startServer(config: LatchkeyConfig, options: RuntimeOptions = {}): Promise<RunningServer> {
  const https = readTls(config);
  const runtime = await createRuntime(config, options);
  let app: FastifyInstance;
  try {
    app = buildApp(runtime, https ? { https } : {});
    await app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (err) {
    await runtime.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new ListenError(`port ${config.listen.port} on ${config.listen.host} is already in use; stop the other process or set listen.port`);
    }
    if (code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new ListenError(`cannot listen on ${config.listen.host}:${config.listen.port} (${code}); check listen.host and listen.port`);
    }
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.listen.port;
  const scheme = config.tls ? 'https' : 'http';
  let closing: Promise<void> | undefined;
  return {
    app,
    runtime,
    url: `${scheme}://${config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host}:${port}`,
    close() {
      closing ??= (async () => {
        await app.close();
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
