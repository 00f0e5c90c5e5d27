/**
 * The Management API's users (DESIGN.md §9): list and search, read, create,
 * update and delete, as Auth0's v2 does them. Every change goes through the
 * services the CLI and the file use, so its consequences are the same by
 * every path: a new password is checked against the connection's policy and
 * ends every refresh-token family and brute-force lock of the user (DESIGN.md
 * §8), a block ends every session (identity/account-lifecycle.ts), a deletion
 * removes what the user could still use first (identity/user-deletion.ts).
 *
 * Users are data, never `managed_by_config`. Ids are the token's `sub`; a
 * user of another tenant is `inexistent_user`, exactly like one that never
 * existed.
 */
import type { Clock } from '../../clock.js';
import { badRequest, conflict, type ManagementApiError, notFound } from '../../domain/management-errors.js';
import { servedConnectionOf, type Tenant } from '../../domain/tenant.js';
import { mergeMetadata, metadataFits, MAX_METADATA_BYTES } from '../../domain/user-metadata.js';
import { parseUserSearch, USER_SEARCH_LIMIT } from '../../domain/user-search.js';
import type { AccountLifecycle } from '../../identity/account-lifecycle.js';
import { checkNewPassword, createUser, PasswordPolicyError, UserAdminError } from '../../identity/user-admin.js';
import { deleteUser, type UserDeletionDeps } from '../../identity/user-deletion.js';
import type { ConnectionRecord, UserMetadata, UserProfileUpdate, UserRecord, UserStore } from '../../storage/stores.js';

export interface UserManagementDeps {
  users: UserStore;
  lifecycle: Pick<AccountLifecycle, 'changePassword' | 'block' | 'recordPolicyRefusal'>;
  deletion: UserDeletionDeps;
  clock: Clock;
}

/** A user with the connection it belongs to (undefined: a connection the file no longer declares). */
export interface ManagedUser {
  user: UserRecord;
  connection: ConnectionRecord | undefined;
}

export interface UserListRequest {
  q?: string | undefined;
  /** A connection's name: only its users. */
  connection?: string | undefined;
  offset: number;
  limit: number;
}

export interface NewManagedUser {
  connection: string;
  email?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  name?: string | undefined;
  givenName?: string | undefined;
  familyName?: string | undefined;
  emailVerified?: boolean | undefined;
  blocked?: boolean | undefined;
  userMetadata?: Record<string, unknown> | undefined;
  appMetadata?: Record<string, unknown> | undefined;
}

export interface UserPatch {
  connection?: string | undefined;
  password?: string | undefined;
  blocked?: boolean | undefined;
  email?: string | undefined;
  emailVerified?: boolean | undefined;
  name?: string | undefined;
  givenName?: string | undefined;
  familyName?: string | undefined;
  userMetadata?: Record<string, unknown> | undefined;
  appMetadata?: Record<string, unknown> | undefined;
}

/** Auth0's answers, word for word where scripts compare them. */
const USER_NOT_FOUND = 'The user does not exist.';
const USER_EXISTS = 'The user already exists.';

export class UserManagement {
  constructor(private readonly deps: UserManagementDeps) {}

  async list(tenant: Tenant, request: UserListRequest): Promise<{ users: ManagedUser[]; total: number }> {
    let connectionId: string | undefined;
    if (request.connection !== undefined) {
      const connection = tenant.connections.get(request.connection);
      if (!connection) return { users: [], total: 0 };
      connectionId = connection.id;
    }
    const page = { offset: request.offset, limit: request.limit };
    const search = request.q === undefined ? undefined : parseUserSearch(request.q);
    if (search !== undefined) {
      // Auth0's bound on a search: pages stop at the first 1,000 users.
      if (page.offset + page.limit > USER_SEARCH_LIMIT)
        throw badRequest(
          `A search answers at most ${USER_SEARCH_LIMIT} users: narrow the q instead of paging further.`,
          'invalid_query_string',
        );
      const found = await this.deps.users.search(tenant.id, { connectionId, search }, page);
      return { users: found.users.map((user) => this.managed(tenant, user)), total: found.total };
    }
    const [users, total] = await Promise.all([
      this.deps.users.list(tenant.id, { connectionId, ...page }),
      this.deps.users.count(tenant.id, { connectionId }),
    ]);
    return { users: users.map((user) => this.managed(tenant, user)), total };
  }

  async byEmail(tenant: Tenant, email: string): Promise<ManagedUser[]> {
    // One address belongs to at most one user per connection.
    const users = await this.deps.users.findByEmail(tenant.id, email, Math.max(tenant.connections.size, 1) * 2);
    return users.map((user) => this.managed(tenant, user));
  }

  /** 404 inexistent_user unless the id names a user of this tenant. */
  async get(tenant: Tenant, userId: string): Promise<ManagedUser> {
    const user = await this.deps.users.findById(tenant.id, userId);
    if (!user) throw notFound('inexistent_user', USER_NOT_FOUND);
    return this.managed(tenant, user);
  }

  async create(tenant: Tenant, input: NewManagedUser): Promise<ManagedUser> {
    const connection = tenant.connections.get(input.connection);
    if (!connection) throw badRequest('The connection does not exist.', 'inexistent_connection');
    if (connection.type !== 'database')
      throw badRequest(`The connection ${connection.name} is not a database connection: its users are created at their first sign-in.`);
    // Auth0: a user created with only an email signs in with it as the username.
    const username = input.username ?? input.email;
    if (username === undefined) throw badRequest('Payload validation error: give an email or a username.');
    if (input.password === undefined) throw badRequest("Payload validation error: 'Missing required property: password'.");
    this.checkMetadata(input.userMetadata, input.appMetadata);
    await this.refuseTakenLogin(tenant, connection, [username, ...(input.email === undefined ? [] : [input.email])]);
    const target = { tenantId: tenant.id, connectionId: connection.id, policy: connection.passwordPolicy };
    try {
      const user = await createUser(this.deps.users, target, {
        username,
        email: input.email,
        emailVerified: input.emailVerified,
        name: input.name,
        givenName: input.givenName,
        familyName: input.familyName,
        blocked: input.blocked,
        userMetadata: input.userMetadata,
        appMetadata: input.appMetadata,
        password: input.password,
      });
      return { user, connection };
    } catch (err) {
      await this.deps.lifecycle.recordPolicyRefusal(tenant, connection, username, err, 'create');
      if (err instanceof PasswordPolicyError) throw passwordRefused(err);
      // The username was taken between the check and the insert.
      if (err instanceof UserAdminError) throw conflict('auth0_idp_error', USER_EXISTS);
      throw err;
    }
  }

  /**
   * Auth0's PATCH: everything is checked before anything is written, so a
   * refused password or a taken email changes nothing.
   */
  async update(tenant: Tenant, userId: string, patch: UserPatch): Promise<ManagedUser> {
    const { user, connection } = await this.get(tenant, userId);
    if (patch.connection !== undefined && patch.connection !== connection?.name)
      throw badRequest(`The user belongs to another connection than ${patch.connection}.`);
    if (!connection && (patch.password !== undefined || patch.blocked === true))
      throw badRequest('The configuration file no longer declares the connection of this user: nobody can sign in as them.');
    if (patch.password !== undefined && connection !== undefined) {
      if (connection.type !== 'database') throw badRequest(`The connection ${connection.name} keeps its own passwords.`);
      try {
        checkNewPassword(connection.passwordPolicy, patch.password);
      } catch (err) {
        await this.deps.lifecycle.recordPolicyRefusal(tenant, connection, user.username, err, 'change', user.id);
        throw err instanceof PasswordPolicyError ? passwordRefused(err) : err;
      }
    }
    const emailChanges = patch.email !== undefined && patch.email.toLowerCase() !== (user.email ?? '').toLowerCase();
    if (emailChanges && connection) await this.refuseTakenLogin(tenant, connection, [patch.email as string], user.id);
    const metadata = {
      userMetadata: patch.userMetadata === undefined ? undefined : mergeMetadata(user.userMetadata, patch.userMetadata),
      appMetadata: patch.appMetadata === undefined ? undefined : mergeMetadata(user.appMetadata, patch.appMetadata),
    };
    this.checkMetadata(metadata.userMetadata, metadata.appMetadata);

    const profile: UserProfileUpdate = {
      email: patch.email,
      // Auth0: a new address is unverified unless the same request says otherwise.
      emailVerified: patch.emailVerified ?? (emailChanges ? false : undefined),
      name: patch.name,
      givenName: patch.givenName,
      familyName: patch.familyName,
    };
    if (Object.values(profile).some((value) => value !== undefined)) await this.deps.users.updateProfile(user.id, profile);
    if (metadata.userMetadata !== undefined || metadata.appMetadata !== undefined) await this.deps.users.setMetadata(user.id, metadata);
    if (connection && patch.password !== undefined) {
      // Policy checked above; this stores the hash, ends every session and lifts the locks (DESIGN.md §8).
      await this.deps.lifecycle.changePassword(tenant, connection, user, patch.password, 'management_api');
    }
    if (patch.blocked === true && !user.blocked && connection) await this.deps.lifecycle.block(tenant, connection, user, 'management_api');
    // Lifting the block revives nothing: the sessions it ended stay revoked (as `latchkey users unblock`).
    if (patch.blocked === false && user.blocked) await this.deps.users.setBlocked(user.id, false);
    return this.get(tenant, user.id);
  }

  async delete(tenant: Tenant, userId: string): Promise<void> {
    const { user, connection } = await this.get(tenant, userId);
    await deleteUser(this.deps.deletion, tenant, connection?.name ?? user.connectionId, user, 'management_api');
  }

  private managed(tenant: Tenant, user: UserRecord): ManagedUser {
    return { user, connection: servedConnectionOf(tenant, user) };
  }

  /** 409 when one of these login names already signs someone (else `except`) in on the connection. */
  private async refuseTakenLogin(tenant: Tenant, connection: ConnectionRecord, logins: string[], except?: string): Promise<void> {
    for (const login of logins) {
      const existing = await this.deps.users.findByLogin(tenant.id, connection.id, login);
      if (existing && existing.id !== except) throw conflict('auth0_idp_error', USER_EXISTS);
    }
  }

  private checkMetadata(...objects: Array<UserMetadata | undefined>): void {
    for (const metadata of objects)
      if (metadata !== undefined && !metadataFits(metadata))
        throw badRequest(`Payload validation error: metadata must fit in ${MAX_METADATA_BYTES} bytes of JSON.`);
  }
}

/** Auth0's PasswordStrengthError, with the connection policy's reason. */
function passwordRefused(err: PasswordPolicyError): ManagementApiError {
  const reason = err.message.replace(/^password policy \([^)]*\): /, '');
  return badRequest(`PasswordStrengthError: ${reason}`, 'invalid_body', `password policy refused: ${err.rule}`);
}
