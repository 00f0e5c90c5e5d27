/**
 * APIs through the Management API (Auth0's `resource-servers`, DESIGN.md
 * §9). An API created here is held to the file's rules (config/schema.ts
 * `apiSchema`), lives in the database and is served at once: tokens for it
 * from the next request, a signing key made for a new algorithm. The
 * built-in Management API is listed as Auth0 lists its own (`is_system`,
 * read-only); the built-in MFA API is not listed, and neither identifier
 * can be taken.
 */
import type { z } from 'zod';
import { apiSchema, type ApiConfig } from '../../config/schema.js';
import { badRequest, conflict, managedByConfig, ManagementApiError, notFound } from '../../domain/management-errors.js';
import type { Tenant } from '../../domain/tenant.js';
import type { ApiProfile, ApiRecord, CatalogStore } from '../../storage/stores.js';
import type { CatalogChanges } from './catalog-changes.js';
import { parseByFileRules } from './file-rules.js';

/** The built-in Management API's id in every tenant (stored APIs have UUIDs). */
export const MANAGEMENT_API_ID = 'management-api';

/** An API as the Management API shows it: a stored one, or the built-in Management API. */
export interface ResourceServer {
  id: string;
  settings: ApiConfig;
  profile: ApiProfile;
  isSystem: boolean;
  /** False for what the file declares and for the built-in API. */
  writable: boolean;
}

export interface ResourceServerFields {
  name?: string | undefined;
  scopes?: Array<{ value: string; description?: string | undefined }> | undefined;
  signing_alg?: ApiConfig['signing_alg'] | undefined;
  token_lifetime?: number | undefined;
  allow_offline_access?: boolean | undefined;
}

export interface ManagementResourceServersDeps {
  store: Pick<CatalogStore, 'createApi' | 'updateApi' | 'deleteApi'>;
  changes: Pick<CatalogChanges, 'changed'>;
}

export class ManagementResourceServers {
  constructor(private readonly deps: ManagementResourceServersDeps) {}

  /** The built-in Management API first (as Auth0 lists its system API), then the tenant's by identifier. */
  list(tenant: Tenant, identifiers?: readonly string[]): ResourceServer[] {
    const stored = [...tenant.apiRecords.values()]
      .sort((a, b) => (a.settings.identifier < b.settings.identifier ? -1 : a.settings.identifier > b.settings.identifier ? 1 : 0))
      .map(describe);
    const all = [systemApi(tenant), ...stored];
    return identifiers === undefined ? all : all.filter((api) => identifiers.includes(api.settings.identifier));
  }

  /** By id or by identifier, as Auth0 accepts both. */
  get(tenant: Tenant, idOrIdentifier: string): ResourceServer {
    const found = this.list(tenant).find((api) => api.id === idOrIdentifier || api.settings.identifier === idOrIdentifier);
    if (!found) throw notFound('inexistent_resource_server', 'The resource server does not exist.');
    return found;
  }

  async create(tenant: Tenant, identifier: string, fields: ResourceServerFields): Promise<ResourceServer> {
    if (identifier === tenant.endpoints.managementApi || identifier === tenant.endpoints.mfaApi) {
      throw conflict('resource_server_conflict', `The identifier ${identifier} is reserved by a built-in API of this tenant.`);
    }
    const settings = validSettings({ identifier, ...settingsOf(fields) });
    const id = await this.deps.store.createApi(tenant.id, settings, profileOf(fields));
    if (id === undefined) throw conflict('resource_server_conflict', 'A resource server with the same identifier already exists.');
    return this.get(await this.deps.changes.changed(tenant), id);
  }

  /** Auth0's PATCH: only the fields given change; the identifier never does. */
  async update(tenant: Tenant, idOrIdentifier: string, fields: ResourceServerFields): Promise<ResourceServer> {
    const api = this.writable(tenant, idOrIdentifier);
    const settings = validSettings({ ...api.settings, ...settingsOf(fields) });
    const profile = { ...api.profile, ...profileOf(fields) };
    if (!(await this.deps.store.updateApi(tenant.id, api.id, settings, profile))) throw managedByConfig(`The resource server ${api.id}`);
    return this.get(await this.deps.changes.changed(tenant), api.id);
  }

  /** The API and the client grants for it go; tokens already issued for it stay valid until they expire, as at Auth0. */
  async delete(tenant: Tenant, idOrIdentifier: string): Promise<void> {
    const api = this.writable(tenant, idOrIdentifier);
    if (!(await this.deps.store.deleteApi(tenant.id, api.id))) throw managedByConfig(`The resource server ${api.id}`);
    await this.deps.changes.changed(tenant);
  }

  private writable(tenant: Tenant, idOrIdentifier: string): ResourceServer {
    const api = this.get(tenant, idOrIdentifier);
    if (api.isSystem) {
      throw new ManagementApiError(403, 'operation_not_supported', 'The Management API is a system API: it cannot be changed or deleted.');
    }
    if (!api.writable) throw managedByConfig(`The resource server ${api.id}`);
    return api;
  }
}

function describe(record: ApiRecord): ResourceServer {
  return {
    id: record.id,
    settings: record.settings,
    profile: record.profile ?? {},
    isSystem: false,
    writable: record.createdThroughApi === true,
  };
}

function systemApi(tenant: Tenant): ResourceServer {
  const settings = tenant.apis.get(tenant.endpoints.managementApi);
  if (!settings) throw new Error('the built-in Management API is missing from the catalog');
  return { id: MANAGEMENT_API_ID, settings, profile: { name: 'Latchkey Management API' }, isSystem: true, writable: false };
}

function settingsOf(fields: ResourceServerFields): Partial<z.input<typeof apiSchema>> {
  const settings: Partial<z.input<typeof apiSchema>> = {};
  if (fields.scopes !== undefined) settings.scopes = fields.scopes.map((s) => s.value);
  if (fields.signing_alg !== undefined) settings.signing_alg = fields.signing_alg;
  if (fields.token_lifetime !== undefined) settings.token_lifetime = fields.token_lifetime;
  if (fields.allow_offline_access !== undefined) settings.allow_offline_access = fields.allow_offline_access;
  return settings;
}

function profileOf(fields: ResourceServerFields): ApiProfile {
  const profile: ApiProfile = {};
  if (fields.name !== undefined) profile.name = fields.name;
  if (fields.scopes !== undefined) {
    profile.scopeDescriptions = Object.fromEntries(
      fields.scopes.flatMap((s) => (s.description === undefined ? [] : [[s.value, s.description] as const])),
    );
  }
  return profile;
}

/** The file's rules (config/schema.ts), and each scope once. */
function validSettings(input: z.input<typeof apiSchema>): ApiConfig {
  const settings = parseByFileRules(apiSchema, input);
  const duplicate = settings.scopes.find((scope, i) => settings.scopes.indexOf(scope) !== i);
  if (duplicate !== undefined) throw badRequest(`Payload validation error: the scope ${duplicate} is listed twice on property scopes.`);
  return settings;
}
