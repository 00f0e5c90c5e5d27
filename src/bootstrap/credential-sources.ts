/**
 * The credential sources of a start, one per connection type: the database,
 * HTTP validators and LDAP directories. Secrets of external directories come
 * from the configuration, by connection id; they are never stored.
 */
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { LatchkeyConfig } from '../config/load.js';
import type { Catalog } from '../domain/tenant.js';
import type { CredentialSource } from '../identity/credential-source.js';
import { HashQueue } from '../identity/hash-queue.js';
import { DatabaseCredentialSource } from '../identity/sources/database.js';
import { HttpCredentialSource, trustingOnly } from '../identity/sources/http.js';
import type { LdapDirectory } from '../identity/sources/ldap-directory.js';
import { LdapCredentialSource, ldapDirectoryFor } from '../identity/sources/ldap.js';
import type { UserStore } from '../storage/stores.js';
import type { DisposerStack } from './disposers.js';

export interface CredentialSources {
  /** Bounds the password hashing of every source (and feeds the hash-queue metrics). */
  hashQueue: HashQueue;
  byType: ReadonlyMap<string, CredentialSource>;
}

/** The server's password hash queue, as `password_hashing` sets it (a user import in the CLI builds the same one). */
export function createHashQueue(config: Pick<LatchkeyConfig, 'password_hashing'>): HashQueue {
  const hashing = config.password_hashing;
  return new HashQueue(hashing.concurrency ?? availableParallelism(), hashing.max_queue, hashing.max_queue_per_ip);
}

export async function openCredentialSources(
  config: LatchkeyConfig,
  users: UserStore,
  catalog: Catalog,
  clock: Clock,
  logger: Logger,
  disposers: DisposerStack,
): Promise<CredentialSources> {
  const hashQueue = createHashQueue(config);
  const databaseSource = await DatabaseCredentialSource.create(users, hashQueue, (err) =>
    logger.warn({ err: (err as Error).message }, 'could not upgrade a password hash after login; it will be retried at the next login'),
  );
  const validators = new Map<string, { secret: string; dispatcher: Dispatcher | undefined }>();
  const directories = new Map<string, LdapDirectory>();
  // Registered before the first directory opens its pool, so a later failure closes those already open.
  disposers.defer('the LDAP connections', async () => {
    await Promise.all([...directories.values()].map((directory) => directory.close()));
  });
  for (const tenantConfig of config.tenants) {
    for (const connection of tenantConfig.connections) {
      const record = catalog.tenant(tenantConfig.name)?.connections.get(connection.name);
      if (!record) continue;
      if (connection.type === 'http' && connection.secret !== undefined) {
        const dispatcher = connection.tls_ca === undefined ? undefined : trustingOnly(connection.tls_ca, connection.name);
        validators.set(record.id, { secret: connection.secret, dispatcher });
      }
      if (connection.type === 'ldap') {
        const warn = (message: string) => logger.warn({ tenant: tenantConfig.name, connection: connection.name }, message);
        directories.set(record.id, ldapDirectoryFor(connection, warn));
      }
    }
  }
  const httpSource = new HttpCredentialSource(validators, users, clock);
  const ldapSource = new LdapCredentialSource(directories, users);
  const byType = new Map<string, CredentialSource>([
    [databaseSource.type, databaseSource],
    [httpSource.type, httpSource],
    [ldapSource.type, ldapSource],
  ]);
  return { hashQueue, byType };
}
