import type { Kysely, Selectable } from 'kysely';
import type { Database, RefreshTokenFamiliesTable } from '../schema.js';
import {
  isRetryInsideReuseInterval,
  type NewRefreshTokenFamily,
  type RefreshTokenFamily,
  type RefreshTokenStore,
  type RotationResult,
} from '../stores.js';
import { fromIso, fromIsoOrNull, toIso } from './time.js';

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

  async createFamily(family: NewRefreshTokenFamily): Promise<void> {
    await this.db
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
      .execute();
  }

  async rotate(args: {
    familyId: string;
    expectedHash: string;
    newHash: string;
    newTokenSealed: string | null;
    expiresAt: Date;
    now: Date;
    reuseIntervalSeconds: number;
  }): Promise<RotationResult> {
    // One conditional UPDATE is the arbiter, on SQLite and PostgreSQL alike:
    // a second writer re-checks `current_hash` after the first commits and
    // finds it changed, so exactly one caller sees one row.
    const claimed = await this.db
      .updateTable('refresh_token_families')
      .set({
        current_hash: args.newHash,
        previous_hash: args.expectedHash,
        rotated_at: toIso(args.now),
        current_token_sealed: args.newTokenSealed,
        expires_at: toIso(args.expiresAt),
      })
      .where('id', '=', args.familyId)
      .where('current_hash', '=', args.expectedHash)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) === 1) return { kind: 'rotated' };

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
