/**
 * The composition root: the only module that knows the concrete stores and
 * wires every service. `createRuntime` never listens (the CLI uses it too).
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { systemClock, type Clock } from './clock.js';
import { applyConfig, type AppliedUserChange, type ApplySummary } from './bootstrap/apply-config.js';
import { configWarnings } from './config/config-warnings.js';
import { consequenceOfDisabling, describeObject } from './config/declared-catalog.js';
import type { LatchkeyConfig } from './config/load.js';
import type { SigningAlg } from './config/schema.js';
import { loadOrCreateMasterKey, MasterKeyError } from './crypto/master-key.js';
import { Sealer, KeyedFingerprint, SecretHasher } from './crypto/secrets.js';
import type { CredentialSource } from './identity/credential-source.js';
import { AccountLifecycle } from './identity/account-lifecycle.js';
import { HashQueue } from './identity/hash-queue.js';
import { DatabaseCredentialSource } from './identity/sources/database.js';
import { HttpCredentialSource, trustingOnly } from './identity/sources/http.js';
import type { LdapDirectory } from './identity/sources/ldap-directory.js';
import { HookRunner } from './hooks/hook-runner.js';
import { KeyChangeNotices } from './storage/redis/key-change-notices.js';
import { RedisSingleUseKeyStore } from './storage/redis/single-use-keys.js';
import type { SingleUseKeyStore } from './storage/stores.js';
import { PostLoginHooks, type TenantHooks } from './oauth/post-login.js';
import { LdapCredentialSource, ldapDirectoryFor } from './identity/sources/ldap.js';
import type { Dispatcher } from 'undici';
import { Catalog } from './domain/tenant.js';
import { OutboxSender, SmtpSender, type EmailSender } from './mfa/email-sender.js';
import { MFA_ASSOCIATE_LIMIT, MFA_ASSOCIATE_WINDOW_SECONDS, MFA_EMAIL_LIMIT, MFA_EMAIL_WINDOW_SECONDS, MFA_FAILURE_LIMIT, MFA_REFILL_SECONDS, MfaService } from './mfa/mfa-service.js';
import { MfaTokens } from './mfa/mfa-token.js';
import { TokenEndpoint } from './oauth/token-endpoint.js';
import { createGrantRegistry } from './oauth/grants/registry.js';
import { MfaGate } from './oauth/mfa-gate.js';
import { AttackProtection } from './protection/attack-protection.js';
import { RateLimits } from './protection/rate-limits.js';
import type { CounterBackend } from './storage/counters.js';
import { sqlCounterBackend } from './storage/sql/counters.js';
import { redisCounterBackend } from './storage/redis/counters.js';
import { awaitRedisReady, openRedis } from './storage/redis/connection.js';
import { SecurityEvents } from './observability/security-events.js';
import { loggerOptions } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { DatabaseConfigError, isStorageUnavailable, migrateToLatest, openDatabase } from './storage/database.js';
import { createSqlStores } from './storage/sql/index.js';
import type { Stores } from './storage/stores.js';
import { AccessTokenVerifier } from './tokens/access-token-verifier.js';
import { SigningKeys } from './tokens/signing-keys.js';
import { describeError } from './observability/error-text.js';
import { TokenService } from './tokens/token-service.js';
import { ClientAuthenticator } from './oauth/client-auth/authenticate.js';

export interface RuntimeOptions {
  clock?: Clock;
  logger?: Logger;
  /**
   * An admin command (users, keys, logs), not a server start: the file is
   * applied, but what it no longer declares is left as it is (DESIGN.md §2
   * disables it at the next start) and the start-up warnings are not repeated.
   */
  adminCommand?: boolean;
}

export interface Runtime {
  config: LatchkeyConfig;
  clock: Clock;
  logger: Logger;
  stores: Stores;
  catalog: Catalog;
  signingKeys: SigningKeys;
  secretHasher: SecretHasher;
  sealer: Sealer;
  hashQueue: HashQueue;
  credentialSources: ReadonlyMap<string, CredentialSource>;
  tokenEndpoint: TokenEndpoint;
  clientAuthenticator: ClientAuthenticator;
  verifier: AccessTokenVerifier;
  metrics: Metrics;
  attackProtection: AttackProtection;
  securityEvents: SecurityEvents;
  mfa: MfaService;
  mfaTokens: MfaTokens;
  counters: CounterBackend;
  /** Password changes and blocks: they end the user's sessions (identity/account-lifecycle.ts). */
  accounts: AccountLifecycle;
  applied: ApplySummary;
  /** Tells every node that a tenant's signing keys changed (through Redis when set; else they re-read within 10 s). */
  announceKeyChange(tenantId: string): Promise<void>;
  close(): Promise<void>;
}

const PURGE_INTERVAL_MS = 10 * 60 * 1000;
const REDIS_START_WAIT_MS = 5000;
/** Hook code is usually I/O-bound (an API call); two threads keep one slow CPU-bound hook from holding every sign-in. */
const HOOK_WORKERS = 2;

export async function createRuntime(config: LatchkeyConfig, options: RuntimeOptions = {}): Promise<Runtime> {
  const clock = options.clock ?? systemClock;
  // Asynchronous writes keep log I/O off the request path; close() flushes.
  const logger = options.logger ?? pino(loggerOptions(config.log_level), pino.destination({ dest: 1, sync: false }));

  const masterKey = loadOrCreateMasterKey(config);
  if (masterKey.generatedAt) {
    logger.warn({ file: masterKey.generatedAt }, 'generated a new master key because LATCHKEY_MASTER_KEY is unset; back this file up, and give every node the same key (docs/deploy.md)');
  }
  const secretHasher = new SecretHasher(masterKey.key);
  const sealer = new Sealer(masterKey.key, 'at-rest');

  const database = openDatabase(config.database, {
    poolSize: config.database_pool_size,
    onIdleError: (err) => logger.warn({ err: err.message }, 'a pooled database connection broke while idle; it is replaced at the next query'),
  });
  if (database.looseFileModes) {
    logger.warn(
      { paths: database.looseFileModes.paths, fix: database.looseFileModes.fix },
      `other accounts on this machine may read the database files (token hashes, sealed keys, security events); make them private with: ${database.looseFileModes.fix}`,
    );
  }
  const stores = createSqlStores(database.db);
  let counters: CounterBackend | undefined;
  let ldapSource: LdapCredentialSource | undefined;
  let hookRunner: HookRunner | undefined;
  let keyChanges: KeyChangeNotices | undefined;
  let releaseStartupLock: (() => Promise<void>) | undefined;
  try {
    // Nodes starting together on one PostgreSQL database take turns from here to their signing keys.
    let migrated: string[];
    try {
      releaseStartupLock = await database.startupLock();
      migrated = await migrateToLatest(database.db);
    } catch (err) {
      if (!isStorageUnavailable(err)) throw err;
      throw new DatabaseConfigError(`cannot reach the database ${database.describe} (${describeError(err)}); is it running, and is the URL right?`);
    }
    if (migrated.length > 0) logger.info({ migrations: migrated, database: database.describe }, 'database schema migrated');
    const applied = await applyConfig(config, stores, secretHasher, { now: clock.now(), disableUndeclared: options.adminCommand !== true });
    if (options.adminCommand !== true) logCatalogChanges(applied, config, logger);
    const catalog = new Catalog(config.public_url, await stores.catalog.load());
    const signingKeys = new SigningKeys(stores.signingKeys, sealer, clock);
    for (const tenant of catalog.all()) {
      const created = await signingKeys.ensureKeys(tenant.id, tenant.signingAlgs);
      if (created.length > 0) logger.info({ tenant: tenant.name, algs: created }, 'created signing keys');
      await assertKeysOpen(signingKeys, tenant.id, tenant.signingAlgs, tenant.name);
    }

    await releaseStartupLock();
    releaseStartupLock = undefined;

    const hashQueue = new HashQueue(config.password_hashing.concurrency ?? availableParallelism(), config.password_hashing.max_queue, config.password_hashing.max_queue_per_ip);
    const databaseSource = await DatabaseCredentialSource.create(stores.users, hashQueue, (err) =>
      logger.warn({ err: (err as Error).message }, 'could not upgrade a password hash after login; it will be retried at the next login'),
    );
    // Secrets of external directories come from the configuration, by connection id; they are never stored.
    const validators = new Map<string, { secret: string; dispatcher: Dispatcher | undefined }>();
    const directories = new Map<string, LdapDirectory>();
    for (const tenantConfig of config.tenants) {
      for (const connection of tenantConfig.connections) {
        const record = catalog.tenant(tenantConfig.name)?.connections.get(connection.name);
        if (!record) continue;
        if (connection.type === 'http' && connection.secret !== undefined) {
          validators.set(record.id, { secret: connection.secret, dispatcher: connection.tls_ca === undefined ? undefined : trustingOnly(connection.tls_ca, connection.name) });
        }
        if (connection.type === 'ldap') {
          directories.set(record.id, ldapDirectoryFor(connection, (message) => logger.warn({ tenant: tenantConfig.name, connection: connection.name }, message)));
        }
      }
    }
    const httpSource = new HttpCredentialSource(validators, stores.users, clock);
    ldapSource = new LdapCredentialSource(directories, stores.users);
    const credentialSources = new Map<string, CredentialSource>([
      [databaseSource.type, databaseSource],
      [httpSource.type, httpSource],
      [ldapSource.type, ldapSource],
    ]);
    const tokenService = new TokenService({ signingKeys, refreshTokens: stores.refreshTokens, sealer, clock });
    // Single-use keys (assertion jti, mfa_token, OTP codes) live where every node sees them at once.
    let singleUseKeys: SingleUseKeyStore = stores.singleUseKeys;
    if (config.redis === undefined) {
      counters = sqlCounterBackend(database.db, clock, database.dialect === 'postgres');
    } else {
      const redis = openRedis(config.redis, logger);
      counters = redisCounterBackend(redis, redactedUrl(config.redis), clock);
      await awaitRedisReady(redis, REDIS_START_WAIT_MS, logger);
      singleUseKeys = new RedisSingleUseKeyStore(redis);
      keyChanges = new KeyChangeNotices(redis, logger);
      await keyChanges.listen((tenantId) => signingKeys.forget(tenantId));
    }
    const metrics = new Metrics(hashQueue);
    const securityEvents = new SecurityEvents(stores.securityEvents, logger, () => clock.now(), (type, reason) => metrics.securityEvents.inc({ type, reason }));
    const attackProtection = new AttackProtection(counters, stores.attackLocks, securityEvents, new KeyedFingerprint(masterKey.key, 'login-attempt-fingerprint'), clock);
    const rateLimits = new RateLimits(counters, securityEvents);
    const emailSender: EmailSender = config.email.smtp_url
      ? new SmtpSender(config.email.smtp_url, config.email.from)
      : new OutboxSender(config.email.outbox_dir ?? join(config.dataDir, 'outbox'), config.email.from, logger);
    const mfaTokens = new MfaTokens(new Sealer(masterKey.key, 'mfa-token'), singleUseKeys, clock);
    const mfa = new MfaService({
      store: stores.mfa,
      consumed: singleUseKeys,
      totpSecretSealer: new Sealer(masterKey.key, 'totp-secret'),
      oobSealer: new Sealer(masterKey.key, 'mfa-oob-code'),
      codes: new KeyedFingerprint(masterKey.key, 'mfa-codes'),
      sender: emailSender,
      failures: counters.bucket({ name: 'mfa', capacity: MFA_FAILURE_LIMIT, refillSeconds: MFA_REFILL_SECONDS }),
      associateCalls: counters.counter({ name: 'mfa-associate', limit: MFA_ASSOCIATE_LIMIT, windowSeconds: MFA_ASSOCIATE_WINDOW_SECONDS }),
      emails: counters.counter({ name: 'mfa-email', limit: MFA_EMAIL_LIMIT, windowSeconds: MFA_EMAIL_WINDOW_SECONDS }),
      events: securityEvents,
      logger,
      clock,
    });
    const accounts = new AccountLifecycle({ users: stores.users, refreshTokens: stores.refreshTokens, attackProtection, securityEvents, clock });
    // Apply already ended the sessions of users whose password or block the file changed; here come the events,
    // and a changed password lifts the user's brute-force locks, as a password change does everywhere else.
    const placeOf = (change: AppliedUserChange) => {
      const tenant = catalog.tenant(change.tenant);
      const connection = tenant?.connections.get(change.connection);
      return tenant && connection ? { tenant, connection, user: { id: change.userId, username: change.username, email: change.email } } : undefined;
    };
    for (const change of applied.passwordsChanged) {
      const place = placeOf(change);
      if (place) await accounts.passwordChanged(place.tenant, place.connection, place.user, change.refreshTokensRevoked, 'config');
    }
    for (const change of applied.usersBlocked) {
      const place = placeOf(change);
      if (place) await accounts.blocked(place.tenant, place.connection, place.user, change.refreshTokensRevoked, 'config');
    }
    const tenantHooks = new Map<string, TenantHooks>();
    for (const tenantConfig of config.tenants) {
      const tenant = catalog.tenant(tenantConfig.name);
      if (tenant && tenantConfig.hooks.post_login.length > 0) tenantHooks.set(tenant.id, { chain: tenantConfig.hooks.post_login, timeoutMs: tenantConfig.hooks.timeout_ms });
    }
    const hookPaths = [...new Set([...tenantHooks.values()].flatMap((h) => h.chain))];
    if (hookPaths.length > 0) {
      hookRunner = await HookRunner.start(hookPaths, Math.min(HOOK_WORKERS, availableParallelism()), logger);
      logger.info({ hooks: hookPaths }, 'post-login hooks loaded');
    }
    const mfaGate = new MfaGate({ mfa, mfaTokens, securityEvents });
    const postLogin = new PostLoginHooks({ runner: hookRunner, hooks: tenantHooks, mfaGate, securityEvents, logger });
    const clientAuthenticator = new ClientAuthenticator({ secretHasher, singleUseKeys, clock });
    const grants = createGrantRegistry({
      users: stores.users,
      refreshTokens: stores.refreshTokens,
      credentialSources,
      sealer,
      attackProtection,
      mfa,
      mfaTokens,
      securityEvents,
      clock,
      logger,
    });
    const tokenEndpoint = new TokenEndpoint({
      clientAuthenticator,
      grants,
      mfaGate,
      postLogin,
      tokenService,
      rateLimits,
      clock,
      logger,
    });
    const verifier = new AccessTokenVerifier(signingKeys, stores.accessTokenDenylist, clock);
    const counterBackend = counters;

    const retentionMs = config.security_events.retention_days * 86_400_000;
    const purge = setInterval(() => {
      const now = clock.now();
      stores.purgeExpired(now).catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'purging expired tokens failed; will retry'));
      stores.securityEvents
        .deleteBefore(new Date(now.getTime() - retentionMs))
        .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'purging old security events failed; will retry'));
    }, PURGE_INTERVAL_MS);
    purge.unref();

    return {
      config,
      clock,
      logger,
      stores,
      catalog,
      signingKeys,
      secretHasher,
      sealer,
      hashQueue,
      credentialSources,
      tokenEndpoint,
      clientAuthenticator,
      verifier,
      metrics,
      attackProtection,
      securityEvents,
      mfa,
      mfaTokens,
      counters,
      accounts,
      applied,
      async announceKeyChange(tenantId: string) {
        await keyChanges?.announce(tenantId);
      },
      async close() {
        clearInterval(purge);
        await ldapSource?.close();
        await hookRunner?.close();
        await keyChanges?.close();
        await counterBackend.close();
        await stores.close();
        logger.flush();
      },
    };
  } catch (err) {
    await releaseStartupLock?.().catch(() => undefined);
    await ldapSource?.close().catch(() => undefined);
    await hookRunner?.close().catch(() => undefined);
    await keyChanges?.close().catch(() => undefined);
    await counters?.close().catch(() => undefined);
    await stores.close().catch(() => undefined);
    throw err;
  }
}

/** Once per start: what the file stopped (or resumed) declaring, and configurations that probably miss something. */
function logCatalogChanges(applied: ApplySummary, config: LatchkeyConfig, logger: Logger): void {
  for (const change of applied.disabled) {
    const fields = { tenant: change.tenant, kind: change.kind, key: change.key, users: change.users, revoked_refresh_token_families: change.revokedRefreshTokenFamilies };
    const affected =
      change.kind === 'connection' ? ` It holds ${change.users ?? 0} users.` : change.kind === 'application' ? ` ${change.revokedRefreshTokenFamilies ?? 0} refresh-token families were revoked.` : '';
    logger.warn(
      fields,
      `tenant ${change.tenant}: ${describeObject(change)} is no longer in the configuration file, so it is disabled from this start: ${consequenceOfDisabling(change.kind)}.${affected} To restore it, declare it again in the file and restart.`,
    );
  }
  for (const change of applied.restored) {
    logger.info({ tenant: change.tenant, kind: change.kind, key: change.key }, `tenant ${change.tenant}: ${describeObject(change)} is declared again in the configuration file: served again from this start`);
  }
  for (const warning of configWarnings(config.tenants)) {
    logger.warn({ tenant: warning.tenant, client_id: warning.clientId, path: warning.path }, `${warning.path}: ${warning.message}`);
  }
}

/** A Redis URL for logs: the password, if any, stays out. */
function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'redis';
  }
}

/**
 * Opens each active signing key once at start: a node given another master
 * key than the one that sealed them (several nodes, one database) must stop
 * with the reason, not fail every token request later.
 */
async function assertKeysOpen(signingKeys: SigningKeys, tenantId: string, algs: readonly SigningAlg[], tenantName: string): Promise<void> {
  for (const alg of new Set(algs)) {
    try {
      await signingKeys.activeKey(tenantId, alg);
    } catch (err) {
      if ((err as Error).message.includes('authenticate data') || (err as Error).message.includes('unknown encryption format')) {
        throw new MasterKeyError(
          `tenant ${tenantName}: the signing keys in the database were sealed with another master key; give this node the same LATCHKEY_MASTER_KEY as the nodes that created them (docs/deploy.md)`,
        );
      }
      throw err;
    }
  }
}
