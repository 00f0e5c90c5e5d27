/**
 * The composition root of a server: the only module that knows the concrete
 * stores and wires every service. `createRuntime` never listens (app.ts and
 * server.ts do). A start runs in named phases:
 *
 *   open storage → bootstrap (start-up lock, migrate, apply the file,
 *   signing keys) → wire services → start jobs (purge timer, Redis listener)
 *
 * Each resource registers its close on one disposer stack as soon as it is
 * open; `close()` and a start that fails half-way unwind that same stack.
 * The admin commands build only what they use (cli/admin-context.ts).
 */
import { availableParallelism } from 'node:os';
import pino, { type Logger } from 'pino';
import { systemClock, type Clock } from './clock.js';
import { DisposerStack } from './bootstrap/disposers.js';
import { openCredentialSources } from './bootstrap/credential-sources.js';
import {
  createAttackProtection,
  createEmailSender,
  createMfaService,
  createSecurityEvents,
  openCounterStorage,
  type CounterStorage,
} from './bootstrap/services.js';
import { bootstrap, recordAppliedUserChanges, type Bootstrapped } from './bootstrap/startup.js';
import { createBrowserSignIn, type BrowserSignIn } from './bootstrap/browser-sign-in.js';
import { loadMasterKey, openStorage, type OpenedStorage } from './bootstrap/storage.js';
import type { LatchkeyConfig } from './config/load.js';
import { Sealer, SecretHasher } from './crypto/secrets.js';
import type { Catalog } from './domain/tenant.js';
import { HookRunner } from './hooks/hook-runner.js';
import { AccountLifecycle } from './identity/account-lifecycle.js';
import { UserImporter } from './identity/user-import.js';
import { MfaTokens } from './mfa/mfa-token.js';
import type { ManagementServices } from './http/management/groups.js';
import { Accounts } from './oauth/accounts/accounts.js';
import { ImportJobs, ABANDONED_AFTER_MS } from './oauth/management/import-jobs.js';
import { ManagementCallers } from './oauth/management/management-caller.js';
import { createUserManagement } from './bootstrap/management-users.js';
import { CatalogChanges } from './oauth/management/catalog-changes.js';
import { ManagementClientGrants } from './oauth/management/client-grants.js';
import { ManagementClients } from './oauth/management/clients.js';
import { ManagementResourceServers } from './oauth/management/resource-servers.js';
import { SigningKeyManagement } from './oauth/management/signing-keys.js';
import { UserTickets } from './oauth/management/tickets.js';
import { DeviceAuthorizationEndpoint } from './oauth/device/device-authorization.js';
import { createGrantRegistry } from './oauth/grants/registry.js';
import { MfaGate } from './oauth/mfa-gate.js';
import { ClientAuthenticator } from './oauth/client-auth/authenticate.js';
import { IntrospectionEndpoint } from './oauth/introspection.js';
import { MfaApiEndpoint } from './oauth/mfa-api-endpoint.js';
import { PostLoginHooks, type TenantHooks } from './oauth/post-login.js';
import { RevocationEndpoint } from './oauth/revocation.js';
import { TokenEndpoint } from './oauth/token-endpoint.js';
import { UserinfoEndpoint } from './oauth/userinfo.js';
import { loggerOptions } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { RateLimits } from './protection/rate-limits.js';
import type { CounterBackend } from './storage/counters.js';
import type { Stores } from './storage/stores.js';
import { AccessTokenVerifier } from './tokens/access-token-verifier.js';
import type { SigningKeys } from './tokens/signing-keys.js';
import { TokenService } from './tokens/token-service.js';

export interface RuntimeOptions {
  clock?: Clock;
  logger?: Logger;
}

/** What the HTTP routes translate requests to: each takes a typed request and returns a typed result. */
export interface Endpoints {
  token: TokenEndpoint;
  revocation: RevocationEndpoint;
  introspection: IntrospectionEndpoint;
  userinfo: UserinfoEndpoint;
  mfaApi: MfaApiEndpoint;
  /** The device flow's JSON endpoint (RFC 8628 §3.1). */
  deviceAuthorization: DeviceAuthorizationEndpoint;
}

/**
 * A started server's parts, for app.ts to hand each route group its slice
 * and for tests that look underneath (the catalog, the stores).
 */
export interface Runtime {
  config: LatchkeyConfig;
  clock: Clock;
  logger: Logger;
  stores: Stores;
  catalog: Catalog;
  signingKeys: SigningKeys;
  metrics: Metrics;
  /** The attack-protection counters' store, for readiness. */
  counters: CounterBackend;
  endpoints: Endpoints;
  /** The hosted pages' services (DESIGN.md §7). */
  browser: BrowserSignIn;
  /** Sign-up, password reset and email verification (DESIGN.md §8). */
  accounts: Accounts;
  /** The Management API's services (DESIGN.md §9, http/management/groups.ts). */
  management: ManagementServices;
  close(): Promise<void>;
}

const PURGE_INTERVAL_MS = 10 * 60 * 1000;
/** Nodes without a Redis notice (or that missed one) serve another node's Management API writes within this. */
const CATALOG_REREAD_INTERVAL_MS = 30 * 1000;
/** Hook code is usually I/O-bound (an API call); two threads keep one slow CPU-bound hook from holding every sign-in. */
const HOOK_WORKERS = 2;

export async function createRuntime(config: LatchkeyConfig, options: RuntimeOptions = {}): Promise<Runtime> {
  const clock = options.clock ?? systemClock;
  // Asynchronous writes keep log I/O off the request path; close() flushes.
  const logger = options.logger ?? pino(loggerOptions(config.log_level), pino.destination({ dest: 1, sync: false }));
  const disposers = new DisposerStack();
  // First on the stack, so it runs last: every close above it may still log.
  disposers.defer('the log', () => logger.flush());
  try {
    const masterKey = loadMasterKey(config, logger);
    const storage = openStorage(config, logger, disposers);
    const booted = await bootstrap(storage, { config, masterKey, clock, logger, adminCommand: false });
    const wired = await wireServices({ config, storage, booted, masterKey, clock, logger }, disposers);
    // Apply already ended the sessions of users whose password or block the file changed; here come their events.
    await recordAppliedUserChanges(booted, wired.accounts);
    await startJobs(
      {
        config,
        storage,
        booted,
        counterStorage: wired.counterStorage,
        importJobs: wired.importJobs,
        catalogChanges: wired.catalogChanges,
        clock,
        logger,
      },
      disposers,
    );
    return {
      config,
      clock,
      logger,
      stores: storage.stores,
      catalog: booted.catalog,
      signingKeys: booted.signingKeys,
      metrics: wired.metrics,
      counters: wired.counterStorage.counters,
      endpoints: wired.endpoints,
      browser: wired.browser,
      accounts: wired.selfService,
      management: wired.management,
      close: () => disposers.close(),
    };
  } catch (err) {
    await disposers.unwind();
    throw err;
  }
}

interface PhaseInput {
  config: LatchkeyConfig;
  storage: OpenedStorage;
  booted: Bootstrapped;
  clock: Clock;
  logger: Logger;
}

interface WiredServices {
  endpoints: Endpoints;
  browser: BrowserSignIn;
  metrics: Metrics;
  counterStorage: CounterStorage;
  accounts: AccountLifecycle;
  selfService: Accounts;
  management: ManagementServices;
  importJobs: ImportJobs;
  /** Reloads the catalog after a Management API write here or on another node. */
  catalogChanges: CatalogChanges;
}

async function wireServices(input: PhaseInput & { masterKey: Buffer }, disposers: DisposerStack): Promise<WiredServices> {
  const { config, storage, booted, masterKey, clock, logger } = input;
  const { stores } = storage;
  const { catalog, signingKeys } = booted;
  const sealer = new Sealer(masterKey, 'at-rest');
  const sources = await openCredentialSources(config, stores.users, catalog, clock, logger, disposers);
  const credentialSources = sources.byType;
  const counterStorage = await openCounterStorage(config, storage, clock, logger, disposers);
  const { singleUseKeys } = counterStorage;
  const tokenService = new TokenService({ signingKeys, refreshTokens: stores.refreshTokens, sealer, clock });
  const metrics = new Metrics(sources.hashQueue);
  const securityEvents = createSecurityEvents(stores, logger, clock, metrics);
  const attackProtection = createAttackProtection(counterStorage.counters, stores, securityEvents, masterKey, clock);
  const rateLimits = new RateLimits(counterStorage.counters, securityEvents);
  const accounts = new AccountLifecycle({
    users: stores.users,
    refreshTokens: stores.refreshTokens,
    attackProtection,
    securityEvents,
    clock,
  });

  const mfaTokens = new MfaTokens(new Sealer(masterKey, 'mfa-token'), singleUseKeys, clock);
  const mfa = createMfaService({ config, stores, counterStorage, securityEvents, masterKey, logger, clock });
  const tenantHooks = new Map<string, TenantHooks>();
  for (const tenantConfig of config.tenants) {
    const tenant = catalog.tenant(tenantConfig.name);
    if (tenant && tenantConfig.hooks.post_login.length > 0) {
      tenantHooks.set(tenant.id, { chain: tenantConfig.hooks.post_login, timeoutMs: tenantConfig.hooks.timeout_ms });
    }
  }
  const hookPaths = [...new Set([...tenantHooks.values()].flatMap((h) => h.chain))];
  let hookRunner: HookRunner | undefined;
  if (hookPaths.length > 0) {
    const runner = await HookRunner.start(hookPaths, Math.min(HOOK_WORKERS, availableParallelism()), logger);
    disposers.defer('the hook workers', () => runner.close());
    hookRunner = runner;
    logger.info({ hooks: hookPaths }, 'post-login hooks loaded');
  }
  const mfaGate = new MfaGate({ mfa, mfaTokens, securityEvents });
  const postLogin = new PostLoginHooks({ runner: hookRunner, hooks: tenantHooks, mfaGate, securityEvents, logger });
  const secretHasher = new SecretHasher(masterKey);
  const clientAuthenticator = new ClientAuthenticator({ secretHasher, singleUseKeys, clock });
  const grants = createGrantRegistry({
    users: stores.users,
    refreshTokens: stores.refreshTokens,
    authorizationCodes: stores.authorizationCodes,
    accessTokenDenylist: stores.accessTokenDenylist,
    deviceCodes: stores.deviceCodes,
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
  const endpoints: Endpoints = {
    token: tokenEndpoint,
    revocation: new RevocationEndpoint({
      clientAuthenticator,
      refreshTokens: stores.refreshTokens,
      denylist: stores.accessTokenDenylist,
      verifier,
      clock,
    }),
    introspection: new IntrospectionEndpoint({
      clientAuthenticator,
      refreshTokens: stores.refreshTokens,
      users: stores.users,
      verifier,
      clock,
    }),
    userinfo: new UserinfoEndpoint({ verifier, users: stores.users }),
    mfaApi: new MfaApiEndpoint({ clientAuthenticator, mfa, mfaTokens, verifier, users: stores.users, clock }),
    // RFC 8628 §3.1; the verification page's side is the browser sign-in's (bootstrap/browser-sign-in.ts).
    deviceAuthorization: new DeviceAuthorizationEndpoint({ clientAuthenticator, rateLimits, deviceCodes: stores.deviceCodes, clock }),
  };
  const browser = createBrowserSignIn({
    stores,
    masterKey,
    credentialSources,
    attackProtection,
    mfa,
    mfaTokens,
    mfaGate,
    postLogin,
    securityEvents,
    signingKeys,
    counters: counterStorage.counters,
    clock,
    logger,
  });
  // Sign-up, password reset and email verification (issue #15 point 1, DESIGN.md §8).
  const selfService = new Accounts({
    users: stores.users,
    tickets: stores.accountTickets,
    lifecycle: accounts,
    sender: createEmailSender(config, logger),
    counters: counterStorage.counters,
    securityEvents,
    clock,
    logger,
  });
  // Before storage closes: the emails still on their way write their tickets and events first.
  disposers.defer('the account emails', () => selfService.idle());
  // The Management API (issue #15 points 2-5, DESIGN.md §9).
  const importer = new UserImporter({
    users: stores.users,
    refreshTokens: stores.refreshTokens,
    accounts,
    hashQueue: sources.hashQueue,
    clock,
  });
  const importJobs = new ImportJobs({ jobs: stores.importJobs, importer, clock, logger });
  // Before storage closes: running imports stop taking rows and record why they failed.
  disposers.defer('the user-import jobs', () => importJobs.close());
  const { catalogChanges } = counterStorage;
  const changes = new CatalogChanges({
    catalog,
    store: stores.catalog,
    signingKeys,
    catalogNotices: catalogChanges,
    keyNotices: counterStorage.keyChanges,
  });
  const management: ManagementServices = {
    callers: new ManagementCallers({ verifier, users: stores.users, counters: counterStorage.counters, clock }),
    securityEvents,
    users: createUserManagement({ stores, accounts, attackProtection, securityEvents, clock }),
    importJobs,
    clients: new ManagementClients({
      store: stores.catalog,
      refreshTokens: stores.refreshTokens,
      secretHasher,
      changes,
      clock,
    }),
    clientGrants: new ManagementClientGrants({ store: stores.catalog, changes }),
    resourceServers: new ManagementResourceServers({ store: stores.catalog, changes }),
    signingKeys: new SigningKeyManagement({
      signingKeys,
      announceKeyChange: async (tenantId) => counterStorage.keyChanges?.announce(tenantId),
    }),
    tickets: new UserTickets({ users: stores.users, accounts: selfService }),
  };
  return { endpoints, browser, metrics, counterStorage, accounts, selfService, management, importJobs, catalogChanges: changes };
}

/**
 * What runs on its own once the services stand: the purge of expired rows,
 * the sweep of user-import jobs a stopped server left unfinished (now, then
 * every minute), the signing-key and catalog notices of other nodes, and the
 * periodic catalog re-read that catches what a missed notice (or a cluster
 * without Redis) did not bring.
 */
async function startJobs(
  input: PhaseInput & { counterStorage: CounterStorage; importJobs: ImportJobs; catalogChanges: CatalogChanges },
  disposers: DisposerStack,
): Promise<void> {
  const { config, storage, booted, counterStorage, importJobs, catalogChanges, clock, logger } = input;
  const { stores } = storage;
  const retentionMs = config.security_events.retention_days * 86_400_000;
  const purge = setInterval(() => {
    const now = clock.now();
    stores
      .purgeExpired(now)
      .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'purging expired tokens failed; will retry'));
    stores.securityEvents
      .deleteBefore(new Date(now.getTime() - retentionMs))
      .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'purging old security events failed; will retry'));
  }, PURGE_INTERVAL_MS);
  purge.unref();
  disposers.defer('the purge timer', () => clearInterval(purge));
  await importJobs.failAbandoned();
  const sweep = setInterval(() => {
    importJobs
      .failAbandoned()
      .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'sweeping abandoned import jobs failed; will retry'));
  }, ABANDONED_AFTER_MS);
  sweep.unref();
  disposers.defer('the import-job sweep', () => clearInterval(sweep));
  await counterStorage.keyChanges?.listen((tenantId) => booted.signingKeys.forget(tenantId));
  const reloadCatalog = () =>
    catalogChanges
      .reload()
      .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'reloading the catalog failed; will retry'));
  // Another node's Management API write (DESIGN.md §9): served here at once.
  await counterStorage.catalogChanges?.listen(() => void reloadCatalog());
  const reread = setInterval(reloadCatalog, CATALOG_REREAD_INTERVAL_MS);
  reread.unref();
  disposers.defer('the catalog re-read timer', () => clearInterval(reread));
}
