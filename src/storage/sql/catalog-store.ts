import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { DEFAULT_PASSWORD_POLICY, type ApiConfig, type ConnectionConfig } from '../../config/schema.js';
import type { Database } from '../schema.js';
import type { ApplicationSettings, CatalogSnapshot, CatalogStore, TenantSettings } from '../stores.js';
import { toIso } from './time.js';

export class SqlCatalogStore implements CatalogStore {
  constructor(private readonly db: Kysely<Database>) {}

  async upsertTenant(name: string, settings: TenantSettings): Promise<string> {
    const now = toIso(new Date());
    const existing = await this.db.selectFrom('tenants').select('id').where('name', '=', name).executeTakeFirst();
    if (existing) {
      await this.db.updateTable('tenants').set({ settings: JSON.stringify(settings), updated_at: now }).where('id', '=', existing.id).execute();
      return existing.id;
    }
    const id = randomUUID();
    await this.db.insertInto('tenants').values({ id, name, settings: JSON.stringify(settings), created_at: now, updated_at: now }).execute();
    return id;
  }

  async upsertConnection(tenantId: string, connection: Pick<ConnectionConfig, 'name' | 'type'> & Partial<ConnectionConfig>): Promise<string> {
    const now = toIso(new Date());
    // Secrets (a validator's HMAC key, an LDAP service account's password) stay in the configuration (memory), never in the database.
    const { name, type, secret: _secret, bind_password: _bindPassword, ...settings } = connection;
    const existing = await this.db.selectFrom('connections').select('id').where('tenant_id', '=', tenantId).where('name', '=', name).executeTakeFirst();
    if (existing) {
      await this.db.updateTable('connections').set({ type, settings: JSON.stringify(settings), updated_at: now }).where('id', '=', existing.id).execute();
      return existing.id;
    }
    const id = randomUUID();
    await this.db.insertInto('connections').values({ id, tenant_id: tenantId, name, type, settings: JSON.stringify(settings), created_at: now, updated_at: now }).execute();
    return id;
  }

  async upsertApi(tenantId: string, api: ApiConfig): Promise<string> {
    const now = toIso(new Date());
    const existing = await this.db.selectFrom('apis').select('id').where('tenant_id', '=', tenantId).where('identifier', '=', api.identifier).executeTakeFirst();
    if (existing) {
      await this.db.updateTable('apis').set({ settings: JSON.stringify(api), updated_at: now }).where('id', '=', existing.id).execute();
      return existing.id;
    }
    const id = randomUUID();
    await this.db.insertInto('apis').values({ id, tenant_id: tenantId, identifier: api.identifier, settings: JSON.stringify(api), created_at: now, updated_at: now }).execute();
    return id;
  }

  async upsertApplication(tenantId: string, clientId: string, clientSecretHash: string | null, settings: ApplicationSettings): Promise<string> {
    const now = toIso(new Date());
    const existing = await this.db.selectFrom('applications').select('id').where('tenant_id', '=', tenantId).where('client_id', '=', clientId).executeTakeFirst();
    if (existing) {
      await this.db
        .updateTable('applications')
        .set({ client_secret_hash: clientSecretHash, settings: JSON.stringify(settings), updated_at: now })
        .where('id', '=', existing.id)
        .execute();
      return existing.id;
    }
    const id = randomUUID();
    await this.db
      .insertInto('applications')
      .values({ id, tenant_id: tenantId, client_id: clientId, client_secret_hash: clientSecretHash, settings: JSON.stringify(settings), created_at: now, updated_at: now })
      .execute();
    return id;
  }

  async load(): Promise<CatalogSnapshot> {
    const [tenants, connections, apis, applications] = await Promise.all([
      this.db.selectFrom('tenants').selectAll().orderBy('name').execute(),
      this.db.selectFrom('connections').selectAll().orderBy('name').execute(),
      this.db.selectFrom('apis').selectAll().orderBy('identifier').execute(),
      this.db.selectFrom('applications').selectAll().orderBy('client_id').execute(),
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
          ...(c.type !== 'http' || settings.url === undefined ? {} : { validator: { url: settings.url, timeoutMs: settings.timeout_ms ?? 2000 } }),
        };
      }),
      apis: apis.map((a) => ({ id: a.id, tenantId: a.tenant_id, settings: JSON.parse(a.settings) as ApiConfig })),
      applications: applications.map((a) => ({
        id: a.id,
        tenantId: a.tenant_id,
        clientId: a.client_id,
        clientSecretHash: a.client_secret_hash,
        settings: JSON.parse(a.settings) as ApplicationSettings,
      })),
    };
  }
}
