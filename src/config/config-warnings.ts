/**
 * Valid configurations that probably do not do what the operator meant:
 * `latchkey config check` prints them, and a start logs them once.
 */
import { formatKeyPath } from './load.js';
import type { TenantConfig } from './schema.js';

export interface ConfigWarning {
  /** The key path, as configuration errors name it. */
  path: string;
  tenant: string;
  clientId: string;
  message: string;
}

export function configWarnings(tenants: ReadonlyArray<Pick<TenantConfig, 'name' | 'applications' | 'client_grants'>>): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  tenants.forEach((tenant, t) => {
    const granted = new Set(tenant.client_grants.map((g) => g.client_id));
    tenant.applications.forEach((app, a) => {
      if (!app.grant_types.includes('client_credentials') || granted.has(app.client_id)) return;
      warnings.push({
        path: formatKeyPath(['tenants', t, 'applications', a]),
        tenant: tenant.name,
        clientId: app.client_id,
        message:
          `application ${app.client_id} has the client_credentials grant but no client grant, so every client_credentials request it makes is refused (403 access_denied); ` +
          `add { client_id: ${app.client_id}, audience, scope: [...] } to tenants[${t}].client_grants for each API it calls (docs/configuration.md), or remove client_credentials from its grant_types`,
      });
    });
    tenant.client_grants.forEach((grant, g) => {
      const app = tenant.applications.find((a) => a.client_id === grant.client_id);
      if (!app || app.grant_types.includes('client_credentials')) return;
      warnings.push({
        path: formatKeyPath(['tenants', t, 'client_grants', g]),
        tenant: tenant.name,
        clientId: grant.client_id,
        message: `this client grant has no effect: application ${grant.client_id} does not have the client_credentials grant; add it to its grant_types`,
      });
    });
  });
  return warnings;
}
