import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database, RefreshTokensTable } from '../schema.js';
import type { NewRefreshToken, RefreshTokenRecord, RefreshTokenStore, RotationResult } from '../stores.js';
import { fromIso, fromIsoOrNull, toIso } from './time.js';

function toRecord(row: Selectable<RefreshTokensTable>): RefreshTokenRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    familyId: row.family_id,
    tokenHash: row.token_hash,
    clientId: row.client_id,
    userId: row.user_id,
    audience: row.audience,
    scope: row.scope,
    authTime: fromIso(row.auth_time),
    createdAt: fromIso(row.created_at),
    expiresAt: fromIso(row.expires_at),
    familyExpiresAt: fromIso(row.family_expires_at),
    usedAt: fromIsoOrNull(row.used_at),
    revokedAt: fromIsoOrNull(row.revoked_at),
    childTokenSealed: row.child_token_sealed,
  };
}

function toRow(token: NewRefreshToken): Selectable<RefreshTokensTable> {
  return {
    id: token.id,
    tenant_id: token.tenantId,
    family_id: token.familyId,
    token_hash: token.tokenHash,
    client_id: token.clientId,
    user_id: token.userId,
    audience: token.audience,
    scope: token.scope,
    auth_time: toIso(token.authTime),
    created_at: toIso(token.createdAt),
    expires_at: toIso(token.expiresAt),
    family_expires_at: toIso(token.familyExpiresAt),
    used_at: null,
    revoked_at: null,
    child_token_sealed: null,
  };
}

export class SqlRefreshTokenStore implements RefreshTokenStore {
  constructor(private readonly db: Kysely<Database>) {}

  async findByHash(tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    const row = await this.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return row && toRecord(row);
  }

  async insert(token: NewRefreshToken): Promise<void> {
    await this.db.insertInto('refresh_tokens').values(toRow(token)).execute();
  }

  async rotate(args: { parentId: string; child: NewRefreshToken; now: Date; childTokenSealed: string | null; reuseIntervalSeconds: number }): Promise<RotationResult> {
    const now = toIso(args.now);
    return this.db.transaction().execute(async (tx): Promise<RotationResult> => {
      // The conditional update is the arbiter: on SQLite the transaction is
      // serialised, on PostgreSQL a second updater waits for the first and
      // re-checks `used_at is null`, so exactly one caller sees one row.
      const claimed = await tx
        .updateTable('refresh_tokens')
        .set({ used_at: now, child_token_sealed: args.childTokenSealed })
        .where('id', '=', args.parentId)
        .where('used_at', 'is', null)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) === 1) {
        await tx.insertInto('refresh_tokens').values(toRow(args.child)).execute();
        return { kind: 'rotated' };
      }
      return this.afterLostClaim(tx, args.parentId, args.now, args.reuseIntervalSeconds);
    });
  }

  private async afterLostClaim(tx: Transaction<Database>, parentId: string, now: Date, reuseIntervalSeconds: number): Promise<RotationResult> {
    const parent = await tx.selectFrom('refresh_tokens').select(['family_id', 'used_at', 'revoked_at', 'child_token_sealed']).where('id', '=', parentId).executeTakeFirstOrThrow();
    const usedAt = fromIsoOrNull(parent.used_at);
    const insideReuseInterval = usedAt !== null && now.getTime() - usedAt.getTime() <= reuseIntervalSeconds * 1000;
    if (parent.revoked_at === null && insideReuseInterval && parent.child_token_sealed !== null) {
      return { kind: 'replay', childTokenSealed: parent.child_token_sealed };
    }
    await this.revokeFamilyIn(tx, parent.family_id, now);
    return { kind: 'reuse_detected' };
  }

  async revokeFamily(familyId: string, now: Date): Promise<void> {
    await this.revokeFamilyIn(this.db, familyId, now);
  }

  private async revokeFamilyIn(db: Kysely<Database>, familyId: string, now: Date): Promise<void> {
    await db
      .updateTable('refresh_tokens')
      .set({ revoked_at: toIso(now), child_token_sealed: null })
      .where('family_id', '=', familyId)
      .where('revoked_at', 'is', null)
      .execute();
  }
}
