/**
 * Applications through the Management API (Auth0's `clients`, DESIGN.md §9).
 * An application created here is held to the same rules as one the file
 * declares (config/schema.ts `applicationSchema` validates both), lives in
 * the database (`managed_by_config` = 0) and is served at once; one the file
 * declares is read-only here (409 managed_by_config).
 *
 * Secrets: drawn from the CSPRNG (48 bytes, 64 characters as Auth0's), told
 * once (on create, on rotation, or when a change makes a public client
 * confidential), stored only as the SecretHasher's HMAC like the file's.
 */
import type { z } from 'zod';
import type { Clock } from '../../clock.js';
import { applicationSchema, type ClientAuthMethod } from '../../config/schema.js';
import { randomToken, type SecretHasher } from '../../crypto/secrets.js';
import type { GrantTypeName } from '../../domain/grant-types.js';
import { badRequest, conflict, managedByConfig, notFound } from '../../domain/management-errors.js';
import type { Tenant } from '../../domain/tenant.js';
import type {
  ApplicationProfile,
  ApplicationRecord,
  ApplicationSettings,
  AppType,
  CatalogStore,
  RefreshTokenStore,
} from '../../storage/stores.js';
import type { CatalogChanges } from './catalog-changes.js';
import { parseByFileRules } from './file-rules.js';

/** 48 random bytes: 64 base64url characters, the length of Auth0's client secrets. */
const CLIENT_SECRET_BYTES = 48;
/**
 * 16 random bytes as 32 hex characters, the length of Auth0's client_ids:
 * alphanumeric like theirs, so an id never starts with `-` (a CLI option)
 * nor needs escaping in a URL or a shell.
 */
const CLIENT_ID_BYTES = 16;

/** The methods Auth0's `token_endpoint_auth_method` takes; `private_key_jwt` needs keys, which only the file declares. */
export type ApiClientAuthMethod = Exclude<ClientAuthMethod, 'private_key_jwt'>;

/** Auth0's client fields Latchkey keeps, as the API spells them (absent: unchanged on update, defaults on create). */
export interface ClientFields {
  name?: string | undefined;
  description?: string | undefined;
  app_type?: AppType | undefined;
  callbacks?: string[] | undefined;
  allowed_logout_urls?: string[] | undefined;
  grant_types?: GrantTypeName[] | undefined;
  token_endpoint_auth_method?: ApiClientAuthMethod | undefined;
  /** Auth0's name for the file's `trust_forwarded_for`. */
  is_token_endpoint_ip_header_trusted?: boolean | undefined;
}

/** An application and, when one was just drawn, its secret: the only time it is told. */
export interface ClientWithSecret {
  app: ApplicationRecord;
  secret?: string;
}

/**
 * Auth0's defaults by application type: a machine-to-machine client
 * authenticates with `client_secret_post` and uses client_credentials; a
 * single-page or native app is public (`none`) and signs users in through
 * the browser; a regular web app is confidential and does the same. Without
 * a type, the file's defaults (config/schema.ts).
 */
const APP_TYPE_DEFAULTS: Record<AppType, { method: ApiClientAuthMethod; grants: GrantTypeName[] }> = {
  non_interactive: { method: 'client_secret_post', grants: ['client_credentials'] },
  spa: { method: 'none', grants: ['authorization_code', 'refresh_token'] },
  native: { method: 'none', grants: ['authorization_code', 'refresh_token'] },
  regular_web: { method: 'client_secret_post', grants: ['authorization_code', 'refresh_token'] },
};

/** The file's key → Auth0's name, so a refusal names the property the caller sent. */
const AUTH0_NAMES: Record<string, string> = { trust_forwarded_for: 'is_token_endpoint_ip_header_trusted' };

/**
 * Stands in for a stored secret when the file's rules are checked (they want
 * `client_secret` beside a secret method): the secret itself is only ever
 * held as its hash, and this never reaches storage.
 */
const STORED_SECRET_STAND_IN = 'stored secret (hash only)';

export interface ManagementClientsDeps {
  store: Pick<CatalogStore, 'createApplication' | 'updateApplication' | 'deleteApplication'>;
  refreshTokens: Pick<RefreshTokenStore, 'revokeClientFamilies'>;
  secretHasher: Pick<SecretHasher, 'hash'>;
  changes: Pick<CatalogChanges, 'changed'>;
  clock: Clock;
}

export class ManagementClients {
  constructor(private readonly deps: ManagementClientsDeps) {}

  /** Every application the tenant serves, declared or created here, by client_id. */
  list(tenant: Tenant): ApplicationRecord[] {
    return [...tenant.applications.values()].sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
  }

  get(tenant: Tenant, clientId: string): ApplicationRecord {
    const app = tenant.applications.get(clientId);
    if (!app) throw notFound('inexistent_client', 'The client does not exist.');
    return app;
  }

  async create(tenant: Tenant, fields: ClientFields & { name: string }): Promise<ClientWithSecret> {
    const defaults = fields.app_type === undefined ? undefined : APP_TYPE_DEFAULTS[fields.app_type];
    const method = fields.token_endpoint_auth_method ?? defaults?.method;
    const secret = method === 'none' ? undefined : randomToken(CLIENT_SECRET_BYTES);
    const clientId = Buffer.from(randomToken(CLIENT_ID_BYTES), 'base64url').toString('hex');
    const settings = validSettings({
      client_id: clientId,
      client_secret: secret,
      name: fields.name,
      callbacks: fields.callbacks,
      allowed_logout_urls: fields.allowed_logout_urls,
      token_endpoint_auth_method: method,
      grant_types: fields.grant_types ?? defaults?.grants,
      trust_forwarded_for: fields.is_token_endpoint_ip_header_trusted,
    });
    const created = await this.deps.store.createApplication(tenant.id, {
      clientId,
      clientSecretHash: secret === undefined ? null : this.deps.secretHasher.hash(secret),
      settings,
      profile: profileOf(fields),
    });
    // 128 random bits: a collision is not a real outcome, but a refusal is better than an overwrite.
    if (!created) throw conflict('client_conflict', 'A client with this client_id already exists.');
    return { app: await this.served(tenant, clientId), ...(secret === undefined ? {} : { secret }) };
  }

  /** Auth0's PATCH: only the fields given change. */
  async update(tenant: Tenant, clientId: string, fields: ClientFields): Promise<ClientWithSecret> {
    const app = this.writable(tenant, clientId);
    const method = fields.token_endpoint_auth_method ?? app.settings.token_endpoint_auth_method;
    const needsSecret = method !== 'none' && method !== 'private_key_jwt';
    // A public client made confidential needs a secret: drawn now, and told in this answer only.
    const secret = needsSecret && app.clientSecretHash === null ? randomToken(CLIENT_SECRET_BYTES) : undefined;
    const settings = validSettings({
      ...app.settings,
      client_id: clientId,
      client_secret: needsSecret ? (secret ?? STORED_SECRET_STAND_IN) : undefined,
      ...definedOnly({
        name: fields.name,
        callbacks: fields.callbacks,
        allowed_logout_urls: fields.allowed_logout_urls,
        token_endpoint_auth_method: fields.token_endpoint_auth_method,
        grant_types: fields.grant_types,
        trust_forwarded_for: fields.is_token_endpoint_ip_header_trusted,
      }),
    });
    const clientSecretHash = !needsSecret ? null : secret === undefined ? undefined : this.deps.secretHasher.hash(secret);
    const updated = await this.deps.store.updateApplication(tenant.id, clientId, {
      settings,
      profile: { ...app.profile, ...profileOf(fields) },
      ...(clientSecretHash === undefined ? {} : { clientSecretHash }),
    });
    if (!updated) throw managedByConfig(`The client ${clientId}`);
    return { app: await this.served(tenant, clientId), ...(secret === undefined ? {} : { secret }) };
  }

  /** Auth0's rotate-secret: a new secret, told once; the old one stops working at once. */
  async rotateSecret(tenant: Tenant, clientId: string): Promise<ClientWithSecret & { secret: string }> {
    const app = this.writable(tenant, clientId);
    if (app.settings.token_endpoint_auth_method === 'none' || app.settings.token_endpoint_auth_method === 'private_key_jwt') {
      throw badRequest(
        `The client authenticates with ${app.settings.token_endpoint_auth_method}, so it has no secret to rotate; set token_endpoint_auth_method to client_secret_post or client_secret_basic first.`,
      );
    }
    const secret = randomToken(CLIENT_SECRET_BYTES);
    const updated = await this.deps.store.updateApplication(tenant.id, clientId, {
      settings: app.settings,
      profile: app.profile ?? {},
      clientSecretHash: this.deps.secretHasher.hash(secret),
    });
    if (!updated) throw managedByConfig(`The client ${clientId}`);
    return { app: await this.served(tenant, clientId), secret };
  }

  /**
   * Auth0's DELETE: the application and its client grants go; its refresh
   * tokens are revoked first (as when the file stops declaring one), and its
   * access tokens are refused from the reload on (the verifier serves only
   * applications the catalog holds).
   */
  async delete(tenant: Tenant, clientId: string): Promise<void> {
    this.writable(tenant, clientId);
    await this.deps.refreshTokens.revokeClientFamilies(tenant.id, clientId, this.deps.clock.now());
    if (!(await this.deps.store.deleteApplication(tenant.id, clientId))) throw managedByConfig(`The client ${clientId}`);
    await this.deps.changes.changed(tenant);
  }

  /** 404 for another tenant's or an unknown client; 409 for one the file declares. */
  private writable(tenant: Tenant, clientId: string): ApplicationRecord {
    const app = this.get(tenant, clientId);
    if (!app.createdThroughApi) throw managedByConfig(`The client ${clientId}`);
    return app;
  }

  /** Serves the committed change, then answers the application as served now. */
  private async served(tenant: Tenant, clientId: string): Promise<ApplicationRecord> {
    return this.get(await this.deps.changes.changed(tenant), clientId);
  }
}

/** The file's rules, one set for both (config/schema.ts); a refusal names Auth0's property. */
function validSettings(input: z.input<typeof applicationSchema>): ApplicationSettings {
  const {
    client_id: _clientId,
    client_secret: _secret,
    client_secret_file: _secretFile,
    ...settings
  } = parseByFileRules(applicationSchema, input, AUTH0_NAMES);
  return settings;
}

function profileOf(fields: ClientFields): ApplicationProfile {
  return definedOnly({ appType: fields.app_type, description: fields.description });
}

/** The keys whose value is not undefined: Auth0's PATCH changes only what it is sent. */
function definedOnly<T extends Record<string, unknown>>(value: T): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<{
    [K in keyof T]: Exclude<T[K], undefined>;
  }>;
}
