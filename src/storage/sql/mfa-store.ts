import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { MfaAuthenticator, MfaAuthenticatorType, MfaStore } from '../stores.js';
import { fromIso, toIso } from './time.js';

export class SqlMfaStore implements MfaStore {
  constructor(private readonly db: Kysely<Database>) {}

  async listAuthenticators(tenantId: string, userId: string): Promise<MfaAuthenticator[]> {
    const rows = await this.db
      .selectFrom('mfa_authenticators')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      tenantId: row.tenant_id,
      userId: row.user_id,
      type: row.type as MfaAuthenticatorType,
      secretSealed: row.secret_sealed,
      email: row.email,
      confirmed: row.confirmed === 1,
      createdAt: fromIso(row.created_at),
    }));
  }

  async addAuthenticator(a: MfaAuthenticator): Promise<void> {
    await this.db
      .insertInto('mfa_authenticators')
      .values({
        id: a.id,
        tenant_id: a.tenantId,
        user_id: a.userId,
        type: a.type,
        secret_sealed: a.secretSealed,
        email: a.email,
        confirmed: a.confirmed ? 1 : 0,
        created_at: toIso(a.createdAt),
      })
      .execute();
  }

  async confirmAuthenticator(id: string): Promise<void> {
    await this.db.updateTable('mfa_authenticators').set({ confirmed: 1 }).where('id', '=', id).execute();
  }

  async removeAuthenticator(tenantId: string, userId: string, id: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('mfa_authenticators')
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async removeAllAuthenticators(tenantId: string, userId: string): Promise<number> {
    const result = await this.db.deleteFrom('mfa_authenticators').where('tenant_id', '=', tenantId).where('user_id', '=', userId).executeTakeFirst();
    await this.setRecoveryCodeHash(tenantId, userId, null);
    return Number(result.numDeletedRows);
  }

  async recoveryCodeHash(tenantId: string, userId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('mfa_recovery_codes')
      .select('code_hash')
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row?.code_hash;
  }

  async setRecoveryCodeHash(tenantId: string, userId: string, hash: string | null): Promise<void> {
    if (hash === null) {
      await this.db.deleteFrom('mfa_recovery_codes').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
      return;
    }
    // One upsert: two nodes setting a user's code at once both succeed, the later one's code stands.
    const now = toIso(new Date());
    await this.db
      .insertInto('mfa_recovery_codes')
      .values({ tenant_id: tenantId, user_id: userId, code_hash: hash, created_at: now })
      .onConflict((oc) => oc.columns(['tenant_id', 'user_id']).doUpdateSet({ code_hash: hash, created_at: now }))
      .execute();
  }

  async replaceRecoveryCodeHash(tenantId: string, userId: string, expectedHash: string, nextHash: string): Promise<boolean> {
    const result = await this.db
      .updateTable('mfa_recovery_codes')
      .set({ code_hash: nextHash, created_at: toIso(new Date()) })
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('code_hash', '=', expectedHash)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}
