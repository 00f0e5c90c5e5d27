import type { Kysely, Selectable } from 'kysely';
import type { Database, RefreshTokenFamiliesTable, UsersTable } from '../schema.js';
import {
  isRetryInsideReuseInterval,
  type FamilyWithOwner,
  type NewRefreshTokenFamily,
  type RefreshTokenFamily,
  type RefreshTokenStore,
  type RotationRequest,
  type RotationResult,
} from '../stores.js';
import { CompiledStatement } from './compiled.js';
import { fromIso, fromIsoOrNull, toIso } from './time.js';
import { userFromRow } from './user-store.js';
import { writeBatcherFor } from './write-batcher.js';

/** A family row with its user's columns, each prefixed `owner_` (null when the user is gone). */
type FamilyWithOwnerRow = Selectable<RefreshTokenFamiliesTable> & {
  [C in keyof Selectable<UsersTable> as `owner_${C}`]: Selectable<UsersTable>[C] | null;
};

/**
 * The refresh grant needs the family and its user: one statement, not two
 * (on PostgreSQL every statement is a round trip), built and compiled once.
 */
const FIND_FAMILY_WITH_OWNER = new CompiledStatement<'familyId', FamilyWithOwnerRow>(['familyId'], (db, v) =>
  db
    .selectFrom('refresh_token_families as f')
    .leftJoin('users as u', (join) => join.onRef('u.id', '=', 'f.user_id').onRef('u.tenant_id', '=', 'f.tenant_id'))
    .selectAll('f')
    .select([
      'u.id as owner_id',
      'u.tenant_id as owner_tenant_id',
      'u.connection_id as owner_connection_id',
      'u.username as owner_username',
      'u.username_key as owner_username_key',
      'u.email as owner_email',
      'u.email_key as owner_email_key',
      'u.email_verified as owner_email_verified',
      'u.name as owner_name',
      'u.given_name as owner_given_name',
      'u.family_name as owner_family_name',
      'u.password_hash as owner_password_hash',
      'u.blocked as owner_blocked',
      'u.created_at as owner_created_at',
      'u.updated_at as owner_updated_at',
      'u.password_changed_at as owner_password_changed_at',
      'u.blocked_at as owner_blocked_at',
      'u.last_login_at as owner_last_login_at',
      'u.groups as owner_groups',
      'u.user_metadata as owner_user_metadata',
      'u.app_metadata as owner_app_metadata',
      'u.logins_count as owner_logins_count',
      'u.name_key as owner_name_key',
    ])
    .where('f.id', '=', v.familyId),
);

/** The rotation's arbiter (see `rotate`), compiled once: it runs on every refresh. */
const ROTATE = new CompiledStatement<'familyId' | 'expectedHash' | 'newHash' | 'rotatedAt' | 'newTokenSealed' | 'expiresAt', never>(
  ['familyId', 'expectedHash', 'newHash', 'rotatedAt', 'newTokenSealed', 'expiresAt'],
  (db, v) =>
    db
      .updateTable('refresh_token_families')
      .set({
        current_hash: v.newHash,
        previous_hash: v.expectedHash,
        rotated_at: v.rotatedAt,
        current_token_sealed: v.newTokenSealed,
        expires_at: v.expiresAt,
      })
      .where('id', '=', v.familyId)
      .where('current_hash', '=', v.expectedHash)
      .where('revoked_at', 'is', null),
);

/** The user's own row back from its `owner_` columns, when the join found one (spelled out: this runs on every refresh). */
function ownerOf(row: FamilyWithOwnerRow): Selectable<UsersTable> | undefined {
  // The join matched when the primary key is there; then every NOT NULL column of users is too.
  if (row.owner_id === null) return undefined;
  return {
    id: row.owner_id,
    tenant_id: row.owner_tenant_id as string,
    connection_id: row.owner_connection_id as string,
    username: row.owner_username as string,
    username_key: row.owner_username_key as string,
    email: row.owner_email,
    email_key: row.owner_email_key,
    email_verified: row.owner_email_verified as number,
    name: row.owner_name,
    given_name: row.owner_given_name,
    family_name: row.owner_family_name,
    password_hash: row.owner_password_hash,
    blocked: row.owner_blocked as number,
    created_at: row.owner_created_at as string,
    updated_at: row.owner_updated_at as string,
    password_changed_at: row.owner_password_changed_at,
    blocked_at: row.owner_blocked_at,
    last_login_at: row.owner_last_login_at,
    groups: row.owner_groups,
    user_metadata: row.owner_user_metadata,
    app_metadata: row.owner_app_metadata,
    logins_count: row.owner_logins_count as number,
    name_key: row.owner_name_key,
  };
}

function toFamily(row: Selectable<RefreshTokenFamiliesTable>): RefreshTokenFamily {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    clientId: row.client_id,
    userId: row.user_id,
    audience: row.audience,
    scope: row.scope,
    authTime: fromIso(row.auth_time),
    currentHash: row.current_hash,
    previousHash: row.previous_hash,
    rotatedAt: fromIsoOrNull(row.rotated_at),
    currentTokenSealed: row.current_token_sealed,
    createdAt: fromIso(row.created_at),
    expiresAt: fromIso(row.expires_at),
    familyExpiresAt: fromIso(row.family_expires_at),
    revokedAt: fromIsoOrNull(row.revoked_at),
    amr: row.amr === null ? null : (JSON.parse(row.amr) as string[]),
  };
}

export class SqlRefreshTokenStore implements RefreshTokenStore {
  constructor(private readonly db: Kysely<Database>) {}

  async findFamily(familyId: string): Promise<RefreshTokenFamily | undefined> {
    const row = await this.db.selectFrom('refresh_token_families').selectAll().where('id', '=', familyId).executeTakeFirst();
    return row && toFamily(row);
  }

  async findFamilyWithOwner(familyId: string): Promise<FamilyWithOwner | undefined> {
    const { rows } = await FIND_FAMILY_WITH_OWNER.execute(this.db, { familyId });
    const row = rows[0];
    if (row === undefined) return undefined;
    const owner = ownerOf(row);
    return { family: toFamily(row), owner: owner && userFromRow(owner) };
  }

  async createFamily(family: NewRefreshTokenFamily): Promise<void> {
    // Shares a commit with the login's counter writes on SQLite (write-batcher.ts); committed before the response.
    await writeBatcherFor(this.db).run((db) =>
      db
        .insertInto('refresh_token_families')
        .values({
          id: family.id,
          tenant_id: family.tenantId,
          client_id: family.clientId,
          user_id: family.userId,
          audience: family.audience,
          scope: family.scope,
          auth_time: toIso(family.authTime),
          current_hash: family.currentHash,
          previous_hash: null,
          rotated_at: null,
          current_token_sealed: family.currentTokenSealed,
          created_at: toIso(family.createdAt),
          expires_at: toIso(family.expiresAt),
          family_expires_at: toIso(family.familyExpiresAt),
          revoked_at: null,
          amr: family.amr === null ? null : JSON.stringify(family.amr),
        })
        .execute(),
    );
  }

  async rotate(args: RotationRequest): Promise<RotationResult> {
    // One conditional UPDATE is the arbiter, on SQLite and PostgreSQL alike:
    // a second writer re-checks `current_hash` after the first commits and
    // finds it changed, so exactly one caller sees one row.
    // On SQLite, rotations issued in the same event-loop turn share one commit (write-batcher.ts); each still sees
    // its own row count, and every one is committed before its response is written.
    const values = {
      familyId: args.familyId,
      expectedHash: args.expectedHash,
      newHash: args.newHash,
      rotatedAt: toIso(args.now),
      newTokenSealed: args.newTokenSealed,
      expiresAt: toIso(args.expiresAt),
    };
    const claimed = await writeBatcherFor(this.db).run((db) => ROTATE.execute(db, values));
    if (Number(claimed.numAffectedRows) === 1) return { kind: 'rotated' };

    const family = await this.findFamily(args.familyId);
    if (family && isRetryInsideReuseInterval(family, args.expectedHash, args.now, args.reuseIntervalSeconds)) {
      return { kind: 'replay', currentTokenSealed: family.currentTokenSealed as string };
    }
    await this.revokeFamily(args.familyId, args.now);
    return { kind: 'reuse_detected' };
  }

  async revokeFamily(familyId: string, now: Date): Promise<void> {
    await this.db
      .updateTable('refresh_token_families')
      .set({ revoked_at: toIso(now), current_token_sealed: null })
      .where('id', '=', familyId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  async revokeAllForUser(tenantId: string, userId: string, now: Date): Promise<number> {
    // One UPDATE through refresh_token_families_user_idx (tenant_id, user_id). A rotation racing it either
    // commits first (and its new token is revoked here) or finds revoked_at set and fails: no family survives.
    return this.revokeLiveFamilies(tenantId, 'user_id', userId, now);
  }

  async revokeClientFamilies(tenantId: string, clientId: string, now: Date): Promise<number> {
    // Through the (tenant_id, client_id) index of migration 007.
    return this.revokeLiveFamilies(tenantId, 'client_id', clientId, now);
  }

  async countLiveForUser(tenantId: string, userId: string, now: Date): Promise<number> {
    const row = await this.liveFamiliesOf(tenantId, userId, now)
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async listLiveForUser(
    tenantId: string,
    userId: string,
    now: Date,
    page: { offset: number; limit: number },
  ): Promise<RefreshTokenFamily[]> {
    const rows = await this.liveFamiliesOf(tenantId, userId, now)
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    return rows.map(toFamily);
  }

  /** The user's families neither revoked nor expired at `now`, through refresh_token_families_user_idx (a user holds few). */
  private liveFamiliesOf(tenantId: string, userId: string, now: Date) {
    const at = toIso(now);
    return this.db
      .selectFrom('refresh_token_families')
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', at)
      .where('family_expires_at', '>', at);
  }

  /** Revokes the tenant's unrevoked families whose `column` is `value`; an earlier revocation keeps its instant. */
  private async revokeLiveFamilies(tenantId: string, column: 'user_id' | 'client_id', value: string, now: Date): Promise<number> {
    const result = await this.db
      .updateTable('refresh_token_families')
      .set({ revoked_at: toIso(now), current_token_sealed: null })
      .where('tenant_id', '=', tenantId)
      .where(column, '=', value)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }
}
