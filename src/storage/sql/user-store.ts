import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, SelectQueryBuilder, Updateable } from 'kysely';
import type { Database, UsersTable } from '../schema.js';
import type {
  NewUser,
  UserListFilter,
  UserListPage,
  UserMetadata,
  UserProfileUpdate,
  UserRecord,
  UserSearchPage,
  UserStore,
} from '../stores.js';
import { loginKey } from '../../domain/login-key.js';
import type { UserSearch } from '../../domain/user-search.js';
import { fromIso, fromIsoOrNull, toIso } from './time.js';
import { searchUsers } from './user-search.js';
import { writeBatcherFor } from './write-batcher.js';

/** A users row as the record the services see (also used by stores that join users in). */
export function userFromRow(row: Selectable<UsersTable>): UserRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    connectionId: row.connection_id,
    username: row.username,
    email: row.email,
    emailVerified: row.email_verified === 1,
    name: row.name,
    givenName: row.given_name,
    familyName: row.family_name,
    groups: row.groups === null ? null : (JSON.parse(row.groups) as string[]),
    passwordHash: row.password_hash,
    blocked: row.blocked === 1,
    passwordChangedAt: fromIsoOrNull(row.password_changed_at),
    blockedAt: fromIsoOrNull(row.blocked_at),
    createdAt: fromIso(row.created_at),
    updatedAt: fromIso(row.updated_at),
    lastLoginAt: fromIsoOrNull(row.last_login_at),
    loginsCount: Number(row.logins_count),
    userMetadata: metadataFromColumn(row.user_metadata),
    appMetadata: metadataFromColumn(row.app_metadata),
  };
}

function metadataFromColumn(text: string | null): UserMetadata {
  return text === null ? {} : (JSON.parse(text) as UserMetadata);
}

function metadataColumn(metadata: UserMetadata | undefined): string | null {
  return metadata === undefined || Object.keys(metadata).length === 0 ? null : JSON.stringify(metadata);
}

function filtered<O>(query: SelectQueryBuilder<Database, 'users', O>, tenantId: string, filter: UserListFilter) {
  let filteredQuery = query.where('tenant_id', '=', tenantId);
  if (filter.connectionId !== undefined) filteredQuery = filteredQuery.where('connection_id', '=', filter.connectionId);
  return filteredQuery;
}

/**
 * The row a new user is stored as: what `create` inserts, and what a bulk
 * load (the management bench's 100,000 users) must insert to be read alike.
 */
export function newUserRow(user: NewUser, id: string, now: string): Selectable<UsersTable> {
  return {
    id,
    tenant_id: user.tenantId,
    connection_id: user.connectionId,
    username: user.username,
    username_key: loginKey(user.username),
    email: user.email ?? null,
    email_key: user.email === undefined ? null : loginKey(user.email),
    email_verified: user.emailVerified ? 1 : 0,
    name: user.name ?? null,
    given_name: user.givenName ?? null,
    family_name: user.familyName ?? null,
    password_hash: user.passwordHash,
    blocked: user.blocked ? 1 : 0,
    created_at: now,
    updated_at: now,
    // A first password is no change: nothing signed in before the user existed (identity/user-sessions.ts).
    password_changed_at: null,
    blocked_at: user.blocked ? now : null,
    last_login_at: null,
    groups: user.groups === undefined ? null : JSON.stringify(user.groups),
    user_metadata: metadataColumn(user.userMetadata),
    app_metadata: metadataColumn(user.appMetadata),
    logins_count: 0,
    name_key: user.name === undefined ? null : loginKey(user.name),
  };
}

export class SqlUserStore implements UserStore {
  constructor(private readonly db: Kysely<Database>) {}

  async findByLogin(tenantId: string, connectionId: string, login: string): Promise<UserRecord | undefined> {
    const key = loginKey(login);
    // Two lookups, each on its own index. One `username_key = ? OR email_key = ?` query is planned by SQLite as a
    // scan of every user of the connection (it only uses the (tenant, connection) prefix of an index): a login, and
    // each row of an import, then costs time in proportion to the connection's size.
    const byKey = (column: 'username_key' | 'email_key') =>
      this.db
        .selectFrom('users')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('connection_id', '=', connectionId)
        .where(column, '=', key)
        .limit(1)
        .executeTakeFirst();
    // A username match wins over another user's email that happens to be equal.
    const row = (await byKey('username_key')) ?? (await byKey('email_key'));
    return row && userFromRow(row);
  }

  async findById(tenantId: string, userId: string): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', userId).where('tenant_id', '=', tenantId).executeTakeFirst();
    return row && userFromRow(row);
  }

  async create(user: NewUser): Promise<UserRecord | undefined> {
    const row = newUserRow(user, user.id ?? randomUUID(), toIso(new Date()));
    const result = await this.db
      .insertInto('users')
      .values(row)
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1 ? userFromRow(row) : undefined;
  }

  async provisionExternal(user: Omit<NewUser, 'passwordHash'>): Promise<UserRecord> {
    const byUsername = async () => {
      const row = await this.db
        .selectFrom('users')
        .selectAll()
        .where('tenant_id', '=', user.tenantId)
        .where('connection_id', '=', user.connectionId)
        .where('username_key', '=', loginKey(user.username))
        .executeTakeFirst();
      return row && userFromRow(row);
    };
    const existing = (await byUsername()) ?? (await this.create({ ...user, passwordHash: null })) ?? (await byUsername());
    if (!existing) throw new Error(`could not provision external user ${user.username}`);
    const { email, emailVerified, name, givenName, familyName, groups } = user;
    const changed =
      (email !== undefined && email !== existing.email) ||
      (emailVerified !== undefined && emailVerified !== existing.emailVerified) ||
      (name !== undefined && name !== existing.name) ||
      (givenName !== undefined && givenName !== existing.givenName) ||
      (familyName !== undefined && familyName !== existing.familyName) ||
      (groups !== undefined && JSON.stringify(groups) !== JSON.stringify(existing.groups));
    if (!changed) return existing;
    // The directory is the source of truth: its answer refreshes the local profile at every login.
    await this.updateProfile(existing.id, { email, emailVerified, name, givenName, familyName, groups });
    return (await this.findById(user.tenantId, existing.id)) ?? existing;
  }

  async updateProfile(userId: string, profile: UserProfileUpdate): Promise<void> {
    const set: Updateable<UsersTable> = { updated_at: toIso(new Date()) };
    if (profile.email !== undefined) {
      set.email = profile.email;
      set.email_key = loginKey(profile.email);
    }
    if (profile.emailVerified !== undefined) set.email_verified = profile.emailVerified ? 1 : 0;
    if (profile.name !== undefined) {
      set.name = profile.name;
      set.name_key = loginKey(profile.name);
    }
    if (profile.givenName !== undefined) set.given_name = profile.givenName;
    if (profile.familyName !== undefined) set.family_name = profile.familyName;
    if (profile.groups !== undefined) set.groups = JSON.stringify(profile.groups);
    await this.db.updateTable('users').set(set).where('id', '=', userId).execute();
  }

  async setPasswordHash(
    userId: string,
    passwordHash: string,
    options: { expectedHash?: string; passwordChangedAt?: Date } = {},
  ): Promise<boolean> {
    const now = toIso(new Date());
    let query = this.db
      .updateTable('users')
      .set({
        password_hash: passwordHash,
        updated_at: now,
        ...(options.passwordChangedAt === undefined ? {} : { password_changed_at: toIso(options.passwordChangedAt) }),
      })
      .where('id', '=', userId);
    if (options.expectedHash !== undefined) query = query.where('password_hash', '=', options.expectedHash);
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async setBlocked(userId: string, blocked: boolean, now: Date = new Date()): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ blocked: blocked ? 1 : 0, updated_at: toIso(new Date()), ...(blocked ? { blocked_at: toIso(now) } : {}) })
      .where('id', '=', userId)
      .execute();
  }

  async recordLogin(userId: string, at: Date): Promise<void> {
    // Batched with the login's counter writes and security event on SQLite: one commit per login, not two.
    await writeBatcherFor(this.db).run((db) =>
      db
        .updateTable('users')
        .set((eb) => ({ last_login_at: toIso(at), logins_count: eb('logins_count', '+', 1) }))
        .where('id', '=', userId)
        .execute(),
    );
  }

  async countInConnection(tenantId: string, connectionId: string): Promise<number> {
    // By the (tenant_id, connection_id, username_key) unique index's prefix.
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('tenant_id', '=', tenantId)
      .where('connection_id', '=', connectionId)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async list(tenantId: string, page: UserListPage): Promise<UserRecord[]> {
    // Ordered as the (tenant_id, connection_id, username_key) unique index: a page is an index range, and the order is total.
    const query = filtered(this.db.selectFrom('users').selectAll(), tenantId, page);
    const rows = await query.orderBy('connection_id').orderBy('username_key').limit(page.limit).offset(page.offset).execute();
    return rows.map(userFromRow);
  }

  async search(
    tenantId: string,
    filter: UserListFilter & { search: UserSearch },
    page: { offset: number; limit: number },
  ): Promise<UserSearchPage> {
    const { rows, total } = await searchUsers(this.db, tenantId, filter, page);
    return { users: rows.map(userFromRow), total };
  }

  async count(tenantId: string, filter: UserListFilter): Promise<number> {
    const query = filtered(this.db.selectFrom('users'), tenantId, filter);
    const row = await query.select((eb) => eb.fn.countAll<number | string>().as('count')).executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async findByEmail(tenantId: string, email: string, limit: number): Promise<UserRecord[]> {
    // Through users_tenant_email_idx (migration 011), across the tenant's connections.
    const rows = await this.db
      .selectFrom('users')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('email_key', '=', loginKey(email))
      .orderBy('connection_id')
      .orderBy('username_key')
      .limit(limit)
      .execute();
    return rows.map(userFromRow);
  }

  async setMetadata(
    userId: string,
    metadata: { userMetadata?: UserMetadata | undefined; appMetadata?: UserMetadata | undefined },
  ): Promise<void> {
    const set: Updateable<UsersTable> = { updated_at: toIso(new Date()) };
    if (metadata.userMetadata !== undefined) set.user_metadata = metadataColumn(metadata.userMetadata);
    if (metadata.appMetadata !== undefined) set.app_metadata = metadataColumn(metadata.appMetadata);
    await this.db.updateTable('users').set(set).where('id', '=', userId).execute();
  }

  async countInTenant(tenantId: string): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('tenant_id', '=', tenantId)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async delete(tenantId: string, userId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('users').where('tenant_id', '=', tenantId).where('id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }
}
