/**
 * Who calls the Management API (DESIGN.md §9): the bearer token is one of
 * ours (tokens/access-token-verifier.ts: our keys, algorithm pinned, this
 * tenant's issuer, not revoked) for the audience `{issuer}api/v2/`. An
 * application's token stands while its client grant for the API does; a
 * user's while the user may still sign in and is still one of the tenant's
 * administrators. Each caller has a request budget (the tenant's
 * `management_api.rate_limit`, Auth0's per-client limit).
 */
import type { Clock } from '../../clock.js';
import { clientGrantScopes, type Tenant } from '../../domain/tenant.js';
import { ManagementApiError } from '../../domain/management-errors.js';
import type { ManagementScope } from '../../domain/management-api.js';
import { PerTenant } from '../../protection/tenant-counters.js';
import type { Counter, CounterBackend } from '../../storage/counters.js';
import type { UserStore } from '../../storage/stores.js';
import type { AccessTokenVerifier } from '../../tokens/access-token-verifier.js';
import { isAdministrator } from '../management-audience.js';
import { parseScope } from '../scopes.js';
import { accessTokenHolderAt } from '../sessions.js';

const DEFAULT_RATE_LIMIT = { requests: 50, per_seconds: 1 };

export interface ManagementCaller {
  kind: 'client' | 'user';
  /** The application the token was issued to. */
  clientId: string;
  /** The administrator, for a user's token. */
  userId?: string;
  scopes: ReadonlySet<string>;
  /** How security events name who acted: `client:<client_id>` or `user:<user id>`. */
  actor: string;
}

export interface ManagementCallersDeps {
  verifier: Pick<AccessTokenVerifier, 'verify'>;
  users: Pick<UserStore, 'findById'>;
  counters: CounterBackend;
  clock: Clock;
}

export class ManagementCallers {
  private readonly budgets: PerTenant<Map<string, Counter>>;

  constructor(private readonly deps: ManagementCallersDeps) {
    this.budgets = new PerTenant(() => new Map());
  }

  /** 401 for anything but a standing token of this tenant's Management API; 403 for a user no longer an administrator. */
  async authenticate(tenant: Tenant, authorization: string | undefined): Promise<ManagementCaller> {
    const token = bearerOf(authorization);
    const check = await this.deps.verifier.verify(token, tenant, { checkRevocation: true });
    if (!check.valid) throw unauthorized('Invalid token', `management API: token refused (${check.reason})`);
    const { payload } = check;
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!audiences.includes(tenant.endpoints.managementApi)) {
      throw unauthorized(
        `Bad audience: the token is not for this tenant's Management API (${tenant.endpoints.managementApi}).`,
        `management API: a token of client ${payload.client_id} for another audience`,
      );
    }
    const scopes = new Set(parseScope(typeof payload.scope === 'string' ? payload.scope : undefined));
    const holder = await accessTokenHolderAt(this.deps.users, tenant, payload);
    if (holder.kind === 'client') {
      // The grant may have been deleted since the token was issued: the file or the API withdrew the permission.
      if (clientGrantScopes(tenant, payload.client_id, tenant.endpoints.managementApi) === undefined) {
        throw unauthorized(
          'Invalid token: the application no longer holds a client grant for the Management API.',
          `management API: client ${payload.client_id} without a client grant`,
        );
      }
      return { kind: 'client', clientId: payload.client_id, scopes, actor: `client:${payload.client_id}` };
    }
    if (holder.kind === 'inactive') {
      throw unauthorized('Invalid token: its user can no longer sign in.', `management API: user ${payload.sub}: ${holder.reason}`);
    }
    if (!isAdministrator(tenant, holder.user)) {
      throw new ManagementApiError(403, 'access_denied', "The user of this token is no longer one of the tenant's administrators.", {
        logDetail: `management API: user ${holder.user.id} is not in administrators`,
      });
    }
    return { kind: 'user', clientId: payload.client_id, userId: holder.user.id, scopes, actor: `user:${holder.user.id}` };
  }

  /** Auth0: 403 insufficient_scope naming the scopes that would do. */
  static requireScope(caller: ManagementCaller, anyOf: readonly ManagementScope[]): void {
    if (anyOf.length === 0 || anyOf.some((scope) => caller.scopes.has(scope))) return;
    throw new ManagementApiError(403, 'insufficient_scope', `Insufficient scope, expected any of: ${anyOf.join(',')}`, {
      logDetail: `management API: ${caller.actor} lacks ${anyOf.join(' or ')}`,
    });
  }

  /** One request of the caller's budget; 429 too_many_requests with Retry-After once it is spent. */
  async spend(tenant: Tenant, caller: ManagementCaller): Promise<void> {
    const limit = tenant.settings.management_api?.rate_limit ?? DEFAULT_RATE_LIMIT;
    const budgets = this.budgets.of(tenant);
    const key = `${limit.requests}/${limit.per_seconds}`;
    let counter = budgets.get(key);
    if (!counter) {
      counter = this.deps.counters.counter({ name: `mg:${tenant.id}:${key}`, limit: limit.requests, windowSeconds: limit.per_seconds });
      budgets.set(key, counter);
    }
    const result = await counter.consume(caller.actor);
    if (result.allowed) return;
    const retryAfter = Math.max(1, Math.ceil(result.msBeforeReset / 1000));
    throw new ManagementApiError(
      429,
      'too_many_requests',
      'Global limit has been reached: too many Management API requests; retry after the time in Retry-After.',
      {
        logDetail: `management API: ${caller.actor} over ${limit.requests} requests per ${limit.per_seconds} s (tenant ${tenant.name})`,
        headers: {
          'retry-after': String(retryAfter),
          'x-ratelimit-limit': String(limit.requests),
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(Math.ceil((this.deps.clock.now().getTime() + result.msBeforeReset) / 1000)),
        },
      },
    );
  }
}

function bearerOf(authorization: string | undefined): string {
  if (authorization === undefined || authorization === '')
    throw unauthorized('Missing authentication', 'management API: no Authorization header', 'missing_authentication');
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization.trim());
  if (!match?.[1]) throw unauthorized('Bad HTTP authentication header format', 'management API: malformed Authorization header');
  return match[1];
}

function unauthorized(message: string, logDetail: string, errorCode = 'invalid_token'): ManagementApiError {
  return new ManagementApiError(401, errorCode, message, { logDetail, headers: { 'www-authenticate': 'Bearer realm="latchkey"' } });
}
