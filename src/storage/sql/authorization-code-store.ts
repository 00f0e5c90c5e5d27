import type { Kysely, Selectable } from 'kysely';
import type { AuthorizationCodeRecord, AuthorizationCodeStore, CodeRedemption, IssuedForCode } from '../browser-stores.js';
import type { AuthorizationCodesTable, Database } from '../schema.js';
import { fromIso, toIso } from './time.js';

export class SqlAuthorizationCodeStore implements AuthorizationCodeStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(code: AuthorizationCodeRecord): Promise<void> {
    await this.db
      .insertInto('authorization_codes')
      .values({
        code_hash: code.codeHash,
        tenant_id: code.tenantId,
        client_id: code.clientId,
        redirect_uri: code.redirectUri,
        code_challenge: code.codeChallenge,
        user_id: code.userId,
        grant: code.grant,
        created_at: toIso(code.createdAt),
        expires_at: toIso(code.expiresAt),
        redeemed_at: null,
        issued_family_id: null,
        issued_jti: null,
        issued_expires_at: null,
      })
      .execute();
  }

  // RFC 6749 §4.1.2: a code is used once; presented again, what it issued should be revoked.
  async redeem(codeHash: string, issued: IssuedForCode, now: Date): Promise<CodeRedemption> {
    // The conditional UPDATE is the arbiter, on SQLite and PostgreSQL alike: a second writer waits for the first's row
    // lock, re-checks `redeemed_at IS NULL` once it commits, and updates nothing. So exactly one caller sees one row,
    // and every other one reads the row after the winner's commit, with the winner's issued_* columns.
    const spent = await this.db
      .updateTable('authorization_codes')
      .set({
        redeemed_at: toIso(now),
        issued_family_id: issued.refreshFamilyId,
        issued_jti: issued.accessTokenJti,
        issued_expires_at: toIso(issued.accessTokenExpiresAt),
      })
      .where('code_hash', '=', codeHash)
      .where('redeemed_at', 'is', null)
      .executeTakeFirst();
    const row = await this.db.selectFrom('authorization_codes').selectAll().where('code_hash', '=', codeHash).executeTakeFirst();
    // Gone between the two statements: purged a day after its expiry (sql/index.ts), which the caller refuses anyway.
    if (row === undefined) return { kind: 'unknown' };
    if (Number(spent.numUpdatedRows) === 1) return { kind: 'redeemed', code: codeOf(row) };
    return { kind: 'replayed', code: codeOf(row), issued: issuedOf(row) };
  }
}

function codeOf(row: Selectable<AuthorizationCodesTable>): AuthorizationCodeRecord {
  return {
    codeHash: row.code_hash,
    tenantId: row.tenant_id,
    clientId: row.client_id,
    redirectUri: row.redirect_uri,
    codeChallenge: row.code_challenge,
    userId: row.user_id,
    grant: row.grant,
    createdAt: fromIso(row.created_at),
    expiresAt: fromIso(row.expires_at),
  };
}

/** What the winning redemption recorded; it set these columns in the same statement as `redeemed_at`. */
function issuedOf(row: Selectable<AuthorizationCodesTable>): IssuedForCode {
  if (row.issued_jti === null || row.issued_expires_at === null) {
    // Only `redeem` sets redeemed_at, and always with these: a row without them was written by something else.
    throw new Error('authorization_codes: a redeemed row without its issued_jti or issued_expires_at');
  }
  return {
    refreshFamilyId: row.issued_family_id,
    accessTokenJti: row.issued_jti,
    accessTokenExpiresAt: fromIso(row.issued_expires_at),
  };
}
