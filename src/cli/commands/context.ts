/** What the admin commands share: a quiet runtime and tenant/connection lookup. */
import pino from 'pino';
import { defaultDirectoryOf, type Tenant } from '../../domain/tenant.js';
import type { ConnectionRecord } from '../../storage/stores.js';
import { createRuntime, type Runtime } from '../../runtime.js';
import { loggerOptions } from '../../observability/logger.js';
import { cliConfig } from '../config-source.js';

export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

export interface AdminOptions {
  config?: string;
  tenant?: string;
  connection?: string;
}

export async function withRuntime<T>(options: AdminOptions, work: (runtime: Runtime) => Promise<T>): Promise<T> {
  const { config } = cliConfig(options.config);
  const logger = pino(loggerOptions('warn'), pino.destination(2));
  const runtime = await createRuntime(config, { logger, adminCommand: true });
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

export function pickTenant(runtime: Runtime, name: string | undefined): Tenant {
  const tenants = runtime.catalog.all();
  if (name === undefined) {
    if (tenants.length === 1 && tenants[0]) return tenants[0];
    throw new CliUsageError(`several tenants exist (${tenants.map((t) => t.name).join(', ')}); choose one with --tenant`);
  }
  const tenant = runtime.catalog.tenant(name);
  if (!tenant) throw new CliUsageError(`no tenant "${name}" (have: ${tenants.map((t) => t.name).join(', ')})`);
  return tenant;
}

export function pickConnection(tenant: Tenant, name: string | undefined): ConnectionRecord {
  const chosen = name ?? defaultDirectoryOf(tenant);
  if (chosen === undefined) throw new CliUsageError(`tenant ${tenant.name} has several connections and no default_directory; choose one with --connection`);
  const connection = tenant.connections.get(chosen);
  if (!connection) throw new CliUsageError(`no connection "${chosen}" in tenant ${tenant.name} (have: ${[...tenant.connections.keys()].join(', ')})`);
  return connection;
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
