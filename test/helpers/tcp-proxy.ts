/** A loopback TCP proxy in front of a real dependency, for outage and slowness tests. */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  /** The port the proxy listens on (stable across stop/start). */
  port: number;
  /** Stops listening and cuts every open connection, as a Redis crash would. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** How long the target's bytes are held back, on connections opened from now on: a slow dependency, not a dead one. */
  delayMs: number;
}

/**
 * A TCP proxy to `target` (a URL: redis://, postgres://, ldap://, tcp://…)
 * on a loopback port: lets a test take a dependency away, bring it back or
 * slow it down without touching the real (shared) server.
 */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port: targetPort } = new URL(target);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const delayMs = proxy.delayMs;
    const upstream = connect(Number(targetPort || 6379), hostname);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    if (delayMs === 0) {
      upstream.pipe(client);
    } else {
      // Every chunk waits the same time, so the answers stay in order.
      upstream.on('data', (chunk: Buffer) => {
        setTimeout(() => {
          if (!client.destroyed) client.write(chunk);
        }, delayMs).unref();
      });
    }
  });
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  const port = await listen(0);
  const proxy: TcpProxy = {
    port,
    delayMs: 0,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await closed;
    },
    async start() {
      await listen(port);
    },
  };
  return proxy;
}
