/**
 * RFC 6749 §4.3: Resource Owner Password Credentials, with Auth0's realm
 * extension (`http://auth0.com/oauth/grant-type/password-realm`, and
 * `realm` honoured on plain `password` as Auth0's SDK sends it).
 */
import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import type { CredentialResult, CredentialSource, DirectoryRefusal } from '../../identity/credential-source.js';
import { isBreachedPassword } from '../../domain/password-policy.js';
import type { AttackProtection } from '../../protection/attack-protection.js';
import type { LoginAttempt } from '../../protection/login-attempt.js';
import type { ConnectionRecord, UserRecord, UserStore } from '../../storage/stores.js';
import { defaultDirectoryOf, type Tenant } from '../../domain/tenant.js';
import { InvalidGrantError, InvalidRequestError, UnauthorizedClientError } from '../../domain/errors.js';
import { refuseManagementApiOutsideBrowser } from '../management-audience.js';
import { grantUserScopes, optionalScopes, requestedAudience, selectRequestedResource, type ResourceSelection } from '../scopes.js';
import type { RequestParameters } from '../request-parameters.js';
import type { GrantContext, GrantDecision, GrantHandler } from './grant-handler.js';
import { PASSWORD_GRANT, PASSWORD_REALM_GRANT, type GrantTypeName } from '../../domain/grant-types.js';

export interface PasswordRequest {
  grantType: string;
  username: string;
  password: string;
  realm: string | undefined;
  audience: string | undefined;
  scopes: string[] | undefined;
}

export interface PasswordGrantDeps {
  /** By connection type. */
  credentialSources: ReadonlyMap<string, CredentialSource>;
  /** Locks and throttles, checked before any password is (protection/attack-protection.ts). */
  attackProtection: Pick<AttackProtection, 'beginLogin'>;
  /** A completed sign-in is counted on the user (Auth0's `last_login`, `logins_count`). */
  users: Pick<UserStore, 'recordLogin'>;
  clock: Clock;
  logger: Logger;
}

const DIRECTORY_REFUSALS: Record<DirectoryRefusal, string> = {
  password_expired: 'The password has expired; change it before signing in.',
  password_change_required: 'The password must be changed before signing in.',
  account_locked: 'The account is locked in its directory.',
};

/** One message for unknown users and wrong passwords: no enumeration (Auth0's wording). */
export const WRONG_CREDENTIALS = 'Wrong email or password.';

export function createPasswordGrant(deps: PasswordGrantDeps): GrantHandler<PasswordRequest> {
  return new PasswordGrant(deps);
}

class PasswordGrant implements GrantHandler<PasswordRequest> {
  readonly grantTypes: readonly GrantTypeName[] = [PASSWORD_GRANT, PASSWORD_REALM_GRANT];

  constructor(private readonly deps: PasswordGrantDeps) {}

  parse(params: RequestParameters, grantType: string): PasswordRequest {
    const scopes = optionalScopes(params);
    const realm = params.get('realm');
    if (grantType === PASSWORD_REALM_GRANT && realm === undefined) {
      throw new InvalidRequestError('The password-realm grant requires "realm": the name of the connection to check the password against.');
    }
    return {
      grantType,
      username: params.require('username'),
      password: params.require('password'),
      realm,
      audience: requestedAudience(params),
      scopes,
    };
  }

  /**
   * Everything that can be refused without the password is refused first (no
   * hashing wasted, nothing revealed); then the attempt is counted, the
   * password checked, and the policies that apply to a right password. The
   * second factor is the MFA gate's (oauth/mfa-gate.ts): the attempt stays
   * open for it.
   */
  async handle(request: PasswordRequest, ctx: GrantContext): Promise<GrantDecision> {
    const connection = chooseConnection(ctx.tenant, request.realm, ctx.client.app.settings.connections);
    const { selection, scopes } = this.userScopes(request, ctx);
    refuseManagementApiOutsideBrowser(ctx.tenant, selection.api, request.grantType);
    const source = this.sourceFor(connection);
    const attempt = await this.beginLogin(request, connection, ctx);
    // The sign-in's instant is taken before the password is checked: a password change (or a block) that lands
    // while this check runs then ends the session it would create (identity/user-sessions.ts), rather than
    // letting a check of the old password mint tokens that postdate the change.
    const authTime = this.deps.clock.now();
    const user = await this.verify(source, attempt, request, connection, ctx);
    await refuseBlockedUser(attempt, user);
    const breached = await applyBreachedPasswordPolicy(attempt, user, connection, request.password);
    return {
      grant: {
        grantType: request.grantType,
        subject: { kind: 'user', user },
        api: selection.api,
        scopes,
        requestedScopes: request.scopes,
        authTime,
        refresh: scopes.includes('offline_access') ? { kind: 'new_family' } : { kind: 'none' },
      },
      passwordLogin: {
        user,
        secondFactorRequired: (enrollment) => attempt.secondFactorRequired(user.id, enrollment),
        succeeded: async () => {
          await attempt.succeeded(user.id, breached ? 'password_breached' : undefined);
          await this.deps.users.recordLogin(user.id, this.deps.clock.now());
        },
      },
    };
  }

  private userScopes(request: PasswordRequest, ctx: GrantContext): { selection: ResourceSelection; scopes: string[] } {
    const { app } = ctx.client;
    const selection = selectRequestedResource(ctx.tenant, app, request);
    // A userinfo-only grant has no API to forbid offline access: the Entra seed's `openid profile offline_access`
    // gets a refresh token, as Auth0 and Keycloak give one for OIDC-only requests.
    const offlineAllowed = (selection.api?.allow_offline_access ?? true) && app.settings.grant_types.includes('refresh_token');
    return { selection, scopes: grantUserScopes({ selection, offlineAllowed }) };
  }

  private sourceFor(connection: ConnectionRecord): CredentialSource {
    const source = this.deps.credentialSources.get(connection.type);
    if (!source) throw new Error(`no credential source for connection type ${connection.type}`);
    return source;
  }

  /** Locks and throttles are checked, and this attempt counted, before any hashing: a locked identifier costs nothing. */
  private beginLogin(request: PasswordRequest, connection: ConnectionRecord, ctx: GrantContext): Promise<LoginAttempt> {
    // Before anything else that can fail: a malformed forwarded IP from a trusted client is refused without counting.
    const ip = ctx.endUserIp();
    return this.deps.attackProtection.beginLogin({
      tenant: ctx.tenant,
      connection,
      clientId: ctx.client.app.clientId,
      identifier: request.username,
      password: request.password,
      ip,
    });
  }

  /**
   * The credential source's verdict, failing closed (STYLE.md §6): only
   * `verified` with a user signs in. `rejected`, `refused` and anything a
   * faulty source may return are refused; a throw is a dependency failure.
   */
  private async verify(
    source: CredentialSource,
    attempt: LoginAttempt,
    request: PasswordRequest,
    connection: ConnectionRecord,
    ctx: GrantContext,
  ): Promise<UserRecord> {
    let result: CredentialResult;
    try {
      result = await source.verify({
        tenantId: ctx.tenant.id,
        connectionId: connection.id,
        connection,
        username: request.username,
        password: request.password,
        clientId: ctx.client.app.clientId,
        ip: ctx.endUserIp(),
      });
    } catch (err) {
      // Busy or a dependency down: the password was never judged, so the attempt does not count.
      await attempt.refund();
      throw err;
    }
    switch (result?.outcome) {
      case 'verified':
        if (isUserRecord(result.user)) return result.user;
        break;
      case 'rejected':
        // The failure (and any lock) names the user when the login belongs to one, so `latchkey logs --user` finds it.
        await attempt.failed(result.reason, result.userId);
        throw new InvalidGrantError(WRONG_CREDENTIALS, {
          logDetail: `password grant refused: ${result.reason} (connection ${connection.name})`,
        });
      case 'refused': {
        // The directory says the password was right but refuses the sign-in: told to the client, as PingFederate does.
        const description = Object.hasOwn(DIRECTORY_REFUSALS, result.reason) ? DIRECTORY_REFUSALS[result.reason] : undefined;
        if (description === undefined || !isUserRecord(result.user)) break;
        const errorReason = result.reason === 'account_locked' ? 'user_blocked' : result.reason;
        await attempt.refused(result.user.id, errorReason);
        throw new InvalidGrantError(description, {
          errorReason,
          logDetail: `the ${connection.name} directory refused user ${result.user.id}: ${result.reason}`,
        });
      }
      default:
        result satisfies never;
    }
    return this.refuseMalformed(result, attempt, source, connection);
  }

  /** A verdict outside the contract (identity/credential-source.ts) is a fault in the source: refused, counted, and logged. */
  private async refuseMalformed(
    result: unknown,
    attempt: LoginAttempt,
    source: CredentialSource,
    connection: ConnectionRecord,
  ): Promise<never> {
    const outcome = typeof result === 'object' && result !== null ? (result as { outcome?: unknown }).outcome : result;
    const described = JSON.stringify(outcome)?.slice(0, 64) ?? String(outcome);
    this.deps.logger.error(
      { connection: connection.name, source: source.type, outcome: described },
      'a credential source answered outside its contract (verified, rejected or refused, each with its fields); the sign-in was refused',
    );
    await attempt.failed('wrong_password');
    throw new InvalidGrantError(WRONG_CREDENTIALS, {
      logDetail: `credential source ${source.type} of connection ${connection.name} answered a malformed outcome ${described}`,
    });
  }
}

/** Told only to someone who knows the password, so it reveals nothing about existence. */
async function refuseBlockedUser(attempt: LoginAttempt, user: UserRecord): Promise<void> {
  if (!user.blocked) return;
  await attempt.refused(user.id, 'user_blocked');
  throw new InvalidGrantError('The user is blocked.', { errorReason: 'user_blocked', logDetail: `blocked user ${user.id}` });
}

/** The connection's `on_breached_login`: refuse, or let through flagged; true when the password is on the list and let through. */
async function applyBreachedPasswordPolicy(
  attempt: LoginAttempt,
  user: UserRecord,
  connection: ConnectionRecord,
  password: string,
): Promise<boolean> {
  const breachedAction = connection.passwordPolicy.on_breached_login;
  const breached = breachedAction !== 'allow' && isBreachedPassword(password);
  if (breached && breachedAction === 'refuse') {
    await attempt.refused(user.id, 'password_breached');
    throw new InvalidGrantError('This password appears in a list of breached passwords; change it before signing in.', {
      errorReason: 'password_breached',
      logDetail: `user ${user.id} signed in with a password on the breached list; refused by password_policy.on_breached_login`,
    });
  }
  return breached;
}

/** Enough of a user to sign in: a source's `user` is trusted no further than this. */
function isUserRecord(user: unknown): user is UserRecord {
  return typeof user === 'object' && user !== null && typeof (user as { id?: unknown }).id === 'string';
}

/**
 * The realm: the one named, else the tenant's default directory. An
 * application with a `connections` list may use only those (Dex had to close
 * exactly this hole): without a realm it gets the default directory if it may
 * use it, else its own first connection.
 */
function chooseConnection(tenant: Tenant, realm: string | undefined, allowed: readonly string[] | undefined): ConnectionRecord {
  if (realm !== undefined) {
    const named = tenant.connections.get(realm);
    if (!named)
      throw new InvalidRequestError('The realm is not a connection of this tenant.', {
        logDetail: `unknown realm ${JSON.stringify(realm.slice(0, 128))}`,
      });
    if (allowed !== undefined && !allowed.includes(named.name)) {
      throw new UnauthorizedClientError(
        `This application may not sign users in with the realm "${named.name}"; add it to the application's connections.`,
      );
    }
    return named;
  }
  const defaultDirectory = defaultDirectoryOf(tenant);
  const fallback =
    allowed === undefined || (defaultDirectory !== undefined && allowed.includes(defaultDirectory)) ? defaultDirectory : allowed[0];
  const connection = fallback === undefined ? undefined : tenant.connections.get(fallback);
  if (!connection) {
    throw new InvalidRequestError(
      'No realm was given and the tenant has no default_directory; send "realm" or configure default_directory.',
    );
  }
  return connection;
}
