import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { DEFAULT_PASSWORD_POLICY, type ApiConfig, type ConnectionConfig } from '../../config/schema.js';
import type { Database, DeclarableRow } from '../schema.js';
import type {
  ApiProfile,
  ApplicationProfile,
  ApplicationSettings,
  CatalogSnapshot,
  CatalogStore,
  ClientGrantRecord,
  DeclarableKind,
  DeclaredRow,
  TenantSettings,
} from '../stores.js';
import { newCatalogRow, SqlCatalogApiWrites } from './catalog-api-writes.js';
import { fromIsoOrNull, toIso } from './time.js';

/** Written by every upsert: the file declares the row, so it is served (again). */
const DECLARED: DeclarableRow = { managed_by_config: 1, disabled_at: null };

const TABLE_OF: Record<DeclarableKind, 'tenants' | 'connections' | 'apis' | 'applications' | 'client_grants'> = {
  tenant: 'tenants',
  connection: 'connections',
  api: 'apis',
  application: 'applications',
  client_grant: 'client_grants',
};

export class SqlCatalogStore extends SqlCatalogApiWrites implements CatalogStore {
  constructor(db: Kysely<Database>) {
    super(db);
  }

  async upsertTenant(name: string, settings: TenantSettings): Promise<string> {
    const now = toIso(new Date());
    const existing = await this.db.selectFrom('tenants').select('id').where('name', '=', name).executeTakeFirst();
    if (existing) {
      await this.db
        .updateTable('tenants')
        .set({ settings: JSON.stringify(settings), updated_at: now, ...DECLARED })
        .where('id', '=', existing.id)
        .execute();
      return existing.id;
    }
    const id = randomUUID();
    await this.db
      .insertInto('tenants')
      .values({ id, name, settings: JSON.stringify(settings), created_at: now, updated_at: now, ...DECLARED })
      .execute();
    return id;
  }

  async upsertConnection(
    tenantId: string,
    connection: Pick<ConnectionConfig, 'name' | 'type'> & Partial<ConnectionConfig>,
  ): Promise<string> {
    const now = toIso(new Date());
    // Secrets (a validator's HMAC key, an LDAP service account's password) stay in the configuration (memory), never in the database.
    const { name, type, secret: _secret, bind_password: _bindPassword, ...settings } = connection;
    const existing = await this.db
      .selectFrom('connections')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (existing) {
      await this.db
        .updateTable('connections')
        .set({ type, settings: JSON.stringify(settings), updated_at: now, ...DECLARED })
        .where('id', '=', existing.id)
        .execute();
      return existing.id;
    }
    const id = randomUUID();
    await this.db
      .insertInto('connections')
      .values({ id, tenant_id: tenantId, name, type, settings: JSON.stringify(settings), created_at: now, updated_at: now, ...DECLARED })
      .execute();
    return id;
  }

  async upsertApi(tenantId: string, api: ApiConfig): Promise<string> {
    const now = toIso(new Date());
    const existing = await this.db
      .selectFrom('apis')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('identifier', '=', api.identifier)
      .executeTakeFirst();
    if (existing) {
      await this.db
        .updateTable('apis')
        .set({ settings: JSON.stringify(api), updated_at: now, ...DECLARED })
        .where('id', '=', existing.id)
        .execute();
      return existing.id;
    }
    const id = randomUUID();
    await this.db
      .insertInto('apis')
      .values({
        id,
        tenant_id: tenantId,
        identifier: api.identifier,
        settings: JSON.stringify(api),
        created_at: now,
        updated_at: now,
        ...DECLARED,
      })
      .execute();
    return id;
  }

  async upsertApplication(
    tenantId: string,
    clientId: string,
    clientSecretHash: string | null,
    settings: ApplicationSettings,
  ): Promise<string> {
    const now = toIso(new Date());
    const existing = await this.db
      .selectFrom('applications')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    if (existing) {
      await this.db
        .updateTable('applications')
        .set({ client_secret_hash: clientSecretHash, settings: JSON.stringify(settings), updated_at: now, ...DECLARED })
        .where('id', '=', existing.id)
        .execute();
      return existing.id;
    }
    const id = randomUUID();
    await this.db
      .insertInto('applications')
      .values({
        id,
        tenant_id: tenantId,
        client_id: clientId,
        client_secret_hash: clientSecretHash,
        settings: JSON.stringify(settings),
        created_at: now,
        updated_at: now,
        ...DECLARED,
      })
      .execute();
    return id;
  }

  async upsertClientGrant(tenantId: string, grant: Pick<ClientGrantRecord, 'clientId' | 'audience' | 'scope'>): Promise<string> {
    const now = toIso(new Date());
    const scope = JSON.stringify(grant.scope);
    // The unique key is the arbiter: one row per (tenant, application, API) however many nodes start at once.
    const row = await this.db
      .insertInto('client_grants')
      .values({ ...newCatalogRow(tenantId, DECLARED), client_id: grant.clientId, audience: grant.audience, scope })
      .onConflict((oc) => oc.columns(['tenant_id', 'client_id', 'audience']).doUpdateSet({ scope, updated_at: now, ...DECLARED }))
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  async listDeclared(): Promise<DeclaredRow[]> {
    const [tenants, connections, apis, applications, clientGrants] = await Promise.all([
      this.db.selectFrom('tenants').select(['id', 'name', 'disabled_at']).where('managed_by_config', '=', 1).execute(),
      this.db.selectFrom('connections').select(['id', 'tenant_id', 'name', 'disabled_at']).where('managed_by_config', '=', 1).execute(),
      this.db.selectFrom('apis').select(['id', 'tenant_id', 'identifier', 'disabled_at']).where('managed_by_config', '=', 1).execute(),
      this.db
        .selectFrom('applications')
        .select(['id', 'tenant_id', 'client_id', 'disabled_at'])
        .where('managed_by_config', '=', 1)
        .execute(),
      this.db
        .selectFrom('client_grants')
        .select(['id', 'tenant_id', 'client_id', 'audience', 'disabled_at'])
        .where('managed_by_config', '=', 1)
        .execute(),
    ]);
    const declared = (kind: DeclarableKind, id: string, tenantId: string, key: string[], disabledAt: string | null): DeclaredRow => ({
      kind,
      id,
      tenantId,
      key,
      disabledAt: fromIsoOrNull(disabledAt),
    });
    return [
      ...tenants.map((t) => declared('tenant', t.id, t.id, [t.name], t.disabled_at)),
      ...connections.map((c) => declared('connection', c.id, c.tenant_id, [c.name], c.disabled_at)),
      ...apis.map((a) => declared('api', a.id, a.tenant_id, [a.identifier], a.disabled_at)),
      ...applications.map((a) => declared('application', a.id, a.tenant_id, [a.client_id], a.disabled_at)),
      ...clientGrants.map((g) => declared('client_grant', g.id, g.tenant_id, [g.client_id, g.audience], g.disabled_at)),
    ];
  }

  async disable(rows: ReadonlyArray<Pick<DeclaredRow, 'kind' | 'id'>>, at: Date): Promise<void> {
    const disabledAt = toIso(at);
    for (const kind of Object.keys(TABLE_OF) as DeclarableKind[]) {
      const ids = rows.filter((r) => r.kind === kind).map((r) => r.id);
      if (ids.length === 0) continue;
      // Only rows still served: a second disable keeps the instant the file first stopped declaring it.
      await this.db
        .updateTable(TABLE_OF[kind])
        .set({ disabled_at: disabledAt })
        .where('id', 'in', ids)
        .where('disabled_at', 'is', null)
        .execute();
    }
  }

  async load(): Promise<CatalogSnapshot> {
    // Disabled rows are kept for their data, never served.
    const [tenants, connections, apis, applications, clientGrants] = await Promise.all([
      this.db.selectFrom('tenants').selectAll().where('disabled_at', 'is', null).orderBy('name').execute(),
      this.db.selectFrom('connections').selectAll().where('disabled_at', 'is', null).orderBy('name').execute(),
      this.db.selectFrom('apis').selectAll().where('disabled_at', 'is', null).orderBy('identifier').execute(),
      this.db.selectFrom('applications').selectAll().where('disabled_at', 'is', null).orderBy('client_id').execute(),
      this.db.selectFrom('client_grants').selectAll().where('disabled_at', 'is', null).orderBy('client_id').orderBy('audience').execute(),
    ]);
    return {
      tenants: tenants.map((t) => ({ id: t.id, name: t.name, settings: JSON.parse(t.settings) as TenantSettings })),
      connections: connections.map((c) => {
        const settings = JSON.parse(c.settings) as Partial<ConnectionConfig>;
        return {
          id: c.id,
          tenantId: c.tenant_id,
          name: c.name,
          type: c.type as ConnectionConfig['type'],
          passwordPolicy: { ...DEFAULT_PASSWORD_POLICY, ...settings.password_policy },
          // Absent means closed (DESIGN.md §8); only a connection that states it carries the key.
          ...(settings.disable_signup === undefined ? {} : { disableSignup: settings.disable_signup }),
          ...(c.type !== 'http' || settings.url === undefined
            ? {}
            : { validator: { url: settings.url, timeoutMs: settings.timeout_ms ?? 2000 } }),
        };
      }),
      apis: apis.map((a) => {
        const { profile, ...settings } = JSON.parse(a.settings) as ApiConfig & { profile?: ApiProfile };
        return { id: a.id, tenantId: a.tenant_id, settings, ...(profile ? { profile } : {}), ...createdThroughApi(a) };
      }),
      applications: applications.map((a) => {
        const { profile, ...settings } = JSON.parse(a.settings) as ApplicationSettings & { profile?: ApplicationProfile };
        return {
          id: a.id,
          tenantId: a.tenant_id,
          clientId: a.client_id,
          clientSecretHash: a.client_secret_hash,
          settings,
          ...(profile ? { profile } : {}),
          ...createdThroughApi(a),
        };
      }),
      clientGrants: clientGrants.map((g) => ({
        id: g.id,
        tenantId: g.tenant_id,
        clientId: g.client_id,
        audience: g.audience,
        scope: JSON.parse(g.scope) as string[],
        ...createdThroughApi(g),
      })),
    };
  }
}

/** `createdThroughApi` only on rows the file does not declare, so a declared row's record stays as it always was. */
function createdThroughApi(row: { managed_by_config: number }): { createdThroughApi?: true } {
  return row.managed_by_config === 0 ? { createdThroughApi: true } : {};
}
