/**
 * Applies the configuration to storage at every start, idempotently:
 * declared objects are created or updated (and served again if an earlier
 * start had stopped them). The file is authoritative for what it declares
 * (DESIGN.md §2): an application, API, client grant, connection or tenant
 * it declared at the last start and no longer declares is disabled at this
 * start; its rows are kept, nothing is deleted. Users are data: seeded,
 * never removed.
 */
import type { SecretHasher } from '../crypto/secrets.js';
import { upsertDeclaredUser } from '../identity/user-admin.js';
import type { Stores } from '../storage/stores.js';
import { planCatalog, type CatalogChange } from '../config/declared-catalog.js';
import type { LatchkeyConfig } from '../config/load.js';
import { ConfigError, formatKeyPath } from '../config/load.js';

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
  /** Stopped at this start because the file no longer declares them. */
  disabled: DisabledObject[];
  /** Declared again after an earlier start stopped them: served again. */
  restored: CatalogChange[];
}

export interface DisabledObject extends CatalogChange {
  /** A connection: how many users it holds (kept, but they cannot sign in). */
  users?: number;
  /** An application: how many live refresh-token families were revoked. */
  revokedRefreshTokenFamilies?: number;
}

export interface ApplyOptions {
  now: Date;
  /**
   * True at a server start: what the file stopped declaring stops being
   * served. Admin commands apply the file without it: they are not a start,
   * and may run with another file (or none: the demo tenant) against the
   * server's database.
   */
  disableUndeclared: boolean;
}

export async function applyConfig(
  config: LatchkeyConfig,
  stores: Stores,
  secretHasher: SecretHasher,
  options: ApplyOptions,
): Promise<ApplySummary> {
  const summary: ApplySummary = {
    tenants: 0,
    usersCreated: 0,
    usersUpdated: 0,
    passwordsChanged: [],
    usersBlocked: [],
    disabled: [],
    restored: [],
  };
  // What the file declared at the last start, read before this file's upserts change it.
  const plan = options.disableUndeclared ? planCatalog(config.tenants, await stores.catalog.listDeclared()) : undefined;
  for (const [tenantIndex, tenant] of config.tenants.entries()) {
    const {
      name,
      default_directory,
      default_audience,
      id_token_signing_alg,
      id_token_lifetime,
      attack_protection,
      rate_limits,
      trusted_proxies,
      mfa,
      browser_session,
      device_flow,
      administrators,
      management_api,
    } = tenant;
    const tenantId = await stores.catalog.upsertTenant(name, {
      default_directory,
      default_audience,
      id_token_signing_alg,
      id_token_lifetime,
      attack_protection,
      rate_limits,
      trusted_proxies,
      mfa,
      browser_session,
      device_flow,
      administrators,
      management_api,
    });
    summary.tenants++;
    const connectionIds = new Map<string, string>();
    for (const connection of tenant.connections)
      connectionIds.set(connection.name, await stores.catalog.upsertConnection(tenantId, connection));
    const policies = new Map(tenant.connections.map((c) => [c.name, c.password_policy]));
    for (const api of tenant.apis) await stores.catalog.upsertApi(tenantId, api);
    for (const app of tenant.applications) {
      const { client_id, client_secret, ...settings } = app;
      await stores.catalog.upsertApplication(
        tenantId,
        client_id,
        client_secret === undefined ? null : secretHasher.hash(client_secret),
        settings,
      );
    }
    for (const grant of tenant.client_grants)
      await stores.catalog.upsertClientGrant(tenantId, { clientId: grant.client_id, audience: grant.audience, scope: grant.scope });
    for (const [userIndex, user] of tenant.users.entries()) {
      const connectionId = connectionIds.get(user.connection);
      const policy = policies.get(user.connection);
      if (connectionId === undefined || policy === undefined) continue; // the schema already refused unknown connections
      try {
        const result = await upsertDeclaredUser(
          stores,
          { tenantId, connectionId, policy },
          {
            username: user.username,
            email: user.email,
            emailVerified: user.email_verified,
            name: user.name,
            givenName: user.given_name,
            familyName: user.family_name,
            password: user.password,
            passwordHash: user.password_hash,
            blocked: user.blocked,
          },
        );
        if (result.change === 'created') summary.usersCreated++;
        if (result.change === 'updated') summary.usersUpdated++;
        const changed = { tenant: name, connection: user.connection, userId: result.userId, username: user.username, email: user.email };
        if (result.passwordChanged) summary.passwordsChanged.push({ ...changed, ...result.passwordChanged });
        if (result.blocked) summary.usersBlocked.push({ ...changed, ...result.blocked });
      } catch (err) {
        throw new ConfigError('configuration', [
          `${formatKeyPath(['tenants', tenantIndex, 'users', userIndex])}: ${(err as Error).message}`,
        ]);
      }
    }
  }
  if (plan) {
    summary.disabled = await disableUndeclared(plan.disable, stores, options.now);
    summary.restored = plan.restore;
  }
  return summary;
}

/**
 * Revokes first, then disables: a start that fails in between revokes again
 * at the next start (the row is still served, so still to be disabled).
 */
async function disableUndeclared(changes: CatalogChange[], stores: Stores, now: Date): Promise<DisabledObject[]> {
  const disabled: DisabledObject[] = [];
  for (const change of changes) {
    const [key = ''] = change.key;
    if (change.kind === 'application') {
      // Its refresh tokens stay refused even if an application with this client_id is declared again later.
      disabled.push({ ...change, revokedRefreshTokenFamilies: await stores.refreshTokens.revokeClientFamilies(change.tenantId, key, now) });
    } else if (change.kind === 'connection') {
      disabled.push({ ...change, users: await stores.users.countInConnection(change.tenantId, change.id) });
    } else {
      disabled.push(change);
    }
  }
  await stores.catalog.disable(changes, now);
  return disabled;
}
