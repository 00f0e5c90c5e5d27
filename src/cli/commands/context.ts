/** What the admin commands share: storage opened for reading or writing (admin-context.ts), quietly, and tenant/connection lookup. */
import pino from 'pino';
import { defaultDirectoryOf, type Catalog, type Tenant } from '../../domain/tenant.js';
import type { ConnectionRecord } from '../../storage/stores.js';
import { loggerOptions } from '../../observability/logger.js';
import { AdminContext, type AdminAccess } from '../admin-context.js';
import { requiredCliConfig } from '../config-source.js';

export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

export interface AdminOptions {
  config?: string;
  tenant?: string;
  connection?: string;
}

/** `read`: the command neither migrates nor writes (and says so when the database is not ready); `write`: it may do both. */
export async function withAdmin<T>(options: AdminOptions, access: AdminAccess, work: (admin: AdminContext) => Promise<T>): Promise<T> {
  // Never the demo tenant: an admin command on a demo database made in the current folder looked like success (issue #15 point 6).
  const config = requiredCliConfig(options.config);
  const logger = pino(loggerOptions('warn'), pino.destination(2));
  const admin = await AdminContext.open(config, access, logger);
  try {
    return await work(admin);
  } finally {
    await admin.close();
  }
}

export function pickTenant({ catalog }: { catalog: Catalog }, name: string | undefined): Tenant {
  const tenants = catalog.all();
  if (name === undefined) {
    if (tenants.length === 1 && tenants[0]) return tenants[0];
    throw new CliUsageError(`several tenants exist (${tenants.map((t) => t.name).join(', ')}); choose one with --tenant`);
  }
  const tenant = catalog.tenant(name);
  if (!tenant) throw new CliUsageError(`no tenant "${name}" (have: ${tenants.map((t) => t.name).join(', ')})`);
  return tenant;
}

export function pickConnection(tenant: Tenant, name: string | undefined): ConnectionRecord {
  const chosen = name ?? defaultDirectoryOf(tenant);
  if (chosen === undefined)
    throw new CliUsageError(`tenant ${tenant.name} has several connections and no default_directory; choose one with --connection`);
  const connection = tenant.connections.get(chosen);
  if (!connection)
    throw new CliUsageError(`no connection "${chosen}" in tenant ${tenant.name} (have: ${[...tenant.connections.keys()].join(', ')})`);
  return connection;
}

/** A connection whose users Latchkey stores (users add, users import); another type's users live in their directory. */
export function requireDatabaseConnection(connection: ConnectionRecord): ConnectionRecord {
  if (connection.type !== 'database')
    throw new CliUsageError(
      `${connection.name} is a ${connection.type} connection: its users live in its validator and are created at their first login`,
    );
  return connection;
}

/** The `--config` option of every command that needs a configuration. */
export const CONFIG_OPTION_HELP = 'configuration file (default: $LATCHKEY_CONFIG)';

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}
