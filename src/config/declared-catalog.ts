/**
 * The file is authoritative for what it declares (DESIGN.md §2, §9): given
 * the rows the file declared at earlier starts, which ones this file stops,
 * restores or leaves stopped. Pure, so `latchkey config check` shows exactly
 * what the next start does.
 */
import type { ApiCreatedRow, DeclarableKind, DeclaredRow } from '../storage/stores.js';
import type { TenantConfig } from './schema.js';

export type DeclaringTenant = Pick<TenantConfig, 'name' | 'connections' | 'apis' | 'applications' | 'client_grants'>;

/** One stored object whose state a start changes (or would, for `config check`). */
export interface CatalogChange {
  kind: DeclarableKind;
  id: string;
  tenantId: string;
  tenant: string;
  /** As in DeclaredRow: a name, identifier or client_id; a client grant's client_id and audience. */
  key: readonly string[];
}

export interface CatalogPlan {
  /** Declared at the last start, not by this file: stops being served at this start (rows kept). */
  disable: CatalogChange[];
  /** Stopped at an earlier start, declared again: served again at this start. */
  restore: CatalogChange[];
  /** Stopped at an earlier start and still not declared. */
  stillDisabled: CatalogChange[];
}

const KIND_ORDER: readonly DeclarableKind[] = ['tenant', 'connection', 'api', 'application', 'client_grant'];

export function planCatalog(tenants: readonly DeclaringTenant[], stored: readonly DeclaredRow[]): CatalogPlan {
  const declared = declaredIdentities(tenants);
  const tenantNames = tenantNamesOf(stored);
  const plan: CatalogPlan = { disable: [], restore: [], stillDisabled: [] };
  for (const row of [...stored].sort(byTenantKindKey(tenantNames))) {
    const tenant = tenantNames.get(row.tenantId);
    // Only the file creates tenants, so every declared row's tenant is among them; anything else is not the file's.
    if (tenant === undefined) continue;
    const change: CatalogChange = { kind: row.kind, id: row.id, tenantId: row.tenantId, tenant, key: row.key };
    const stillDeclared = declared.has(identity(row.kind, tenant, row.key));
    if (!stillDeclared && row.disabledAt === null) plan.disable.push(change);
    else if (!stillDeclared) plan.stillDisabled.push(change);
    else if (row.disabledAt !== null) plan.restore.push(change);
  }
  return plan;
}

/** What the Management API created (`managed_by_config` = 0), as the next start treats it. */
export interface ApiCreatedPlan {
  /** Not in the file: kept and served at every start, the API's to change (DESIGN.md §9). */
  kept: CatalogChange[];
  /** The file declares the same key: the next start takes it over (the file's settings win; read-only through the API from then on). */
  takenOver: CatalogChange[];
}

export function planApiCreated(
  tenants: readonly DeclaringTenant[],
  stored: readonly DeclaredRow[],
  created: readonly ApiCreatedRow[],
): ApiCreatedPlan {
  const declared = declaredIdentities(tenants);
  const tenantNames = tenantNamesOf(stored);
  const plan: ApiCreatedPlan = { kept: [], takenOver: [] };
  for (const row of created) {
    const tenant = tenantNames.get(row.tenantId);
    if (tenant === undefined) continue;
    const change: CatalogChange = { kind: row.kind, id: row.id, tenantId: row.tenantId, tenant, key: row.key };
    (declared.has(identity(row.kind, tenant, row.key)) ? plan.takenOver : plan.kept).push(change);
  }
  return plan;
}

/** `application "acme-web"`, `client grant "acme-backend" → "https://api.acme.test"` (tenant not included). */
export function describeObject(change: Pick<CatalogChange, 'kind' | 'key'>): string {
  const [first = '', second = ''] = change.key;
  switch (change.kind) {
    case 'tenant':
      return `tenant "${first}"`;
    case 'connection':
      return `connection "${first}"`;
    case 'api':
      return `API "${first}"`;
    case 'application':
      return `application "${first}"`;
    case 'client_grant':
      return `client grant "${first}" → "${second}"`;
  }
}

/** What stops working when an object is disabled, for operators (logs and `config check`). */
export function consequenceOfDisabling(kind: DeclarableKind): string {
  switch (kind) {
    case 'tenant':
      return 'its endpoints answer 404; its data is kept';
    case 'connection':
      return 'its users cannot sign in or refresh; their data is kept';
    case 'api':
      return 'token requests and refreshes for it are refused (invalid_target / invalid_grant)';
    case 'application':
      return 'it gets 401 invalid_client and its tokens are refused; its refresh tokens are revoked for good';
    case 'client_grant':
      return 'client_credentials for that API is refused (403 access_denied)';
  }
}

function declaredIdentities(tenants: readonly DeclaringTenant[]): Set<string> {
  const declared = new Set<string>();
  for (const tenant of tenants) {
    declared.add(identity('tenant', tenant.name, [tenant.name]));
    for (const c of tenant.connections) declared.add(identity('connection', tenant.name, [c.name]));
    for (const a of tenant.apis) declared.add(identity('api', tenant.name, [a.identifier]));
    for (const a of tenant.applications) declared.add(identity('application', tenant.name, [a.client_id]));
    for (const g of tenant.client_grants) declared.add(identity('client_grant', tenant.name, [g.client_id, g.audience]));
  }
  return declared;
}

/** Only the file creates tenants, so the declared tenant rows name every tenant. */
function tenantNamesOf(stored: readonly DeclaredRow[]): Map<string, string> {
  return new Map(stored.filter((r) => r.kind === 'tenant').map((r) => [r.id, r.key[0] ?? '']));
}

function identity(kind: DeclarableKind, tenant: string, key: readonly string[]): string {
  return JSON.stringify([kind, tenant, ...key]);
}

/** Tenant by tenant, tenants first, then connections, APIs, applications and client grants, each by name. */
function byTenantKindKey(tenantNames: ReadonlyMap<string, string>): (a: DeclaredRow, b: DeclaredRow) => number {
  const sortKey = (row: DeclaredRow) => [tenantNames.get(row.tenantId) ?? '', KIND_ORDER.indexOf(row.kind), ...row.key].join('\u0000');
  return (a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0);
}
