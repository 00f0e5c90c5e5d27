import type { Kysely, Selectable } from 'kysely';
import type { DeviceCodeRecord, DeviceCodeStatus, DeviceCodeStore, DevicePoll } from '../browser-stores.js';
import type { Database, DeviceCodesTable } from '../schema.js';
import { fromIso, fromIsoOrNull, toIso } from './time.js';

/** Statuses after which a code's user code is free again, expired or not: nobody enters it any more. */
const SETTLED: readonly DeviceCodeStatus[] = ['denied', 'redeemed'];

export class SqlDeviceCodeStore implements DeviceCodeStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(record: DeviceCodeRecord): Promise<boolean> {
    // The unique key (tenant_id, user_code) is the arbiter on every engine: of two nodes drawing one user code at once,
    // one inserts and the other's ON CONFLICT DO NOTHING (on PostgreSQL, after waiting for the first to commit) inserts
    // nothing, so it returns false and its caller draws another. A portable key cannot be partial ("among live codes"),
    // so a holder that is no longer live (expired, denied or redeemed, as of this request) is deleted first, in the same
    // transaction. Its device, polling again, then gets the answer for an unknown code (invalid_grant) rather than
    // access_denied or expired_token: rare enough (its very user code drawn again, out of 20^8) to accept.
    const now = toIso(record.createdAt);
    return this.db.transaction().execute(async (trx) => {
      await trx
        .deleteFrom('device_codes')
        .where('tenant_id', '=', record.tenantId)
        .where('user_code', '=', record.userCode)
        .where((eb) => eb.or([eb('expires_at', '<=', now), eb('status', 'in', SETTLED)]))
        .execute();
      const inserted = await trx
        .insertInto('device_codes')
        .values(rowOf(record))
        .onConflict((oc) => oc.columns(['tenant_id', 'user_code']).doNothing())
        .executeTakeFirst();
      return Number(inserted.numInsertedOrUpdatedRows) === 1;
    });
  }

  async findPendingByUserCode(tenantId: string, userCode: string, now: Date): Promise<DeviceCodeRecord | undefined> {
    // Through the unique key (tenant_id, user_code): at most one row.
    const row = await this.db
      .selectFrom('device_codes')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_code', '=', userCode)
      .where('status', '=', 'pending')
      .where('expires_at', '>', toIso(now))
      .executeTakeFirst();
    return row && recordOf(row);
  }

  async findById(tenantId: string, id: string): Promise<DeviceCodeRecord | undefined> {
    const row = await this.db
      .selectFrom('device_codes')
      .selectAll()
      .where('id', '=', id)
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    return row && recordOf(row);
  }

  // RFC 8628 §3.5: the caller compares `now` with the previous poll to answer slow_down.
  async poll(tenantId: string, deviceCodeHash: string, now: Date, slowDown: boolean): Promise<DevicePoll | undefined> {
    const row = await this.db
      .selectFrom('device_codes')
      .selectAll()
      .where('device_code_hash', '=', deviceCodeHash)
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const polledAt = toIso(now);
    // `interval + 5` in SQL, not the value read: two slow polls racing each add their 5 s.
    await this.db
      .updateTable('device_codes')
      .set((eb) => (slowDown ? { last_polled_at: polledAt, interval: eb('interval', '+', 5) } : { last_polled_at: polledAt }))
      .where('id', '=', row.id)
      .execute();
    return { record: recordOf(row) };
  }

  async decide(
    tenantId: string,
    id: string,
    decision: { status: 'approved'; userId: string; grant: string } | { status: 'denied' },
    now: Date,
  ): Promise<boolean> {
    // One conditional UPDATE: of concurrent decisions (two tabs, two nodes) the first leaves `pending` and the others,
    // re-checking the status after it commits, update nothing. An expired code cannot be approved late.
    const values =
      decision.status === 'approved'
        ? { status: decision.status, user_id: decision.userId, grant: decision.grant }
        : { status: decision.status };
    const result = await this.db
      .updateTable('device_codes')
      .set(values)
      .where('id', '=', id)
      .where('tenant_id', '=', tenantId)
      .where('status', '=', 'pending')
      .where('expires_at', '>', toIso(now))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async redeem(tenantId: string, id: string): Promise<boolean> {
    // The arbiter between polls that both found it approved: one token response per device code (RFC 8628 §3.5).
    const result = await this.db
      .updateTable('device_codes')
      .set({ status: 'redeemed' })
      .where('id', '=', id)
      .where('tenant_id', '=', tenantId)
      .where('status', '=', 'approved')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}

function rowOf(r: DeviceCodeRecord): Selectable<DeviceCodesTable> {
  return {
    id: r.id,
    device_code_hash: r.deviceCodeHash,
    user_code: r.userCode,
    tenant_id: r.tenantId,
    client_id: r.clientId,
    scope: JSON.stringify(r.scope),
    audience: r.audience,
    request_ip: r.requestIp,
    request_user_agent: r.requestUserAgent,
    created_at: toIso(r.createdAt),
    expires_at: toIso(r.expiresAt),
    interval: r.interval,
    last_polled_at: r.lastPolledAt === null ? null : toIso(r.lastPolledAt),
    status: r.status,
    user_id: r.userId,
    grant: r.grant,
  };
}

function recordOf(row: Selectable<DeviceCodesTable>): DeviceCodeRecord {
  return {
    id: row.id,
    deviceCodeHash: row.device_code_hash,
    userCode: row.user_code,
    tenantId: row.tenant_id,
    clientId: row.client_id,
    scope: JSON.parse(row.scope) as string[],
    audience: row.audience,
    requestIp: row.request_ip,
    requestUserAgent: row.request_user_agent,
    createdAt: fromIso(row.created_at),
    expiresAt: fromIso(row.expires_at),
    interval: row.interval,
    lastPolledAt: fromIsoOrNull(row.last_polled_at),
    status: row.status as DeviceCodeStatus,
    userId: row.user_id,
    grant: row.grant,
  };
}
