/**
 * The bootstrap phase, under the database's start-up lock: migrate, apply
 * the configuration file, load the catalog, create the signing keys a
 * tenant lacks and check that this node's master key opens them. Nodes
 * starting together on one PostgreSQL database take turns through it.
 */
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { configWarnings } from '../config/config-warnings.js';
import { consequenceOfDisabling, describeObject } from '../config/declared-catalog.js';
import type { LatchkeyConfig } from '../config/load.js';
import { MasterKeyError } from '../crypto/master-key.js';
import { SecretHasher, Sealer, UnsealError } from '../crypto/secrets.js';
import { Catalog, type Tenant } from '../domain/tenant.js';
import { describeError } from '../observability/error-text.js';
import { DatabaseConfigError, isStorageUnavailable, migrateToLatest } from '../storage/database.js';
import { SigningKeys } from '../tokens/signing-keys.js';
import type { AccountLifecycle } from '../identity/account-lifecycle.js';
import { applyConfig, type AppliedUserChange, type ApplySummary } from './apply-config.js';
import type { OpenedStorage } from './storage.js';

export interface BootstrapOptions {
  config: LatchkeyConfig;
  masterKey: Buffer;
  clock: Clock;
  logger: Logger;
  /**
   * An admin command, not a server start: the file is applied, but what it
   * no longer declares is left as it is (DESIGN.md §2 disables it at the next
   * start) and the start-up warnings are not repeated.
   */
  adminCommand: boolean;
}

export interface Bootstrapped {
  applied: ApplySummary;
  catalog: Catalog;
  signingKeys: SigningKeys;
}

export async function bootstrap({ database, stores }: OpenedStorage, options: BootstrapOptions): Promise<Bootstrapped> {
  const { config, masterKey, clock, logger, adminCommand } = options;
  let releaseStartupLock: () => Promise<void>;
  try {
    releaseStartupLock = await database.startupLock();
  } catch (err) {
    throw unreachable(err, database.describe);
  }
  try {
    let migrated: string[];
    try {
      migrated = await migrateToLatest(database.db);
    } catch (err) {
      throw unreachable(err, database.describe);
    }
    if (migrated.length > 0) logger.info({ migrations: migrated, database: database.describe }, 'database schema migrated');
    const signingKeys = new SigningKeys(stores.signingKeys, new Sealer(masterKey, 'at-rest'), clock);
    // Before the file is applied: a node given another master key must stop having written nothing. Applying first
    // hashed client secrets under its key and disabled what its file no longer declares, revoking those refresh tokens.
    for (const tenant of new Catalog(config.public_url, await stores.catalog.load()).all()) {
      await assertKeysOpen(signingKeys, tenant, { onlyMasterKey: true });
    }
    const applied = await applyConfig(config, stores, new SecretHasher(masterKey), { now: clock.now(), disableUndeclared: !adminCommand });
    if (!adminCommand) logCatalogChanges(applied, config, logger);
    const catalog = new Catalog(config.public_url, await stores.catalog.load());
    for (const tenant of catalog.all()) {
      const created = await signingKeys.ensureKeys(tenant.id, tenant.signingAlgs);
      if (created.length > 0) logger.info({ tenant: tenant.name, algs: created }, 'created signing keys');
      await assertKeysOpen(signingKeys, tenant, { onlyMasterKey: false });
    }
    return { applied, catalog, signingKeys };
  } finally {
    await releaseStartupLock().catch(() => undefined);
  }
}

/**
 * The events of what applying the file did to users: their sessions already
 * ended in apply (before these services existed); a changed password also
 * lifts the user's brute-force locks, as a password change does everywhere.
 */
export async function recordAppliedUserChanges({ applied, catalog }: Bootstrapped, accounts: AccountLifecycle): Promise<void> {
  const placeOf = (change: AppliedUserChange) => {
    const tenant = catalog.tenant(change.tenant);
    const connection = tenant?.connections.get(change.connection);
    return tenant && connection
      ? { tenant, connection, user: { id: change.userId, username: change.username, email: change.email } }
      : undefined;
  };
  for (const change of applied.passwordsChanged) {
    const place = placeOf(change);
    if (place) await accounts.passwordChanged(place.tenant, place.connection, place.user, change.refreshTokensRevoked, 'config');
  }
  for (const change of applied.usersBlocked) {
    const place = placeOf(change);
    if (place) await accounts.blocked(place.tenant, place.connection, place.user, change.refreshTokensRevoked, 'config');
  }
}

/** A database that cannot be reached is an operator's problem, said in one line; anything else is not. */
function unreachable(err: unknown, describe: string): unknown {
  if (!isStorageUnavailable(err)) return err;
  return new DatabaseConfigError(`cannot reach the database ${describe} (${describeError(err)}); is it running, and is the URL right?`);
}

/** Once per start: what the file stopped (or resumed) declaring, and configurations that probably miss something. */
function logCatalogChanges(applied: ApplySummary, config: LatchkeyConfig, logger: Logger): void {
  for (const change of applied.disabled) {
    const fields = {
      tenant: change.tenant,
      kind: change.kind,
      key: change.key,
      users: change.users,
      revoked_refresh_token_families: change.revokedRefreshTokenFamilies,
    };
    const affected =
      change.kind === 'connection'
        ? ` It holds ${change.users ?? 0} users.`
        : change.kind === 'application'
          ? ` ${change.revokedRefreshTokenFamilies ?? 0} refresh-token families were revoked.`
          : '';
    logger.warn(
      fields,
      `tenant ${change.tenant}: ${describeObject(change)} is no longer in the configuration file, so it is disabled from this start: ` +
        `${consequenceOfDisabling(change.kind)}.${affected} To restore it, declare it again in the file and restart.`,
    );
  }
  for (const change of applied.restored) {
    logger.info(
      { tenant: change.tenant, kind: change.kind, key: change.key },
      `tenant ${change.tenant}: ${describeObject(change)} is declared again in the configuration file: served again from this start`,
    );
  }
  for (const warning of configWarnings(config.tenants)) {
    logger.warn({ tenant: warning.tenant, client_id: warning.clientId, path: warning.path }, `${warning.path}: ${warning.message}`);
  }
}

/**
 * Opens each active signing key once at start: a node given another master
 * key than the one that sealed them (several nodes, one database) must stop
 * with the reason, not fail every token request later. `onlyMasterKey`: any
 * other failure (a key not created yet) is left to the check after apply.
 */
async function assertKeysOpen(signingKeys: SigningKeys, tenant: Tenant, { onlyMasterKey }: { onlyMasterKey: boolean }): Promise<void> {
  for (const alg of new Set(tenant.signingAlgs)) {
    try {
      await signingKeys.activeKey(tenant.id, alg);
    } catch (err) {
      if (!(err instanceof UnsealError)) {
        if (onlyMasterKey) continue;
        throw err;
      }
      throw new MasterKeyError(
        `tenant ${tenant.name}: the signing keys in the database were sealed with another master key; ` +
          'give this node the same LATCHKEY_MASTER_KEY as the nodes that created them (docs/deploy.md)',
      );
    }
  }
}
