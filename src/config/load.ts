/**
 * Reads, validates and resolves the configuration file. This is the only
 * module that reads `process.env` (STYLE.md §7): everything else receives
 * the slice of the resolved config it uses.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { looksLikeManagementApiAudience, managementApiAudience } from '../domain/management-api.js';
import { mfaApiAudience } from '../domain/mfa-api.js';
import { applyExternalValues } from './external-values.js';
import { formatKeyPath } from './key-path.js';
import { configSchema, type LatchkeyConfigInput, type ParsedConfig } from './schema.js';

export interface LatchkeyConfig extends Omit<ParsedConfig, 'public_url' | 'database'> {
  /** Base of every issuer, no trailing slash. */
  public_url: string;
  /** `sqlite:/absolute/path` or a postgres:// URL. */
  database: string;
  /** Where generated state lives (master key, demo credentials). */
  dataDir: string;
  /** Base64 master key from LATCHKEY_MASTER_KEY, if set. */
  masterKeyBase64: string | undefined;
}

/** A bad configuration: stops start-up, naming each bad key path. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: invalid configuration\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

export { formatKeyPath };

function describeIssue(issue: z.core.$ZodIssue): string {
  return `${formatKeyPath(issue.path)}: ${issue.message}`;
}

export function loadConfigFile(file: string, env: Env = process.env): LatchkeyConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      path,
      doc.errors.map((e) => `YAML: ${e.message.split('\n')[0] ?? e.message}`),
    );
  }
  // `${VAR}` and `*_file` keys (external-values.ts), before the schema sees the document.
  const { value, problems } = applyExternalValues(doc.toJS() as unknown, dirname(path), env);
  if (problems.length > 0) throw new ConfigError(path, problems);
  return resolveConfig(value, dirname(path), env, path);
}

/** `LATCHKEY_CONFIG`: the configuration file when a command is given no `--config` (issue #15 point 6). */
export function configFileFromEnvironment(env: Env = process.env): string | undefined {
  const file = env.LATCHKEY_CONFIG?.trim();
  return file === undefined || file === '' ? undefined : file;
}

/**
 * Validates a config object (from a file or built in code, like the demo
 * tenant) and resolves relative paths against `baseDir`.
 */
export function resolveConfig(raw: unknown, baseDir: string, env: Env = process.env, source = 'configuration'): LatchkeyConfig {
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ConfigError(source, parsed.error.issues.map(describeIssue));
  const listenPort = env.LATCHKEY_LISTEN_PORT;
  if (listenPort !== undefined && !/^\d{1,5}$/.test(listenPort))
    throw new ConfigError('LATCHKEY_LISTEN_PORT', [`must be a port number, got "${listenPort.slice(0, 20)}"`]);
  // Several nodes can share one file: each gets its own port from the environment (docs/deploy.md).
  const withListenPort =
    listenPort === undefined ? parsed.data : { ...parsed.data, listen: { ...parsed.data.listen, port: Number(listenPort) } };
  if (
    listenPort !== undefined &&
    (withListenPort.listen.port > 65535 || (withListenPort.listen.port === 0 && withListenPort.public_url === undefined))
  ) {
    throw new ConfigError('LATCHKEY_LISTEN_PORT', ['must be 1-65535 (0 needs public_url)']);
  }
  const config = withOperationsPort(withListenPort, env.LATCHKEY_OPERATIONS_PORT);

  const database = resolveDatabaseUrl(env.LATCHKEY_DATABASE_URL ?? config.database, baseDir);
  const redis = env.LATCHKEY_REDIS_URL ?? config.redis;
  const publicUrl = config.public_url ?? defaultPublicUrl(config);
  const reserved = reservedApiIdentifiers(config, publicUrl);
  if (reserved.length > 0) throw new ConfigError(source, reserved);
  const dataDir = database.startsWith('sqlite:') ? dirname(database.slice('sqlite:'.length)) : resolve(baseDir, 'data');
  const masterKeyBase64 = env.LATCHKEY_MASTER_KEY?.trim() || undefined;

  return {
    ...config,
    public_url: publicUrl,
    database,
    ...(redis === undefined ? {} : { redis }),
    tls: config.tls && { cert: resolve(baseDir, config.tls.cert), key: resolve(baseDir, config.tls.key) },
    tenants: config.tenants.map((tenant) => ({
      ...tenant,
      connections: tenant.connections.map((c) => (c.tls_ca === undefined ? c : { ...c, tls_ca: resolve(baseDir, c.tls_ca) })),
      hooks: { ...tenant.hooks, post_login: tenant.hooks.post_login.map((path) => resolve(baseDir, path)) },
    })),
    email: { ...config.email, ...(config.email.outbox_dir === undefined ? {} : { outbox_dir: resolve(baseDir, config.email.outbox_dir) }) },
    dataDir,
    masterKeyBase64,
  };
}

/** LATCHKEY_OPERATIONS_PORT: each node sharing one file gets its own operations port, as with LATCHKEY_LISTEN_PORT. */
function withOperationsPort(config: ParsedConfig, value: string | undefined): ParsedConfig {
  if (value === undefined) return config;
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535))
    throw new ConfigError('LATCHKEY_OPERATIONS_PORT', [`must be a port number 1-65535, got "${value.slice(0, 20)}"`]);
  if (!config.operations)
    throw new ConfigError('LATCHKEY_OPERATIONS_PORT', [
      'the configuration has no operations block; add operations: { listen: { host: 127.0.0.1 } } (docs/configuration.md)',
    ]);
  if (port === config.listen.port)
    throw new ConfigError('LATCHKEY_OPERATIONS_PORT', [`must differ from the public port ${config.listen.port}`]);
  return { ...config, operations: { listen: { ...config.operations.listen, port } } };
}

function resolveDatabaseUrl(url: string, baseDir: string): string {
  if (!url.startsWith('sqlite:')) return url;
  const path = url.slice('sqlite:'.length);
  if (path === ':memory:') throw new ConfigError('database', ['sqlite::memory: would lose every token at restart; give a file path']);
  return `sqlite:${isAbsolute(path) ? path : resolve(baseDir, path)}`;
}

/**
 * Each tenant has two built-in APIs: the MFA API `{issuer}mfa/`
 * (mfa/mfa-api.ts) and the Management API `{issuer}api/v2/`
 * (domain/management-api.ts). An API declared with either identifier would
 * hand out tokens without the checks those require; a client grant for
 * something shaped like the Management API must name this tenant's exactly.
 * Checked here, where the issuer (`{public_url}/{tenant}/`) is known.
 */
function reservedApiIdentifiers(config: ParsedConfig, publicUrl: string): string[] {
  return config.tenants.flatMap((tenant, i) => {
    const issuer = `${publicUrl}/${tenant.name}/`;
    const builtIn = new Map([
      [mfaApiAudience(issuer), 'MFA API'],
      [managementApiAudience(issuer), 'Management API'],
    ]);
    const declared = tenant.apis.flatMap((api, j) => {
      const name = builtIn.get(api.identifier);
      return name === undefined
        ? []
        : [
            `${formatKeyPath(['tenants', i, 'apis', j, 'identifier'])}: this is the tenant's built-in ${name} (${api.identifier}), which Latchkey provides; choose another identifier`,
          ];
    });
    const grants = tenant.client_grants.flatMap((grant, j) =>
      looksLikeManagementApiAudience(grant.audience) &&
      grant.audience !== managementApiAudience(issuer) &&
      !tenant.apis.some((api) => api.identifier === grant.audience)
        ? [
            `${formatKeyPath(['tenants', i, 'client_grants', j, 'audience'])}: names no API of this tenant; its Management API is ${managementApiAudience(issuer)}`,
          ]
        : [],
    );
    return [...declared, ...grants];
  });
}

/** Only for a loopback listen.host: any other requires public_url (schema.ts). */
function defaultPublicUrl(config: ParsedConfig): string {
  const scheme = config.tls ? 'https' : 'http';
  const host = config.listen.host;
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${config.listen.port}`;
}

export type { LatchkeyConfigInput };
