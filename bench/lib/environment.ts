import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export const TENANT = 'bench';
/** The same tenant with attack protection switched off: the password grant's protection cost is the difference. */
export const UNPROTECTED_TENANT = 'bench-unprotected';
/** The same tenant with one post-login hook: the hook's cost on a refresh is the difference to refresh-rs256. */
export const HOOKS_TENANT = 'bench-hooks';
/** The Management API scenarios' tenant: its 100,000 users are seeded by the scenario (management.ts), apart from the others'. */
export const MANAGEMENT_TENANT = 'bench-mgmt';
/** A typical hook: one namespaced claim from the profile, one added scope. */
const BENCH_HOOK = `export async function onExecutePostLogin(event, api) {
  api.accessToken.setCustomClaim('https://bench.test/email', event.user.email);
  api.accessToken.addScope('write:data');
}
`;
export const DIRECTORY = 'Username-Password-Authentication';
export const RS256_AUDIENCE = 'https://api.rs256.bench';
export const ES256_AUDIENCE = 'https://api.es256.bench';
export const CLIENT_ID = 'bench-app';
export const USERNAME = 'bench@bench.test';

/** One `latchkey serve` process: its own port and config file. */
export interface BenchNode {
  readonly index: number;
  /** "server" when there is one node (the names of a single-node run stay as they were), else "node N". */
  readonly label: string;
  /** File-name stem of its logs: "server" (one node, as before) or "node-N". */
  readonly fileStem: string;
  readonly configPath: string;
  readonly port: number;
  /** Where requests to this node go: http://127.0.0.1:PORT. */
  readonly origin: string;
}

/** Everything the bench generated for one run: files, ports and credentials. */
export interface BenchEnvironment {
  readonly dir: string;
  readonly nodes: readonly BenchNode[];
  /** `public_url` of every node: the first node's origin, standing for a load balancer in front of all. */
  readonly origin: string;
  readonly clientSecret: string;
  readonly password: string;
  /** LATCHKEY_MASTER_KEY for every child (DESIGN.md §2: 32 random bytes, base64), the same on all nodes. */
  readonly masterKey: string;
  /** The nodes' `database`: the management scenarios seed their users straight into it. */
  readonly database: string;
}

/** Where the nodes keep their state. */
export interface StorageChoice {
  readonly nodes: number;
  /** A postgres:// URL shared by every node; undefined: SQLite in the temp dir (one node only). */
  readonly databaseUrl: string | undefined;
  readonly redisUrl: string | undefined;
}

/**
 * Makes a temp dir with one config file (DESIGN.md §2) per node, each on a
 * free loopback port. The files differ only in `listen.port`, as an
 * operator's nodes behind a load balancer would.
 */
export async function prepareEnvironment(storage: StorageChoice): Promise<BenchEnvironment> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-bench-'));
  const ports = await findFreePorts(storage.nodes);
  const origin = `http://127.0.0.1:${ports[0]!}`;
  const clientSecret = randomSecret();
  const password = randomSecret();
  const hookPath = join(dir, 'hook.mjs');
  await writeFile(hookPath, BENCH_HOOK);
  const single = storage.nodes === 1;
  const database = storage.databaseUrl ?? `sqlite:${join(dir, 'bench.db')}`;
  const nodes: BenchNode[] = [];
  for (const [index, port] of ports.entries()) {
    const node: BenchNode = {
      index,
      label: single ? 'server' : `node ${index}`,
      fileStem: single ? 'server' : `node-${index}`,
      configPath: join(dir, single ? 'latchkey.yaml' : `node-${index}.yaml`),
      port,
      origin: `http://127.0.0.1:${port}`,
    };
    const config = buildConfig({ origin, port, database, redis: storage.redisUrl, clientSecret, password, hookPath });
    await writeFile(node.configPath, stringify(config), { mode: 0o600 });
    nodes.push(node);
  }
  return { dir, nodes, origin, clientSecret, password, masterKey: randomBytes(32).toString('base64'), database };
}

interface ConfigInputs {
  /** public_url: the same on every node. */
  readonly origin: string;
  /** This node's listen port. */
  readonly port: number;
  readonly database: string;
  readonly redis: string | undefined;
  readonly clientSecret: string;
  readonly password: string;
  readonly hookPath: string;
}

function buildConfig(inputs: ConfigInputs): Record<string, unknown> {
  const unprotected = {
    ...benchTenant(inputs),
    name: UNPROTECTED_TENANT,
    attack_protection: { brute_force: { enabled: false }, backstop: { enabled: false }, suspicious_ip: { enabled: false } },
  };
  return {
    public_url: inputs.origin,
    listen: { host: '127.0.0.1', port: inputs.port },
    database: inputs.database,
    ...(inputs.redis === undefined ? {} : { redis: inputs.redis }),
    tenants: [
      benchTenant(inputs),
      unprotected,
      { ...benchTenant(inputs), name: HOOKS_TENANT, hooks: { post_login: [inputs.hookPath] } },
      managementTenant(inputs),
    ],
  };
}

/** The bench application may call this tenant's Management API (read:users, read:logs) without a rate limit in the way. */
function managementTenant(inputs: ConfigInputs): Record<string, unknown> {
  return {
    name: MANAGEMENT_TENANT,
    default_directory: DIRECTORY,
    connections: [{ name: DIRECTORY, type: 'database' }],
    applications: [
      {
        client_id: CLIENT_ID,
        client_secret: inputs.clientSecret,
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: ['client_credentials'],
      },
    ],
    client_grants: [
      { client_id: CLIENT_ID, audience: `${inputs.origin}/${MANAGEMENT_TENANT}/api/v2/`, scope: ['read:users', 'read:logs'] },
    ],
    management_api: { rate_limit: { requests: 10_000_000, per_seconds: 1 } },
  };
}

/** Attack protection as every tenant gets it by default (DESIGN.md §3). */
function benchTenant(inputs: ConfigInputs): Record<string, unknown> {
  return {
    name: TENANT,
    default_directory: DIRECTORY,
    connections: [{ name: DIRECTORY, type: 'database' }],
    apis: [benchApi(RS256_AUDIENCE, 'RS256'), benchApi(ES256_AUDIENCE, 'ES256')],
    applications: [
      {
        client_id: CLIENT_ID,
        client_secret: inputs.clientSecret,
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: ['password', 'refresh_token', 'client_credentials'],
      },
    ],
    // DESIGN.md §9: the client_credentials scenarios call both APIs.
    client_grants: [RS256_AUDIENCE, ES256_AUDIENCE].map((audience) => ({ client_id: CLIENT_ID, audience, scope: [...BENCH_SCOPES] })),
    users: [{ connection: DIRECTORY, username: USERNAME, email: USERNAME, password: inputs.password }],
  };
}

const BENCH_SCOPES = ['read:data', 'write:data'] as const;

function benchApi(identifier: string, signingAlg: 'RS256' | 'ES256'): Record<string, unknown> {
  return {
    identifier,
    scopes: [...BENCH_SCOPES],
    token_lifetime: 3600,
    allow_offline_access: true,
    signing_alg: signingAlg,
  };
}

/** URL-safe so it survives form encoding and YAML without quoting surprises. */
function randomSecret(): string {
  return randomBytes(24).toString('base64url');
}

/** `count` distinct free ports (the kernel may hand out a just-released one again). */
async function findFreePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await findFreePort();
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}

/**
 * Asks the kernel for a free port. Another process could take it before the
 * server binds it; on a bench machine that race is not worth more code.
 */
function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
}
