import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { Database, UsersTable } from '../schema.js';
import type { NewUser, UserListPage, UserProfileUpdate, UserRecord, UserStore } from '../stores.js';
import { loginKey } from '../../domain/login-key.js';
import { fromIso, fromIsoOrNull, toIso } from './time.js';

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
    const now = toIso(new Date());
    const row: Selectable<UsersTable> = {
      id: user.id ?? randomUUID(),
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
    };
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
    const set: Partial<UsersTable> = { updated_at: toIso(new Date()) };
    if (profile.email !== undefined) {
      set.email = profile.email;
      set.email_key = loginKey(profile.email);
    }
    if (profile.emailVerified !== undefined) set.email_verified = profile.emailVerified ? 1 : 0;
    if (profile.name !== undefined) set.name = profile.name;
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
    await this.db
      .updateTable('users')
      .set({ last_login_at: toIso(at) })
      .where('id', '=', userId)
      .execute();
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
    let query = this.db.selectFrom('users').selectAll().where('tenant_id', '=', tenantId);
    if (page.connectionId !== undefined) query = query.where('connection_id', '=', page.connectionId);
    const rows = await query.orderBy('connection_id').orderBy('username_key').limit(page.limit).offset(page.offset).execute();
    return rows.map(userFromRow);
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
