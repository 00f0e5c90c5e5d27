/**
 * The Management API's writes to the catalog (DESIGN.md §9, "The file and
 * the API"): rows it creates carry `managed_by_config` = 0, and its updates
 * and deletes touch only such rows, so a row the file declares (or takes
 * over at a start) is never changed here, whatever the caller checked first.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ApiConfig } from '../../config/schema.js';
import type { Database, DeclarableRow } from '../schema.js';
import type { ApiCreatedRow, ApiProfile, ClientGrantRecord, NewApplication } from '../stores.js';
import { toIso } from './time.js';

/** Written by the Management API's creates; served at once. */
const CREATED_THROUGH_API: DeclarableRow = { managed_by_config: 0, disabled_at: null };

/** The columns every new catalog row starts with: a fresh id, its tenant, now, and who manages it. */
export function newCatalogRow(tenantId: string, managedBy: DeclarableRow) {
  const now = toIso(new Date());
  return { id: randomUUID(), tenant_id: tenantId, created_at: now, updated_at: now, ...managedBy };
}

export class SqlCatalogApiWrites {
  constructor(protected readonly db: Kysely<Database>) {}

  async listCreatedThroughApi(): Promise<ApiCreatedRow[]> {
    const [apis, applications, clientGrants] = await Promise.all([
      this.db
        .selectFrom('apis')
        .select(['id', 'tenant_id', 'identifier'])
        .where('managed_by_config', '=', 0)
        .where('disabled_at', 'is', null)
        .orderBy('identifier')
        .execute(),
      this.db
        .selectFrom('applications')
        .select(['id', 'tenant_id', 'client_id'])
        .where('managed_by_config', '=', 0)
        .where('disabled_at', 'is', null)
        .orderBy('client_id')
        .execute(),
      this.db
        .selectFrom('client_grants')
        .select(['id', 'tenant_id', 'client_id', 'audience'])
        .where('managed_by_config', '=', 0)
        .where('disabled_at', 'is', null)
        .orderBy('client_id')
        .orderBy('audience')
        .execute(),
    ]);
    return [
      ...apis.map((a): ApiCreatedRow => ({ kind: 'api', id: a.id, tenantId: a.tenant_id, key: [a.identifier] })),
      ...applications.map((a): ApiCreatedRow => ({ kind: 'application', id: a.id, tenantId: a.tenant_id, key: [a.client_id] })),
      ...clientGrants.map(
        (g): ApiCreatedRow => ({ kind: 'client_grant', id: g.id, tenantId: g.tenant_id, key: [g.client_id, g.audience] }),
      ),
    ];
  }

  async createApplication(tenantId: string, app: NewApplication): Promise<boolean> {
    // The unique (tenant, client_id) is the arbiter, also against a disabled row the file once declared.
    const row = await this.db
      .insertInto('applications')
      .values({
        ...newCatalogRow(tenantId, CREATED_THROUGH_API),
        client_id: app.clientId,
        client_secret_hash: app.clientSecretHash,
        settings: JSON.stringify({ ...app.settings, profile: app.profile }),
      })
      .onConflict((oc) => oc.columns(['tenant_id', 'client_id']).doNothing())
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async updateApplication(
    tenantId: string,
    clientId: string,
    change: Pick<NewApplication, 'settings' | 'profile'> & { clientSecretHash?: string | null },
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('applications')
      .set({
        settings: JSON.stringify({ ...change.settings, profile: change.profile }),
        ...(change.clientSecretHash === undefined ? {} : { client_secret_hash: change.clientSecretHash }),
        updated_at: toIso(new Date()),
      })
      .where('tenant_id', '=', tenantId)
      .where('client_id', '=', clientId)
      .where('managed_by_config', '=', 0)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async deleteApplication(tenantId: string, clientId: string): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const result = await tx
        .deleteFrom('applications')
        .where('tenant_id', '=', tenantId)
        .where('client_id', '=', clientId)
        .where('managed_by_config', '=', 0)
        .executeTakeFirst();
      if (result.numDeletedRows === 0n) return false;
      // Auth0 deletes a client's grants with it; a grant the file declares stays the file's (and names no API-created client).
      await tx
        .deleteFrom('client_grants')
        .where('tenant_id', '=', tenantId)
        .where('client_id', '=', clientId)
        .where('managed_by_config', '=', 0)
        .execute();
      return true;
    });
  }

  async createApi(tenantId: string, api: ApiConfig, profile: ApiProfile): Promise<string | undefined> {
    const row = await this.db
      .insertInto('apis')
      .values({
        ...newCatalogRow(tenantId, CREATED_THROUGH_API),
        identifier: api.identifier,
        settings: JSON.stringify({ ...api, profile }),
      })
      .onConflict((oc) => oc.columns(['tenant_id', 'identifier']).doNothing())
      .returning('id')
      .executeTakeFirst();
    return row?.id;
  }

  async updateApi(tenantId: string, id: string, api: ApiConfig, profile: ApiProfile): Promise<boolean> {
    const result = await this.db
      .updateTable('apis')
      .set({ settings: JSON.stringify({ ...api, profile }), updated_at: toIso(new Date()) })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('identifier', '=', api.identifier)
      .where('managed_by_config', '=', 0)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async deleteApi(tenantId: string, id: string): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx
        .deleteFrom('apis')
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .where('managed_by_config', '=', 0)
        .returning('identifier')
        .executeTakeFirst();
      if (!row) return false;
      await tx
        .deleteFrom('client_grants')
        .where('tenant_id', '=', tenantId)
        .where('audience', '=', row.identifier)
        .where('managed_by_config', '=', 0)
        .execute();
      return true;
    });
  }

  async createClientGrant(
    tenantId: string,
    grant: Pick<ClientGrantRecord, 'clientId' | 'audience' | 'scope'>,
  ): Promise<string | undefined> {
    const row = await this.db
      .insertInto('client_grants')
      .values({
        ...newCatalogRow(tenantId, CREATED_THROUGH_API),
        client_id: grant.clientId,
        audience: grant.audience,
        scope: JSON.stringify(grant.scope),
      })
      .onConflict((oc) => oc.columns(['tenant_id', 'client_id', 'audience']).doNothing())
      .returning('id')
      .executeTakeFirst();
    return row?.id;
  }

  async updateClientGrant(tenantId: string, id: string, scope: readonly string[]): Promise<boolean> {
    const result = await this.db
      .updateTable('client_grants')
      .set({ scope: JSON.stringify(scope), updated_at: toIso(new Date()) })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('managed_by_config', '=', 0)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async deleteClientGrant(tenantId: string, id: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('client_grants')
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('managed_by_config', '=', 0)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
