import type { Kysely, Selectable } from 'kysely';
import type { Database, MfaAuthenticatorsTable, MfaPendingEnrolmentsTable } from '../schema.js';
import type { EnrolmentConfirmation, MfaAuthenticator, MfaAuthenticatorType, MfaPendingEnrolment, MfaStore } from '../stores.js';
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
    return rows.map(authenticatorOf);
  }

  async addAuthenticator(a: MfaAuthenticator): Promise<void> {
    await this.db.insertInto('mfa_authenticators').values(authenticatorRow(a, null)).execute();
  }

  async removeAuthenticator(tenantId: string, userId: string, id: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .deleteFrom('mfa_authenticators')
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', userId)
        .where('id', '=', id)
        .executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) return false;
      // The recovery code stands for the factors: with the last one gone, it goes too.
      const left = await trx
        .selectFrom('mfa_authenticators')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      if (!left) await trx.deleteFrom('mfa_recovery_codes').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
      return true;
    });
  }

  async removeAllAuthenticators(tenantId: string, userId: string): Promise<number> {
    const result = await this.db
      .deleteFrom('mfa_authenticators')
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    await this.db.deleteFrom('mfa_pending_enrolments').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
    await this.setRecoveryCodeHash(tenantId, userId, null);
    return Number(result.numDeletedRows);
  }

  async advanceOtpStep(tenantId: string, authenticatorId: string, step: number): Promise<boolean> {
    const result = await this.db
      .updateTable('mfa_authenticators')
      .set({ last_used_step: step })
      .where('id', '=', authenticatorId)
      .where('tenant_id', '=', tenantId)
      .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async putPendingEnrolment(p: MfaPendingEnrolment): Promise<void> {
    const replaced = {
      authenticator_id: p.authenticatorId,
      type: p.type,
      secret_sealed: p.secretSealed,
      email: p.email,
      recovery_code_hash: p.recoveryCodeHash,
      mfa_token_jti: p.mfaTokenJti,
      created_at: toIso(p.createdAt),
      expires_at: toIso(p.expiresAt),
    };
    await this.db
      .insertInto('mfa_pending_enrolments')
      .values({ tenant_id: p.tenantId, user_id: p.userId, ...replaced })
      .onConflict((oc) => oc.columns(['tenant_id', 'user_id']).doUpdateSet(replaced))
      .execute();
  }

  async pendingEnrolment(tenantId: string, userId: string, now: Date): Promise<MfaPendingEnrolment | undefined> {
    const row = await this.db
      .selectFrom('mfa_pending_enrolments')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('expires_at', '>', toIso(now))
      .executeTakeFirst();
    return row && pendingOf(row);
  }

  async confirmPendingEnrolment(args: {
    tenantId: string;
    userId: string;
    authenticatorId: string;
    mfaTokenJti: string;
    now: Date;
    lastUsedStep: number | null;
  }): Promise<EnrolmentConfirmation> {
    return this.db.transaction().execute(async (trx): Promise<EnrolmentConfirmation> => {
      // The delete is the arbiter: of two confirmations of one enrolment, one finds the row.
      const pending = await trx
        .deleteFrom('mfa_pending_enrolments')
        .where('tenant_id', '=', args.tenantId)
        .where('user_id', '=', args.userId)
        .where('authenticator_id', '=', args.authenticatorId)
        .where('mfa_token_jti', '=', args.mfaTokenJti)
        .where('expires_at', '>', toIso(args.now))
        .returningAll()
        .executeTakeFirst();
      if (!pending) return { kind: 'gone' };
      // A factor confirmed meanwhile (an associate that raced it) wins: this one is dropped, not added beside it.
      const existing = await trx
        .selectFrom('mfa_authenticators')
        .select('id')
        .where('tenant_id', '=', args.tenantId)
        .where('user_id', '=', args.userId)
        .executeTakeFirst();
      if (existing) return { kind: 'already_enrolled' };
      const authenticator: MfaAuthenticator = {
        id: pending.authenticator_id,
        tenantId: pending.tenant_id,
        userId: pending.user_id,
        type: pending.type as MfaAuthenticatorType,
        secretSealed: pending.secret_sealed,
        email: pending.email,
        createdAt: args.now,
      };
      await trx.insertInto('mfa_authenticators').values(authenticatorRow(authenticator, args.lastUsedStep)).execute();
      const now = toIso(args.now);
      await trx
        .insertInto('mfa_recovery_codes')
        .values({ tenant_id: args.tenantId, user_id: args.userId, code_hash: pending.recovery_code_hash, created_at: now })
        .onConflict((oc) => oc.columns(['tenant_id', 'user_id']).doUpdateSet({ code_hash: pending.recovery_code_hash, created_at: now }))
        .execute();
      return { kind: 'confirmed', authenticator };
    });
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

function authenticatorOf(row: Selectable<MfaAuthenticatorsTable>): MfaAuthenticator {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    type: row.type as MfaAuthenticatorType,
    secretSealed: row.secret_sealed,
    email: row.email,
    createdAt: fromIso(row.created_at),
  };
}

function authenticatorRow(a: MfaAuthenticator, lastUsedStep: number | null) {
  return {
    id: a.id,
    tenant_id: a.tenantId,
    user_id: a.userId,
    type: a.type,
    secret_sealed: a.secretSealed,
    email: a.email,
    // Every row is a confirmed factor now; the column stays 1 for nodes of the previous version (schema.ts).
    confirmed: 1,
    created_at: toIso(a.createdAt),
    last_used_step: lastUsedStep,
  };
}

function pendingOf(row: Selectable<MfaPendingEnrolmentsTable>): MfaPendingEnrolment {
  return {
    tenantId: row.tenant_id,
    userId: row.user_id,
    authenticatorId: row.authenticator_id,
    type: row.type as MfaAuthenticatorType,
    secretSealed: row.secret_sealed,
    email: row.email,
    recoveryCodeHash: row.recovery_code_hash,
    mfaTokenJti: row.mfa_token_jti,
    createdAt: fromIso(row.created_at),
    expiresAt: fromIso(row.expires_at),
  };
}
