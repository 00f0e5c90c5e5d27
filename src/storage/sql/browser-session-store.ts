import type { Kysely, Selectable } from 'kysely';
import type { BrowserSessionRecord, BrowserSessionStore } from '../browser-stores.js';
import type { BrowserSessionsTable, Database } from '../schema.js';
import { fromIso, toIso } from './time.js';

export class SqlBrowserSessionStore implements BrowserSessionStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(session: BrowserSessionRecord): Promise<void> {
    await this.db
      .insertInto('browser_sessions')
      .values({
        id_hash: session.idHash,
        tenant_id: session.tenantId,
        user_id: session.userId,
        auth_time: toIso(session.authTime),
        amr: JSON.stringify(session.amr),
        created_at: toIso(session.createdAt),
        idle_expires_at: toIso(session.idleExpiresAt),
        expires_at: toIso(session.expiresAt),
      })
      .execute();
  }

  async find(tenantId: string, idHash: string, now: Date): Promise<BrowserSessionRecord | undefined> {
    // By primary key; the tenant too, so a cookie set under one tenant's path is no session of another.
    const at = toIso(now);
    const row = await this.db
      .selectFrom('browser_sessions')
      .selectAll()
      .where('id_hash', '=', idHash)
      .where('tenant_id', '=', tenantId)
      .where('idle_expires_at', '>', at)
      .where('expires_at', '>', at)
      .executeTakeFirst();
    return row && sessionOf(row);
  }

  async touch(idHash: string, idleExpiresAt: Date): Promise<void> {
    const until = toIso(idleExpiresAt);
    // Only forward (two requests of one browser may touch out of order), and never past the absolute expiry.
    await this.db
      .updateTable('browser_sessions')
      .set((eb) => ({
        idle_expires_at: eb.case().when('expires_at', '<', until).then(eb.ref('expires_at')).else(until).end(),
      }))
      .where('id_hash', '=', idHash)
      .where('idle_expires_at', '<', until)
      .execute();
  }

  async delete(idHash: string): Promise<void> {
    await this.db.deleteFrom('browser_sessions').where('id_hash', '=', idHash).execute();
  }

  async deleteAllForUser(tenantId: string, userId: string): Promise<number> {
    // Through browser_sessions_user_idx (tenant_id, user_id).
    const result = await this.db
      .deleteFrom('browser_sessions')
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function sessionOf(row: Selectable<BrowserSessionsTable>): BrowserSessionRecord {
  return {
    idHash: row.id_hash,
    tenantId: row.tenant_id,
    userId: row.user_id,
    authTime: fromIso(row.auth_time),
    amr: JSON.parse(row.amr) as string[],
    createdAt: fromIso(row.created_at),
    idleExpiresAt: fromIso(row.idle_expires_at),
    expiresAt: fromIso(row.expires_at),
  };
}
