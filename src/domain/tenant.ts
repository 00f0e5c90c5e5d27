/**
 * Tenants, connections, APIs, applications and client grants, held in
 * memory for the hot path. Loaded from storage after the config is applied
 * at start; what the file stopped declaring is not in it (DESIGN.md §2).
 */
import {
  tenantProtectionDefaults,
  type ApiConfig,
  type AttackProtectionConfig,
  type RateLimitsConfig,
  type SigningAlg,
} from '../config/schema.js';
import { managementApiAudience, managementApiConfig } from './management-api.js';
import { mfaApiAudience, mfaApiConfig } from './mfa-api.js';
import { IpList } from './ip.js';
import type {
  ApiRecord,
  ApplicationRecord,
  CatalogSnapshot,
  ClientGrantRecord,
  ConnectionRecord,
  TenantRecord,
  UserRecord,
} from '../storage/stores.js';

export interface TenantEndpoints {
  issuer: string;
  token: string;
  entraToken: string;
  pingToken: string;
  userinfo: string;
  jwks: string;
  revocation: string;
  introspection: string;
  authorization: string;
  /** The built-in MFA API's audience (mfa/mfa-api.ts). */
  mfaApi: string;
  /** The built-in Management API's audience and base, `{issuer}api/v2/` (domain/management-api.ts). */
  managementApi: string;
}

export interface Tenant {
  id: string;
  name: string;
  settings: TenantRecord['settings'];
  endpoints: TenantEndpoints;
  connections: Map<string, ConnectionRecord>;
  apis: Map<string, ApiConfig>;
  applications: Map<string, ApplicationRecord>;
  /** client_credentials authorisations (DESIGN.md §9): client_id → API identifier → the scopes granted. */
  clientGrants: Map<string, Map<string, readonly string[]>>;
  /** The stored APIs (the built-in ones are not), by identifier: ids and who manages them, for the Management API. */
  apiRecords: Map<string, ApiRecord>;
  /** The client grants as stored, in load order, for the Management API (`clientGrants` indexes them for the hot path). */
  clientGrantRecords: ClientGrantRecord[];
  /** Every algorithm the tenant signs with: the APIs', id_tokens' and userinfo tokens'. */
  signingAlgs: SigningAlg[];
  protection: TenantProtection;
}

export interface TenantProtection {
  attack: AttackProtectionConfig;
  rateLimits: RateLimitsConfig;
  allowlist: IpList;
  trustedProxies: IpList;
}

/** The algorithm of tokens whose only audience is userinfo (Auth0 signs those RS256). */
export const USERINFO_TOKEN_ALG: SigningAlg = 'RS256';
export const USERINFO_TOKEN_LIFETIME_SECONDS = 86_400;

export function tenantEndpoints(publicUrl: string, tenantName: string): TenantEndpoints {
  const issuer = `${publicUrl}/${tenantName}/`;
  return {
    issuer,
    token: `${issuer}oauth/token`,
    entraToken: `${issuer}oauth2/v2.0/token`,
    pingToken: `${issuer}as/token.oauth2`,
    userinfo: `${issuer}userinfo`,
    jwks: `${issuer}.well-known/jwks.json`,
    revocation: `${issuer}oauth/revoke`,
    introspection: `${issuer}oauth/introspect`,
    authorization: `${issuer}authorize`,
    mfaApi: mfaApiAudience(issuer),
    managementApi: managementApiAudience(issuer),
  };
}

export class Catalog {
  private tenants = new Map<string, Tenant>();

  constructor(
    private readonly publicUrl: string,
    snapshot: CatalogSnapshot,
  ) {
    this.replace(snapshot);
  }

  /**
   * Serves a new snapshot from now on: the Management API changed the
   * catalog here or on another node. Requests already running keep the
   * tenant they looked up; one map swap, so no request sees half a change.
   */
  replace(snapshot: CatalogSnapshot): void {
    const tenants = new Map<string, Tenant>();
    for (const record of snapshot.tenants) {
      const endpoints = tenantEndpoints(this.publicUrl, record.name);
      const apiRecords = new Map(snapshot.apis.filter((a) => a.tenantId === record.id).map((a) => [a.settings.identifier, a]));
      const apis = new Map([...apiRecords].map(([identifier, a]) => [identifier, a.settings]));
      // The built-in APIs: never declared (config/load.ts refuses their identifiers), always there.
      for (const builtIn of [mfaApiConfig(endpoints.issuer), managementApiConfig(endpoints.issuer)]) apis.set(builtIn.identifier, builtIn);
      const algs = new Set<SigningAlg>([USERINFO_TOKEN_ALG, record.settings.id_token_signing_alg]);
      for (const api of apis.values()) algs.add(api.signing_alg);
      tenants.set(record.name, {
        id: record.id,
        name: record.name,
        settings: record.settings,
        endpoints,
        connections: new Map(snapshot.connections.filter((c) => c.tenantId === record.id).map((c) => [c.name, c])),
        apis,
        applications: new Map(snapshot.applications.filter((a) => a.tenantId === record.id).map((a) => [a.clientId, a])),
        clientGrants: clientGrantsOf(snapshot, record.id),
        apiRecords,
        clientGrantRecords: snapshot.clientGrants.filter((g) => g.tenantId === record.id),
        signingAlgs: [...algs],
        protection: protectionOf(record),
      });
    }
    this.tenants = tenants;
  }

  tenant(name: string): Tenant | undefined {
    return this.tenants.get(name);
  }

  all(): Tenant[] {
    return [...this.tenants.values()];
  }

  /** Longest lifetime of any token signed with `alg` in the tenant: how long a retired key must stay published. */
  static maxTokenLifetime(tenant: Tenant, alg: SigningAlg): number {
    let max = alg === USERINFO_TOKEN_ALG ? USERINFO_TOKEN_LIFETIME_SECONDS : 0;
    if (tenant.settings.id_token_signing_alg === alg) max = Math.max(max, tenant.settings.id_token_lifetime);
    for (const api of tenant.apis.values()) if (api.signing_alg === alg) max = Math.max(max, api.token_lifetime);
    return max;
  }
}

/** The scopes a client grant gives `clientId` on the API `audience`; undefined when no grant names both. */
export function clientGrantScopes(tenant: Tenant, clientId: string, audience: string): readonly string[] | undefined {
  return tenant.clientGrants.get(clientId)?.get(audience);
}

/**
 * The connection a sign-in names no realm for: the tenant's
 * `default_directory`, else its only connection; undefined when a tenant of
 * several connections names none.
 */
export function defaultDirectoryOf(tenant: Pick<Tenant, 'settings' | 'connections'>): string | undefined {
  if (tenant.settings.default_directory !== undefined) return tenant.settings.default_directory;
  return tenant.connections.size === 1 ? [...tenant.connections.keys()][0] : undefined;
}

/** The user's connection when it is still served; undefined once the file stopped declaring it (its users cannot sign in). */
export function servedConnectionOf(tenant: Tenant, user: Pick<UserRecord, 'connectionId'>): ConnectionRecord | undefined {
  for (const connection of tenant.connections.values()) if (connection.id === user.connectionId) return connection;
  return undefined;
}

function clientGrantsOf(snapshot: CatalogSnapshot, tenantId: string): Map<string, Map<string, readonly string[]>> {
  const byClient = new Map<string, Map<string, readonly string[]>>();
  for (const grant of snapshot.clientGrants) {
    if (grant.tenantId !== tenantId) continue;
    const byAudience = byClient.get(grant.clientId) ?? new Map<string, readonly string[]>();
    byClient.set(grant.clientId, byAudience);
    byAudience.set(grant.audience, grant.scope);
  }
  return byClient;
}

function protectionOf(record: TenantRecord): TenantProtection {
  const { attack_protection, rate_limits, trusted_proxies } = tenantProtectionDefaults(record.settings);
  return {
    attack: attack_protection,
    rateLimits: rate_limits,
    allowlist: new IpList(attack_protection.allowlist),
    trustedProxies: new IpList(trusted_proxies),
  };
}
