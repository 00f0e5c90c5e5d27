/**
 * What an admin command works with: the database and its stores, opened
 * alone (no hook workers, no LDAP pools, no token service), and the few
 * services a command asks for, each built on first use from the same
 * factories as a server start (bootstrap/services.ts). Redis is opened only
 * by a command that touches the counters or announces a key change.
 *
 * - `read`: nothing is created, migrated or written; a database a start has
 *   not brought to this version stops the command with one line
 *   (bootstrap/storage.ts). No master key is read or generated.
 * - `write`: as a start does, under the start-up lock: migrate, apply the
 *   file (without disabling what it no longer declares: that is a start's
 *   decision, DESIGN.md §2), signing keys checked against the master key.
 */
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import { createHashQueue } from '../bootstrap/credential-sources.js';
import { DisposerStack } from '../bootstrap/disposers.js';
import {
  createAttackProtection,
  createMfaService,
  createSecurityEvents,
  openCounterStorage,
  type CounterStorage,
} from '../bootstrap/services.js';
import { bootstrap } from '../bootstrap/startup.js';
import { loadMasterKey, openStorage, openStorageReadOnly, type OpenedStorage } from '../bootstrap/storage.js';
import type { LatchkeyConfig } from '../config/load.js';
import { Catalog } from '../domain/tenant.js';
import { AccountLifecycle } from '../identity/account-lifecycle.js';
import { UserImporter } from '../identity/user-import.js';
import type { MfaService } from '../mfa/mfa-service.js';
import type { SecurityEvents } from '../observability/security-events.js';
import type { AttackProtection } from '../protection/attack-protection.js';
import type { Stores } from '../storage/stores.js';
import type { SigningKeys } from '../tokens/signing-keys.js';

export type AdminAccess = 'read' | 'write';

export class AdminContext {
  readonly clock: Clock = systemClock;
  private securityEventsOnce: SecurityEvents | undefined;
  private counterStorageOnce: Promise<CounterStorage> | undefined;
  private attackProtectionOnce: Promise<AttackProtection> | undefined;
  private mfaOnce: Promise<MfaService> | undefined;

  private constructor(
    readonly config: LatchkeyConfig,
    readonly logger: Logger,
    private readonly storage: OpenedStorage,
    readonly catalog: Catalog,
    /** Only with `write` access: the master key is never read (or generated) by a command that only reads. */
    private readonly keys: { masterKey: Buffer; signingKeys: SigningKeys } | undefined,
    private readonly disposers: DisposerStack,
  ) {}

  static async open(config: LatchkeyConfig, access: AdminAccess, logger: Logger): Promise<AdminContext> {
    const disposers = new DisposerStack();
    try {
      if (access === 'read') {
        const storage = await openStorageReadOnly(config, disposers);
        const catalog = new Catalog(config.public_url, await storage.stores.catalog.load());
        return new AdminContext(config, logger, storage, catalog, undefined, disposers);
      }
      const masterKey = loadMasterKey(config, logger);
      const storage = openStorage(config, logger, disposers);
      const { catalog, signingKeys } = await bootstrap(storage, { config, masterKey, clock: systemClock, logger, adminCommand: true });
      return new AdminContext(config, logger, storage, catalog, { masterKey, signingKeys }, disposers);
    } catch (err) {
      await disposers.unwind();
      throw err;
    }
  }

  get stores(): Stores {
    return this.storage.stores;
  }

  get securityEvents(): SecurityEvents {
    this.securityEventsOnce ??= createSecurityEvents(this.stores, this.logger, this.clock);
    return this.securityEventsOnce;
  }

  get signingKeys(): SigningKeys {
    return this.writable().signingKeys;
  }

  /**
   * Password changes and blocks. The brute-force locks a password change
   * lifts are reached only when one happens, so `users block` opens no
   * counter storage.
   */
  accounts(): AccountLifecycle {
    const lockout: Pick<AttackProtection, 'unblock'> = {
      unblock: async (...args) => (await this.attackProtection()).unblock(...args),
    };
    const { users, refreshTokens } = this.stores;
    return new AccountLifecycle({
      users,
      refreshTokens,
      attackProtection: lockout,
      securityEvents: this.securityEvents,
      clock: this.clock,
    });
  }

  /** `users import`: the server's row code, hashing on a queue sized as the server's (`password_hashing`). */
  userImporter(): UserImporter {
    const { users, refreshTokens } = this.stores;
    return new UserImporter({
      users,
      refreshTokens,
      accounts: this.accounts(),
      hashQueue: createHashQueue(this.config),
      clock: this.clock,
    });
  }

  attackProtection(): Promise<AttackProtection> {
    this.attackProtectionOnce ??= this.counterStorage().then(({ counters }) =>
      createAttackProtection(counters, this.stores, this.securityEvents, this.writable().masterKey, this.clock),
    );
    return this.attackProtectionOnce;
  }

  mfa(): Promise<MfaService> {
    this.mfaOnce ??= this.counterStorage().then((counterStorage) =>
      createMfaService({
        config: this.config,
        stores: this.stores,
        counterStorage,
        securityEvents: this.securityEvents,
        masterKey: this.writable().masterKey,
        logger: this.logger,
        clock: this.clock,
      }),
    );
    return this.mfaOnce;
  }

  /** Tells running nodes that a tenant's signing keys changed (through Redis when set; else they re-read within 10 s). */
  async announceKeyChange(tenantId: string): Promise<void> {
    if (this.config.redis === undefined) return;
    await (await this.counterStorage()).keyChanges?.announce(tenantId);
  }

  close(): Promise<void> {
    return this.disposers.close();
  }

  private counterStorage(): Promise<CounterStorage> {
    this.counterStorageOnce ??= openCounterStorage(this.config, this.storage, this.clock, this.logger, this.disposers);
    return this.counterStorageOnce;
  }

  private writable(): { masterKey: Buffer; signingKeys: SigningKeys } {
    // A programming error, not an operator's: the command was registered with the wrong access.
    if (!this.keys) throw new TypeError('this admin command opened the database read-only; open it with write access');
    return this.keys;
  }
}
