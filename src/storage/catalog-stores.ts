/**
 * The catalog's storage contract (DESIGN.md §2, §9): tenants, connections,
 * APIs, applications and client grants, written by config apply and by the
 * Management API, read into memory (domain/tenant.ts). Re-exported by
 * stores.ts with the other contracts.
 */
import type { ApiConfig, ApplicationConfig, ConnectionConfig, PasswordPolicyConfig, TenantConfig } from '../config/schema.js';

/** Attack-protection keys are optional here: a tenant stored before they existed gets the defaults (oauth/catalog.ts). */
export type TenantSettings = Pick<TenantConfig, 'default_directory' | 'default_audience' | 'id_token_signing_alg' | 'id_token_lifetime'> &
  Partial<
    Pick<
      TenantConfig,
      | 'attack_protection'
      | 'rate_limits'
      | 'trusted_proxies'
      | 'mfa'
      | 'browser_session'
      | 'device_flow'
      | 'administrators'
      | 'management_api'
    >
  >;
export type ApplicationSettings = Omit<ApplicationConfig, 'client_secret' | 'client_id'>;

export interface TenantRecord {
  id: string;
  name: string;
  settings: TenantSettings;
}

export interface ConnectionRecord {
  id: string;
  tenantId: string;
  name: string;
  type: ConnectionConfig['type'];
  passwordPolicy: PasswordPolicyConfig;
  /** type http: where the custom credential validator listens (its secret stays in the configuration). */
  validator?: { url: string; timeoutMs: number };
  /** type database: `disable_signup` (DESIGN.md §8); sign-up is open only when this is exactly false. */
  disableSignup?: boolean;
}

/**
 * Set on a catalog row the Management API created (`managed_by_config` = 0):
 * the API may change and delete it. Absent: the configuration file declares
 * it, and it is read-only through the API (DESIGN.md §9).
 */
export interface CreatedThroughApi {
  createdThroughApi?: true;
}

/** What the Management API keeps of an API (Auth0's resource server) beyond the file's keys. */
export interface ApiProfile {
  name?: string;
  /** Auth0's `scopes[].description`, by scope value. */
  scopeDescriptions?: Record<string, string>;
}

export interface ApiRecord extends CreatedThroughApi {
  id: string;
  tenantId: string;
  settings: ApiConfig;
  /** Only on rows the Management API created or changed. */
  profile?: ApiProfile;
}

export const APP_TYPES = ['native', 'spa', 'regular_web', 'non_interactive'] as const;
export type AppType = (typeof APP_TYPES)[number];

/** What the Management API keeps of an application (Auth0's client) beyond the file's keys. */
export interface ApplicationProfile {
  appType?: AppType;
  description?: string;
}

export interface ApplicationRecord extends CreatedThroughApi {
  id: string;
  tenantId: string;
  clientId: string;
  clientSecretHash: string | null;
  settings: ApplicationSettings;
  /** Only on rows the Management API created or changed. */
  profile?: ApplicationProfile;
}

/** Auth0's client grant: the application may call this API with client_credentials, with at most these scopes (DESIGN.md §9). */
export interface ClientGrantRecord extends CreatedThroughApi {
  id: string;
  tenantId: string;
  clientId: string;
  audience: string;
  scope: string[];
}

/** What is served: every catalog row that is not disabled. */
export interface CatalogSnapshot {
  tenants: TenantRecord[];
  connections: ConnectionRecord[];
  apis: ApiRecord[];
  applications: ApplicationRecord[];
  clientGrants: ClientGrantRecord[];
}

/** The catalog objects the configuration file declares, and so can stop declaring (DESIGN.md §2). */
export type DeclarableKind = 'tenant' | 'connection' | 'api' | 'application' | 'client_grant';

/** A row the configuration file declared (`managed_by_config`), as the database holds it now. */
export interface DeclaredRow {
  kind: DeclarableKind;
  id: string;
  /** For a tenant, its own id. */
  tenantId: string;
  /** What the file names it by: a tenant's or connection's name, an API's identifier, a client_id; a client grant's client_id and audience. */
  key: readonly string[];
  /** Set at the start where the file stopped declaring it. */
  disabledAt: Date | null;
}

/** A catalog row the Management API created, for `latchkey config check` (it lists what the file does not manage). */
export interface ApiCreatedRow {
  kind: Extract<DeclarableKind, 'api' | 'application' | 'client_grant'>;
  id: string;
  tenantId: string;
  /** As in DeclaredRow. */
  key: readonly string[];
}

/** An application the Management API creates: its settings as the file would declare them, and its secret's hash. */
export interface NewApplication {
  clientId: string;
  clientSecretHash: string | null;
  settings: ApplicationSettings;
  profile: ApplicationProfile;
}

/**
 * Tenants, connections, APIs, applications and client grants: written by
 * config apply, read into memory at start. The upserts mark a row as
 * declared by the file and served; `disable` keeps a row the file no longer
 * declares but stops serving it (load() leaves it out).
 *
 * The Management API writes through the narrow create/update/delete methods
 * below: they create rows with `managed_by_config` = 0 and change or delete
 * only such rows (a row the file declares answers `false`/`undefined`, so a
 * start that takes a row over between the API's check and its write still
 * wins). Config apply's upserts take any row with the file's key over.
 */
export interface CatalogStore {
  upsertTenant(name: string, settings: TenantSettings): Promise<string>;
  upsertConnection(tenantId: string, connection: Pick<ConnectionConfig, 'name' | 'type'> & Partial<ConnectionConfig>): Promise<string>;
  upsertApi(tenantId: string, api: ApiConfig): Promise<string>;
  upsertApplication(tenantId: string, clientId: string, clientSecretHash: string | null, settings: ApplicationSettings): Promise<string>;
  upsertClientGrant(tenantId: string, grant: Pick<ClientGrantRecord, 'clientId' | 'audience' | 'scope'>): Promise<string>;
  /** Every row the file declared at some start, disabled ones included. */
  listDeclared(): Promise<DeclaredRow[]>;
  /** Stops serving these rows from the next load(); their data stays. */
  disable(rows: ReadonlyArray<Pick<DeclaredRow, 'kind' | 'id'>>, at: Date): Promise<void>;
  load(): Promise<CatalogSnapshot>;

  /** Every row the Management API created and that is still served. */
  listCreatedThroughApi(): Promise<ApiCreatedRow[]>;
  /** False when the tenant already has a row with this client_id (a disabled declared one included). */
  createApplication(tenantId: string, app: NewApplication): Promise<boolean>;
  /** Replaces settings and profile, and the secret's hash when given; false unless an API-created row. */
  updateApplication(
    tenantId: string,
    clientId: string,
    change: Pick<NewApplication, 'settings' | 'profile'> & { clientSecretHash?: string | null },
  ): Promise<boolean>;
  /** Deletes the API-created application and the API-created client grants naming it; false unless an API-created row. */
  deleteApplication(tenantId: string, clientId: string): Promise<boolean>;
  /** The new row's id; undefined when the tenant already has a row with this identifier. */
  createApi(tenantId: string, api: ApiConfig, profile: ApiProfile): Promise<string | undefined>;
  /** Replaces settings and profile (the identifier never changes); false unless an API-created row. */
  updateApi(tenantId: string, id: string, api: ApiConfig, profile: ApiProfile): Promise<boolean>;
  /** Deletes the API-created API and the API-created client grants for it; false unless an API-created row. */
  deleteApi(tenantId: string, id: string): Promise<boolean>;
  /** The new grant's id; undefined when one for this (application, API) exists (a disabled declared one included). */
  createClientGrant(tenantId: string, grant: Pick<ClientGrantRecord, 'clientId' | 'audience' | 'scope'>): Promise<string | undefined>;
  updateClientGrant(tenantId: string, id: string, scope: readonly string[]): Promise<boolean>;
  deleteClientGrant(tenantId: string, id: string): Promise<boolean>;
}
