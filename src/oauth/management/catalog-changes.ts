/**
 * After a Management API write to the catalog (applications, APIs, client
 * grants): this node serves the change at once (the catalog reloaded from
 * storage), a signing key exists for any algorithm the change introduced,
 * and the other nodes are told to reload too (Redis pub/sub when configured;
 * otherwise they pick it up at their periodic re-read). DESIGN.md §9.
 */
import type { Catalog, Tenant } from '../../domain/tenant.js';
import type { CatalogStore } from '../../storage/stores.js';
import type { SigningKeys } from '../../tokens/signing-keys.js';

/** How a change reaches the other nodes (storage/redis/key-change-notices.ts). */
export interface ChangeAnnouncer {
  announce(tenantId: string): Promise<void>;
}

export interface CatalogChangesDeps {
  catalog: Pick<Catalog, 'replace' | 'tenant'>;
  store: Pick<CatalogStore, 'load'>;
  signingKeys: Pick<SigningKeys, 'ensureKeys'>;
  /** Absent without Redis. */
  catalogNotices?: ChangeAnnouncer | undefined;
  keyNotices?: ChangeAnnouncer | undefined;
}

export class CatalogChanges {
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly deps: CatalogChangesDeps) {}

  /**
   * A write to the tenant's catalog is committed: serve it here, then tell
   * the other nodes. Answers the tenant as now served (the reload replaces
   * the Tenant objects, so the request's own is the old one).
   */
  async changed(tenant: Tenant): Promise<Tenant> {
    await this.reload();
    const served = this.deps.catalog.tenant(tenant.name) ?? tenant;
    // An API may sign with an algorithm the tenant had no key for yet (at a start, bootstrap creates them).
    if ((await this.deps.signingKeys.ensureKeys(served.id, served.signingAlgs)).length > 0) await this.deps.keyNotices?.announce(served.id);
    await this.deps.catalogNotices?.announce(served.id);
    return served;
  }

  /**
   * Reads the catalog again and serves it. Reloads run one after another, so
   * each load starts after the previous one was served: an older snapshot
   * never replaces a newer one, and a reload asked after a commit sees it.
   */
  reload(): Promise<void> {
    const next = this.queue.then(async () => this.deps.catalog.replace(await this.deps.store.load()));
    this.queue = next.catch(() => undefined);
    return next;
  }
}
