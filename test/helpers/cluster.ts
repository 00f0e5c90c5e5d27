/**
 * Several `latchkey serve` processes over one PostgreSQL database (and, when
 * asked, one Redis), as an operator runs them behind a load balancer
 * (issue #6 §3, docs/deploy.md): one configuration file for every node, each
 * node's port from LATCHKEY_LISTEN_PORT, the same LATCHKEY_MASTER_KEY, and
 * the same `public_url` (node 0's URL, standing for the load balancer), so
 * every node has the same issuers and any node verifies what another issued.
 *
 * Each node is a real child process (tsx); what it prints is kept, across
 * restarts, for assertions and failure messages. Waiting is bounded by a
 * deadline and driven by what the node serves (/readyz), never a sleep.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LatchkeyConfigInput } from '../../src/config/schema.js';
import { RunningProcess, runCli, tsxCliArgs, waitForOk, writeYamlConfig, type ProcessResult } from './cli-process.js';
import { createScratchDatabase, type ScratchDatabase } from './postgres.js';
import { TEST_REDIS_URL } from './redis.js';
import { freePort, type TenantInput } from './server.js';

export interface ClusterOptions {
  /** How many `latchkey serve` processes. */
  nodes: number;
  /** A function when a tenant names the shared public_url (a client grant for the Management API, `{issuer}api/v2/`). */
  tenants: TenantInput[] | ((publicUrl: string) => TenantInput[]);
  /** Share TEST_REDIS_URL (LATCHKEY_TEST_REDIS_URL) between the nodes; default: counters and single-use keys in PostgreSQL. */
  redis?: boolean;
  /** More top-level configuration keys (log_level, database_pool_size, …). */
  extra?: Partial<LatchkeyConfigInput>;
  /** How long each node may take to answer /readyz 200 (default 60 s: n tsx processes start on 2 CPUs). */
  readyTimeoutMs?: number;
}

export interface ClusterNode {
  index: number;
  /** This node's own address: http://127.0.0.1:PORT (requests go here). */
  url: string;
  port: number;
  /** The configuration file (the cluster's one file; the port comes from LATCHKEY_LISTEN_PORT). */
  configFile: string;
  /** `{url}/{tenant}{path}`, on this node. */
  at(path: string, tenant?: string): string;
  /** The running process (the latest one after a restart). */
  readonly process: RunningProcess;
  /** Sends `signal` (default SIGKILL) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Stops the node if it is running (SIGTERM, SIGKILL past a deadline), starts it again on the same port and waits for /readyz. */
  restart(): Promise<void>;
  /** Everything every process of this node printed so far, for assertion messages. */
  logs(): string;
  /** stdout lines of every process of this node, in order (JSON log lines). */
  logLines(): string[];
}

export interface Cluster {
  nodes: ClusterNode[];
  /** The shared public_url (node 0's URL, as if behind a load balancer). */
  publicUrl: string;
  /** `{publicUrl}/{tenant}/`: the issuer every node uses. */
  issuer(tenant?: string): string;
  databaseUrl: string;
  /** Set when the cluster shares Redis. */
  redisUrl: string | undefined;
  masterKey: string;
  /** The one configuration file every node and the CLI read. */
  configFile: string;
  /** `latchkey ARGS --config <the file>` as a child process with the cluster's master key, to completion. */
  cli(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<ProcessResult>;
  /** Every node's output, for failure messages. */
  describe(): string;
  /** Runs `work`; a failure's message gets the end of every node's output appended. */
  withLogs(work: () => Promise<void>): Promise<void>;
  /** Kills every node and drops the database. */
  close(): Promise<void>;
}

const STOP_GRACE_MS = 10_000;

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  if (options.nodes < 1) throw new Error('a cluster needs at least one node');
  if (options.redis && TEST_REDIS_URL === undefined) throw new Error('LATCHKEY_TEST_REDIS_URL is not set');
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-cluster-'));
  const masterKey = randomBytes(32).toString('base64');
  const redisUrl = options.redis ? TEST_REDIS_URL : undefined;
  let scratch: ScratchDatabase | undefined;
  const nodes: NodeImpl[] = [];

  const closeAll = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await scratch?.drop();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    scratch = await createScratchDatabase();
    const ports: number[] = [];
    while (ports.length < options.nodes) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const publicUrl = `http://127.0.0.1:${ports[0]}`;
    const configFile = writeYamlConfig(dir, {
      ...options.extra,
      public_url: publicUrl,
      listen: { host: '127.0.0.1', port: ports[0] },
      database: scratch.url,
      ...(redisUrl === undefined ? {} : { redis: redisUrl }),
      tenants: typeof options.tenants === 'function' ? options.tenants(publicUrl) : options.tenants,
    } satisfies LatchkeyConfigInput);
    for (const [index, port] of ports.entries()) nodes.push(new NodeImpl(index, port, configFile, masterKey, readyTimeoutMs));
    // Together, as a deployment starts them: every node migrates and applies the same configuration at once.
    for (const node of nodes) node.start();
    await Promise.all(nodes.map((node) => node.waitReady()));

    const cluster: Cluster = {
      nodes,
      publicUrl,
      issuer: (tenant = 'acme') => `${publicUrl}/${tenant}/`,
      databaseUrl: scratch.url,
      redisUrl,
      masterKey,
      configFile,
      cli: (args, cliOptions = {}) =>
        runCli([...args, '--config', configFile], {
          env: { LATCHKEY_MASTER_KEY: masterKey },
          ...(cliOptions.input === undefined ? {} : { input: cliOptions.input }),
          timeoutMs: cliOptions.timeoutMs ?? 60_000,
        }),
      describe: () => nodes.map((node) => `=== node ${node.index} (${node.url}) ===\n${node.logs()}`).join('\n'),
      async withLogs(work) {
        try {
          await work();
        } catch (err) {
          if (err instanceof Error) err.message += `\n\n${cluster.describe().slice(-30_000)}`;
          throw err;
        }
      },
      close: closeAll,
    };
    return cluster;
  } catch (err) {
    const output = nodes.map((node) => `=== node ${node.index} ===\n${node.logs()}`).join('\n');
    await closeAll().catch(() => undefined);
    if (err instanceof Error && output !== '' && !err.message.includes('stdout:')) err.message += `\n${output}`;
    throw err;
  }
}

class NodeImpl implements ClusterNode {
  readonly url: string;
  private readonly generations: RunningProcess[] = [];

  constructor(
    readonly index: number,
    readonly port: number,
    readonly configFile: string,
    private readonly masterKey: string,
    private readonly readyTimeoutMs: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  get process(): RunningProcess {
    const current = this.generations.at(-1);
    if (!current) throw new Error(`node ${this.index} was never started`);
    return current;
  }

  at(path: string, tenant = 'acme'): string {
    return `${this.url}/${tenant}${path}`;
  }

  start(): void {
    const env = { LATCHKEY_MASTER_KEY: this.masterKey, LATCHKEY_LISTEN_PORT: String(this.port) };
    this.generations.push(RunningProcess.start(process.execPath, tsxCliArgs(['serve', '--config', this.configFile]), { env }));
  }

  async waitReady(): Promise<void> {
    await waitForOk(`${this.url}/readyz`, this.readyTimeoutMs, this.process);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const proc = this.process;
    if (!proc.hasExited) proc.child.kill(signal);
    return proc.exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    this.start();
    await this.waitReady();
  }

  /** SIGTERM, then SIGKILL if it has not exited within STOP_GRACE_MS. */
  async stop(): Promise<void> {
    const proc = this.generations.at(-1);
    if (!proc || proc.hasExited) return;
    proc.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        if (!proc.hasExited) proc.child.kill('SIGKILL');
        resolve();
      }, STOP_GRACE_MS);
    });
    await Promise.race([proc.exited, forced]);
    clearTimeout(timer);
    await proc.exited;
  }

  logs(): string {
    return this.generations
      .map((proc, i) => (this.generations.length > 1 ? `--- process ${i + 1} ---\n` : '') + proc.describe())
      .join('\n');
  }

  logLines(): string[] {
    return this.generations.flatMap((proc) => proc.stdoutLines);
  }
}
