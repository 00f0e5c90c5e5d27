/**
 * The services a server start and the admin commands build alike, each
 * written once: the counter storage (database or Redis), security events,
 * attack protection and the MFA service. runtime.ts wires them into the
 * whole server; the CLI (cli/admin-context.ts) builds only those a command
 * uses.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { LatchkeyConfig } from '../config/load.js';
import { KeyedFingerprint, Sealer } from '../crypto/secrets.js';
import { OutboxSender, SmtpSender, type EmailSender } from '../mfa/email-sender.js';
import {
  MFA_ASSOCIATE_LIMIT,
  MFA_ASSOCIATE_WINDOW_SECONDS,
  MFA_EMAIL_LIMIT,
  MFA_EMAIL_WINDOW_SECONDS,
  MFA_FAILURE_LIMIT,
  MFA_REFILL_SECONDS,
  MfaService,
} from '../mfa/mfa-service.js';
import type { Metrics } from '../observability/metrics.js';
import { SecurityEvents } from '../observability/security-events.js';
import { AttackProtection } from '../protection/attack-protection.js';
import type { CounterBackend } from '../storage/counters.js';
import { awaitRedisReady, openRedis } from '../storage/redis/connection.js';
import { redisCounterBackend } from '../storage/redis/counters.js';
import { CatalogChangeNotices, KeyChangeNotices } from '../storage/redis/key-change-notices.js';
import { RedisSingleUseKeyStore } from '../storage/redis/single-use-keys.js';
import { sqlCounterBackend } from '../storage/sql/counters.js';
import type { SingleUseKeyStore, Stores } from '../storage/stores.js';
import type { DisposerStack } from './disposers.js';
import type { OpenedStorage } from './storage.js';

const REDIS_START_WAIT_MS = 5000;

/** What lives where every node sees it at once: in Redis when `redis` is set, else in the database. */
export interface CounterStorage {
  counters: CounterBackend;
  /** Assertion jti, mfa_token, OTP codes. */
  singleUseKeys: SingleUseKeyStore;
  /** Redis only: signing-key changes announced to every node. */
  keyChanges: KeyChangeNotices | undefined;
  /** Redis only: Management API catalog changes announced to every node. */
  catalogChanges: CatalogChangeNotices | undefined;
}

export async function openCounterStorage(
  config: LatchkeyConfig,
  { database, stores }: OpenedStorage,
  clock: Clock,
  logger: Logger,
  disposers: DisposerStack,
): Promise<CounterStorage> {
  if (config.redis === undefined) {
    const counters = sqlCounterBackend(database.db, clock, database.dialect === 'postgres');
    disposers.defer('the attack-protection counters', () => counters.close());
    return { counters, singleUseKeys: stores.singleUseKeys, keyChanges: undefined, catalogChanges: undefined };
  }
  const redis = openRedis(config.redis, logger);
  const counters = redisCounterBackend(redis, redactedUrl(config.redis), clock);
  disposers.defer('the Redis connection', () => counters.close());
  await awaitRedisReady(redis, REDIS_START_WAIT_MS, logger);
  const keyChanges = new KeyChangeNotices(redis, logger);
  disposers.defer('the signing-key notices', () => keyChanges.close());
  const catalogChanges = new CatalogChangeNotices(redis, logger);
  disposers.defer('the catalog notices', () => catalogChanges.close());
  return { counters, singleUseKeys: new RedisSingleUseKeyStore(redis), keyChanges, catalogChanges };
}

/** `metrics` counts each event; the admin commands have none to count into. */
export function createSecurityEvents(stores: Stores, logger: Logger, clock: Clock, metrics?: Metrics): SecurityEvents {
  return new SecurityEvents(
    stores.securityEvents,
    logger,
    () => clock.now(),
    metrics && ((type, reason) => metrics.securityEvents.inc({ type, reason })),
  );
}

export function createAttackProtection(
  counters: CounterBackend,
  stores: Stores,
  securityEvents: SecurityEvents,
  masterKey: Buffer,
  clock: Clock,
): AttackProtection {
  return new AttackProtection(
    counters,
    stores.attackLocks,
    securityEvents,
    new KeyedFingerprint(masterKey, 'login-attempt-fingerprint'),
    clock,
  );
}

export interface MfaServiceParts {
  config: LatchkeyConfig;
  stores: Stores;
  counterStorage: CounterStorage;
  securityEvents: SecurityEvents;
  masterKey: Buffer;
  logger: Logger;
  clock: Clock;
}

export function createMfaService({
  config,
  stores,
  counterStorage,
  securityEvents,
  masterKey,
  logger,
  clock,
}: MfaServiceParts): MfaService {
  const { counters, singleUseKeys } = counterStorage;
  const emailSender = createEmailSender(config, logger);
  return new MfaService({
    store: stores.mfa,
    consumed: singleUseKeys,
    totpSecretSealer: new Sealer(masterKey, 'totp-secret'),
    oobSealer: new Sealer(masterKey, 'mfa-oob-code'),
    codes: new KeyedFingerprint(masterKey, 'mfa-codes'),
    sender: emailSender,
    failures: counters.bucket({ name: 'mfa', capacity: MFA_FAILURE_LIMIT, refillSeconds: MFA_REFILL_SECONDS }),
    associateCalls: counters.counter({ name: 'mfa-associate', limit: MFA_ASSOCIATE_LIMIT, windowSeconds: MFA_ASSOCIATE_WINDOW_SECONDS }),
    emails: counters.counter({ name: 'mfa-email', limit: MFA_EMAIL_LIMIT, windowSeconds: MFA_EMAIL_WINDOW_SECONDS }),
    events: securityEvents,
    logger,
    clock,
  });
}

/** `email.smtp_url`, else the development outbox (MFA codes and the account emails alike). */
export function createEmailSender(config: LatchkeyConfig, logger: Logger): EmailSender {
  return config.email.smtp_url
    ? new SmtpSender(config.email.smtp_url, config.email.from)
    : new OutboxSender(config.email.outbox_dir ?? join(config.dataDir, 'outbox'), config.email.from, logger);
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
