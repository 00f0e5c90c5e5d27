/**
 * Applies the configuration to storage at every start, idempotently:
 * declared objects are created or updated; nothing undeclared is deleted.
 */
import type { SecretHasher } from '../crypto/secrets.js';
import { upsertDeclaredUser } from '../identity/user-admin.js';
import type { Stores } from '../storage/stores.js';
import type { LatchkeyConfig } from './load.js';
import { ConfigError, formatKeyPath } from './load.js';

/** A declared user whose sessions the file ended (identity/user-sessions.ts), for the start-up's events. */
export interface AppliedUserChange {
  tenant: string;
  connection: string;
  userId: string;
  username: string;
  email: string | undefined;
  refreshTokensRevoked: number;
}

export interface ApplySummary {
  tenants: number;
  usersCreated: number;
  usersUpdated: number;
  /** Declared users whose password the file changed: sessions ended here; their brute-force locks are cleared at start. */
  passwordsChanged: AppliedUserChange[];
  /** Declared users the file newly blocked: sessions ended here. */
  usersBlocked: AppliedUserChange[];
}

export async function applyConfig(config: LatchkeyConfig, stores: Stores, secretHasher: SecretHasher): Promise<ApplySummary> {
  const summary: ApplySummary = { tenants: 0, usersCreated: 0, usersUpdated: 0, passwordsChanged: [], usersBlocked: [] };
  for (const [tenantIndex, tenant] of config.tenants.entries()) {
    const { name, default_directory, default_audience, id_token_signing_alg, id_token_lifetime, attack_protection, rate_limits, trusted_proxies, mfa } = tenant;
    const tenantId = await stores.catalog.upsertTenant(name, {
      default_directory,
      default_audience,
      id_token_signing_alg,
      id_token_lifetime,
      attack_protection,
      rate_limits,
      trusted_proxies,
      mfa,
    });
    summary.tenants++;
    const connectionIds = new Map<string, string>();
    for (const connection of tenant.connections) connectionIds.set(connection.name, await stores.catalog.upsertConnection(tenantId, connection));
    const policies = new Map(tenant.connections.map((c) => [c.name, c.password_policy]));
    for (const api of tenant.apis) await stores.catalog.upsertApi(tenantId, api);
    for (const app of tenant.applications) {
      const { client_id, client_secret, ...settings } = app;
      await stores.catalog.upsertApplication(tenantId, client_id, client_secret === undefined ? null : secretHasher.hash(client_secret), settings);
    }
    for (const [userIndex, user] of tenant.users.entries()) {
      const connectionId = connectionIds.get(user.connection);
      const policy = policies.get(user.connection);
      if (connectionId === undefined || policy === undefined) continue; // the schema already refused unknown connections
      try {
        const result = await upsertDeclaredUser(stores, { tenantId, connectionId, policy }, {
          username: user.username,
          email: user.email,
          emailVerified: user.email_verified,
          name: user.name,
          givenName: user.given_name,
          familyName: user.family_name,
          password: user.password,
          passwordHash: user.password_hash,
          blocked: user.blocked,
        });
        if (result.change === 'created') summary.usersCreated++;
        if (result.change === 'updated') summary.usersUpdated++;
        const changed = { tenant: name, connection: user.connection, userId: result.userId, username: user.username, email: user.email };
        if (result.passwordChanged) summary.passwordsChanged.push({ ...changed, ...result.passwordChanged });
        if (result.blocked) summary.usersBlocked.push({ ...changed, ...result.blocked });
      } catch (err) {
        throw new ConfigError('configuration', [`${formatKeyPath(['tenants', tenantIndex, 'users', userIndex])}: ${(err as Error).message}`]);
      }
    }
  }
  return summary;
}
