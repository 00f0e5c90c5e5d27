import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { AccessTokenDenylist, SingleUseKeyStore } from '../stores.js';
import { toIso } from './time.js';

export class SqlAccessTokenDenylist implements AccessTokenDenylist {
  constructor(private readonly db: Kysely<Database>) {}

  async add(tenantId: string, jti: string, expiresAt: Date): Promise<void> {
    await this.db
      .insertInto('revoked_access_tokens')
      .values({ jti, tenant_id: tenantId, expires_at: toIso(expiresAt) })
      .onConflict((oc) => oc.column('jti').doNothing())
      .execute();
  }

  async isRevoked(jti: string): Promise<boolean> {
    const row = await this.db.selectFrom('revoked_access_tokens').select('jti').where('jti', '=', jti).executeTakeFirst();
    return row !== undefined;
  }
}

export class SqlSingleUseKeyStore implements SingleUseKeyStore {
  constructor(private readonly db: Kysely<Database>) {}

  async isConsumed(key: string, now: Date): Promise<boolean> {
    const row = await this.db
      .selectFrom('consumed_jtis')
      .select('key')
      .where('key', '=', key)
      .where('expires_at', '>', toIso(now))
      .executeTakeFirst();
    return row !== undefined;
  }

  async consume(key: string, expiresAt: Date, now: Date): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      // An expired entry may be reused: its assertion can no longer pass the exp check anyway.
      await tx.deleteFrom('consumed_jtis').where('key', '=', key).where('expires_at', '<=', toIso(now)).execute();
      const result = await tx
        .insertInto('consumed_jtis')
        .values({ key, expires_at: toIso(expiresAt) })
        .onConflict((oc) => oc.column('key').doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
    });
  }
}
