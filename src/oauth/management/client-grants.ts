/**
 * Client grants through the Management API (Auth0's `client-grants`,
 * DESIGN.md §9): which API an application may call with
 * client_credentials, and with which scopes. The same rules as the file's
 * (config/schema.ts): the application and the API must be the tenant's, the
 * scopes the API's, one grant per (application, API). The built-in
 * Management API `{issuer}api/v2/` may be granted, as at Auth0.
 */
import { badRequest, conflict, managedByConfig, notFound } from '../../domain/management-errors.js';
import type { Tenant } from '../../domain/tenant.js';
import type { CatalogStore, ClientGrantRecord } from '../../storage/stores.js';
import type { CatalogChanges } from './catalog-changes.js';

export interface ClientGrantFilter {
  audience?: string | undefined;
  clientId?: string | undefined;
}

export interface ManagementClientGrantsDeps {
  store: Pick<CatalogStore, 'createClientGrant' | 'updateClientGrant' | 'deleteClientGrant'>;
  changes: Pick<CatalogChanges, 'changed'>;
}

export class ManagementClientGrants {
  constructor(private readonly deps: ManagementClientGrantsDeps) {}

  /** By client_id, then audience: a stable order for offset and checkpoint paging alike. */
  list(tenant: Tenant, filter: ClientGrantFilter): ClientGrantRecord[] {
    return tenant.clientGrantRecords
      .filter(
        (g) =>
          (filter.audience === undefined || g.audience === filter.audience) &&
          (filter.clientId === undefined || g.clientId === filter.clientId),
      )
      .sort((a, b) => compareKeys(grantKey(a), grantKey(b)));
  }

  async create(tenant: Tenant, grant: Pick<ClientGrantRecord, 'clientId' | 'audience' | 'scope'>): Promise<ClientGrantRecord> {
    if (!tenant.applications.has(grant.clientId)) throw notFound('inexistent_client', `The client ${grant.clientId} does not exist.`);
    const scope = this.validScope(tenant, grant.audience, grant.scope);
    const id = await this.deps.store.createClientGrant(tenant.id, { clientId: grant.clientId, audience: grant.audience, scope });
    if (id === undefined) throw conflict('client_grant_conflict', 'A client grant for this client and audience already exists.');
    return this.served(await this.deps.changes.changed(tenant), id);
  }

  /** Auth0's PATCH: the scopes, replaced. */
  async update(tenant: Tenant, id: string, scope: readonly string[]): Promise<ClientGrantRecord> {
    const grant = this.writable(tenant, id);
    const valid = this.validScope(tenant, grant.audience, scope);
    if (!(await this.deps.store.updateClientGrant(tenant.id, id, valid))) throw managedByConfig(`The client grant ${id}`);
    return this.served(await this.deps.changes.changed(tenant), id);
  }

  /** client_credentials for that API is refused from now on, and the application's Management API tokens with it. */
  async delete(tenant: Tenant, id: string): Promise<void> {
    this.writable(tenant, id);
    if (!(await this.deps.store.deleteClientGrant(tenant.id, id))) throw managedByConfig(`The client grant ${id}`);
    await this.deps.changes.changed(tenant);
  }

  private served(tenant: Tenant, id: string): ClientGrantRecord {
    const grant = tenant.clientGrantRecords.find((g) => g.id === id);
    if (!grant) throw notFound('inexistent_client_grant', 'The client grant does not exist.');
    return grant;
  }

  private writable(tenant: Tenant, id: string): ClientGrantRecord {
    const grant = this.served(tenant, id);
    if (!grant.createdThroughApi) throw managedByConfig(`The client grant ${id}`);
    return grant;
  }

  /** The API's own scopes only, each once (Auth0 refuses unknown ones too: the grant could never be used for them). */
  private validScope(tenant: Tenant, audience: string, scope: readonly string[]): string[] {
    const api = tenant.apis.get(audience);
    if (!api || audience === tenant.endpoints.mfaApi) {
      throw notFound('inexistent_resource_server', `No resource server with identifier ${audience} in this tenant.`);
    }
    const unknown = scope.filter((s) => !api.scopes.includes(s));
    if (unknown.length > 0) {
      throw badRequest(
        `Payload validation error: scope ${unknown.join(', ')} is not defined by the resource server ${audience} (it has: ${api.scopes.join(', ') || 'none'}).`,
      );
    }
    return [...new Set(scope)];
  }
}

/** What a checkpoint (`from`) names: a grant's place in the list's order. */
export function grantKey(grant: Pick<ClientGrantRecord, 'clientId' | 'audience'>): [string, string] {
  return [grant.clientId, grant.audience];
}

export function compareKeys(a: readonly [string, string], b: readonly [string, string]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return 0;
}
