/**
 * RFC 6749 §4.3: Resource Owner Password Credentials, with Auth0's realm
 * extension (`http://auth0.com/oauth/grant-type/password-realm`, and
 * `realm` honoured on plain `password` as Auth0's SDK sends it).
 */
import type { CredentialResult, DirectoryRefusal } from '../../identity/credential-source.js';
import { isBreachedPassword } from '../../domain/password-policy.js';
import type { ConnectionRecord } from '../../storage/stores.js';
import type { Tenant } from '../../domain/tenant.js';
import { InvalidGrantError, InvalidRequestError, MfaRequiredError, UnauthorizedClientError } from '../../domain/errors.js';
import { assertScopeSyntax, grantUserScopes, parseScope, requestedAudience, selectResource } from '../scopes.js';
import type { RequestParameters } from '../request-parameters.js';
import type { GrantContext, GrantHandler } from './grant-handler.js';
import type { Grant } from '../../domain/grant.js';
import { PASSWORD_GRANT, PASSWORD_REALM_GRANT } from '../../domain/grant-types.js';

export interface PasswordRequest {
  grantType: string;
  username: string;
  password: string;
  realm: string | undefined;
  audience: string | undefined;
  scopes: string[] | undefined;
}

const DIRECTORY_REFUSALS: Record<DirectoryRefusal, string> = {
  password_expired: 'The password has expired; change it before signing in.',
  password_change_required: 'The password must be changed before signing in.',
  account_locked: 'The account is locked in its directory.',
};

/** One message for unknown users and wrong passwords: no enumeration (Auth0's wording). */
export const WRONG_CREDENTIALS = 'Wrong email or password.';

export const passwordGrant: GrantHandler<PasswordRequest> = {
  grantTypes: [PASSWORD_GRANT, PASSWORD_REALM_GRANT],

  parse(params: RequestParameters, grantType: string): PasswordRequest {
    const scope = params.get('scope');
    if (scope !== undefined) assertScopeSyntax(scope);
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
      scopes: scope === undefined ? undefined : parseScope(scope),
    };
  },

  async handle(request: PasswordRequest, ctx: GrantContext): Promise<Grant> {
    const { tenant, client } = ctx;
    const connection = chooseConnection(tenant, request.realm, client.app.settings.connections);
    // Everything that can be refused without the password is refused first: no hashing wasted, nothing revealed.
    const selection = selectResource({
      audience: request.audience,
      requestedScopes: request.scopes ?? [],
      apis: tenant.apis,
      defaultAudiences: [client.app.settings.default_audience, tenant.settings.default_audience],
    });
    // A userinfo-only grant has no API to forbid offline access: the Entra seed's `openid profile offline_access`
    // gets a refresh token, as Auth0 and Keycloak give one for OIDC-only requests.
    const offlineAllowed = (selection.api?.allow_offline_access ?? true) && client.app.settings.grant_types.includes('refresh_token');
    const scopes = grantUserScopes({ selection, offlineAllowed });

    const source = ctx.credentialSources.get(connection.type);
    if (!source) throw new Error(`no credential source for connection type ${connection.type}`);

    // Locks and throttles are checked, and this attempt counted, before any hashing: a locked identifier costs nothing.
    // Before anything else that can fail: a malformed forwarded IP from a trusted client is refused without counting.
    const ip = ctx.endUserIp();
    const attempt = await ctx.attackProtection.beginLogin({
      tenant,
      connection,
      clientId: client.app.clientId,
      identifier: request.username,
      password: request.password,
      ip,
    });
    // The sign-in's instant is taken before the password is checked: a password change (or a block) that lands
    // while this check runs then ends the session it would create (identity/user-sessions.ts), rather than
    // letting a check of the old password mint tokens that postdate the change.
    const authTime = ctx.clock.now();
    let result: CredentialResult;
    try {
      result = await source.verify({
        tenantId: tenant.id,
        connectionId: connection.id,
        connection,
        username: request.username,
        password: request.password,
        clientId: client.app.clientId,
        ip,
      });
    } catch (err) {
      // Busy or a dependency down: the password was never judged, so the attempt does not count.
      await attempt.refund();
      throw err;
    }
    if (result.outcome === 'rejected') {
      // The failure (and any lock) names the user when the login belongs to one, so `latchkey logs --user` finds it.
      await attempt.failed(result.reason, result.userId);
      throw new InvalidGrantError(WRONG_CREDENTIALS, { logDetail: `password grant refused: ${result.reason} (connection ${connection.name})` });
    }
    const user = result.user;
    if (result.outcome === 'refused') {
      // The directory says the password was right but refuses the sign-in: told to the client, as PingFederate does.
      const errorReason = result.reason === 'account_locked' ? 'user_blocked' : result.reason;
      await attempt.refused(user.id, errorReason);
      throw new InvalidGrantError(DIRECTORY_REFUSALS[result.reason], { errorReason, logDetail: `the ${connection.name} directory refused user ${user.id}: ${result.reason}` });
    }
    // Told only to someone who knows the password, so it reveals nothing about existence.
    if (user.blocked) {
      await attempt.refused(user.id, 'user_blocked');
      throw new InvalidGrantError('The user is blocked.', { errorReason: 'user_blocked', logDetail: `blocked user ${user.id}` });
    }
    const breachedAction = connection.passwordPolicy.on_breached_login;
    const breached = breachedAction !== 'allow' && isBreachedPassword(request.password);
    if (breached && breachedAction === 'refuse') {
      await attempt.refused(user.id, 'password_breached');
      throw new InvalidGrantError('This password appears in a list of breached passwords; change it before signing in.', {
        errorReason: 'password_breached',
        logDetail: `user ${user.id} signed in with a password on the breached list; refused by password_policy.on_breached_login`,
      });
    }
    const refresh = scopes.includes('offline_access');
    // A token for the MFA API always takes a second factor, whatever the policy (mfa/mfa-api.ts).
    const mfa = await ctx.mfa.requirement(tenant, client.app, user, selection.api);
    if (mfa !== 'none') {
      // The decision is sealed into the mfa_token; an MFA grant carries it out once a second factor is shown.
      await attempt.secondFactorRequired(user.id, mfa === 'enroll');
      const mfaToken = ctx.mfaTokens.issue({
        tenantId: tenant.id,
        clientId: client.app.clientId,
        userId: user.id,
        grantType: request.grantType,
        audience: selection.api?.identifier ?? null,
        scopes,
        requestedScopes: request.scopes ?? null,
        authTime: authTime.getTime(),
        refresh,
      });
      throw new MfaRequiredError(mfaToken, mfa === 'enroll');
    }
    await attempt.succeeded(user.id, breached ? 'password_breached' : undefined);

    return {
      grantType: request.grantType,
      subject: { kind: 'user', user },
      api: selection.api,
      scopes,
      requestedScopes: request.scopes,
      authTime,
      refresh: refresh ? { kind: 'new_family' } : { kind: 'none' },
    };
  },
};

/**
 * The realm: the one named, else the tenant's default directory. An
 * application with a `connections` list may use only those (Dex had to close
 * exactly this hole): without a realm it gets the default directory if it may
 * use it, else its own first connection.
 */
function chooseConnection(tenant: Tenant, realm: string | undefined, allowed: readonly string[] | undefined): ConnectionRecord {
  if (realm !== undefined) {
    const named = tenant.connections.get(realm);
    if (!named) throw new InvalidRequestError('The realm is not a connection of this tenant.', { logDetail: `unknown realm ${JSON.stringify(realm.slice(0, 128))}` });
    if (allowed !== undefined && !allowed.includes(named.name)) {
      throw new UnauthorizedClientError(`This application may not sign users in with the realm "${named.name}"; add it to the application's connections.`);
    }
    return named;
  }
  const defaultDirectory = tenant.settings.default_directory ?? (tenant.connections.size === 1 ? [...tenant.connections.keys()][0] : undefined);
  const fallback = allowed === undefined || (defaultDirectory !== undefined && allowed.includes(defaultDirectory)) ? defaultDirectory : allowed[0];
  const connection = fallback === undefined ? undefined : tenant.connections.get(fallback);
  if (!connection) {
    throw new InvalidRequestError('No realm was given and the tenant has no default_directory; send "realm" or configure default_directory.');
  }
  return connection;
}
