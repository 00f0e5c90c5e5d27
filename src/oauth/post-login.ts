/**
 * The post-login step between the MFA gate and the token service: runs
 * the tenant's hooks (Auth0 Actions' shape) for every grant that signs a user
 * in (password, MFA, refresh) and applies what they decided. Fails closed:
 * a hook that throws or runs out of time stops the sign-in with a clear error
 * and a security event, never a token and never a crash.
 */
import type { Logger } from 'pino';
import type { Tenant } from '../domain/tenant.js';
import { AccessDeniedError, TemporarilyUnavailableError } from '../domain/errors.js';
import type { SecurityEvents } from '../observability/security-events.js';
import type { UserRecord } from '../storage/stores.js';
import { applyHookCommands, type PostLoginEvent } from '../hooks/hook-api.js';
import type { HookRunner } from '../hooks/hook-runner.js';
import type { Grant } from '../domain/grant.js';
import type { AuthenticatedClient } from '../domain/client.js';
import type { MfaGate, SignInContext } from './mfa-gate.js';

export interface TenantHooks {
  /** Absolute module paths, in the order they run. */
  chain: string[];
  timeoutMs: number;
}

export interface PostLoginDeps {
  runner: HookRunner | undefined;
  /** By tenant id. */
  hooks: ReadonlyMap<string, TenantHooks>;
  /** Answers a hook's `api.multifactor.enable()`. */
  mfaGate: MfaGate;
  securityEvents: SecurityEvents;
  logger: Logger;
}

const HOOK_RETRY_AFTER_SECONDS = 5;

export class PostLoginHooks {
  constructor(private readonly deps: PostLoginDeps) {}

  async apply(grant: Grant, tenant: Tenant, client: AuthenticatedClient, endUserIp: () => string): Promise<Grant> {
    const hooks = this.deps.hooks.get(tenant.id);
    if (grant.hooksApplied || grant.subject.kind !== 'user' || !hooks || hooks.chain.length === 0 || !this.deps.runner) return grant;
    const user = grant.subject.user;
    const ip = endUserIp();
    const context: SignInContext = { tenantId: tenant.id, clientId: client.app.clientId, userId: user.id, ip };

    const outcome = await this.deps.runner.run(hooks.chain, eventFor(grant, user, tenant, client, ip), hooks.timeoutMs);
    if (outcome.kind === 'timeout') {
      this.deps.logger.error(
        { tenant: tenant.name, grant_type: grant.grantType },
        `post-login hooks did not finish within ${hooks.timeoutMs} ms (hooks.timeout_ms); the sign-in failed closed`,
      );
      await this.deps.securityEvents.record({ type: 'hook_failure', reason: 'timeout', ...context });
      throw new TemporarilyUnavailableError('The sign-in could not be completed in time; retry shortly.', HOOK_RETRY_AFTER_SECONDS, {
        errorReason: 'hook_timeout',
        logDetail: `post-login hooks exceeded ${hooks.timeoutMs} ms`,
      });
    }
    if (outcome.kind === 'failed') {
      this.deps.logger.error(
        { tenant: tenant.name, hook: outcome.path, grant_type: grant.grantType, error: outcome.message },
        'a post-login hook threw; the sign-in failed closed',
      );
      await this.deps.securityEvents.record({ type: 'hook_failure', reason: 'threw', ...context });
      throw new AccessDeniedError('The sign-in could not be completed: a post-login hook failed.', {
        errorReason: 'hook_failed',
        logDetail: `post-login hook ${outcome.path} threw`,
      });
    }

    const effect = applyHookCommands(outcome.commands, grant.scopes);
    if (effect.denied !== undefined) {
      await this.deps.securityEvents.record({ type: 'hook_denied', reason: 'access_denied', ...context });
      throw new AccessDeniedError(effect.denied, { logDetail: `a post-login hook denied user ${user.id}` });
    }
    if (effect.multifactor && !grant.amr?.includes('mfa')) await this.deps.mfaGate.demandedByHook(grant, tenant, client, context);

    return {
      ...grant,
      accessTokenScopes: effect.accessTokenScopes,
      customClaims: { accessToken: effect.accessTokenClaims, idToken: effect.idTokenClaims },
    };
  }
}

function eventFor(grant: Grant, user: UserRecord, tenant: Tenant, client: AuthenticatedClient, ip: string): PostLoginEvent {
  const connection = [...tenant.connections.values()].find((c) => c.id === user.connectionId);
  return {
    grant_type: grant.grantType,
    tenant: { id: tenant.name },
    user: {
      user_id: user.id,
      username: user.username,
      email: user.email,
      email_verified: user.emailVerified,
      name: user.name,
      given_name: user.givenName,
      family_name: user.familyName,
      groups: user.groups,
      created_at: user.createdAt.toISOString(),
      updated_at: user.updatedAt.toISOString(),
    },
    client: { client_id: client.app.clientId, name: client.app.clientId },
    connection: { id: user.connectionId, name: connection?.name ?? '', strategy: connection?.type ?? '' },
    request: {
      ip,
      scope: grant.requestedScopes?.join(' '),
      audience: grant.api?.identifier,
      realm: connection?.name ?? '',
    },
    resource_server: grant.api ? { identifier: grant.api.identifier } : undefined,
    transaction: { requested_scopes: grant.requestedScopes ?? [], granted_scopes: grant.scopes },
    authentication: { methods: (grant.amr ?? ['pwd']).map((name) => ({ name })) },
  };
}
