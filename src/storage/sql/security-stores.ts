import { randomUUID } from 'node:crypto';
import type { Kysely, SelectQueryBuilder } from 'kysely';
import type { Database } from '../schema.js';
import type {
  AttackLock,
  AttackLockStore,
  SecurityEvent,
  SecurityEventFilter,
  SecurityEventStore,
  StoredSecurityEvent,
} from '../stores.js';
import { fromIso, toIso } from './time.js';
import { writeBatcherFor } from './write-batcher.js';

/** Long enough for any real login name; a 64 KiB "username" is not kept whole. */
const MAX_IDENTIFIER_CHARS = 256;

function eventsMatching<O>(
  query: SelectQueryBuilder<Database, 'security_events', O>,
  filter: Omit<SecurityEventFilter, 'limit' | 'offset'>,
) {
  let matching = query;
  if (filter.tenantId !== undefined) matching = matching.where('tenant_id', '=', filter.tenantId);
  if (filter.types !== undefined && filter.types.length > 0) matching = matching.where('type', 'in', filter.types);
  if (filter.userId !== undefined) matching = matching.where('user_id', '=', filter.userId);
  if (filter.identifier !== undefined) matching = matching.where('identifier', '=', filter.identifier);
  if (filter.ip !== undefined) matching = matching.where('ip', '=', filter.ip);
  if (filter.clientId !== undefined) matching = matching.where('client_id', '=', filter.clientId);
  if (filter.since !== undefined) matching = matching.where('at', '>=', toIso(filter.since));
  if (filter.until !== undefined) matching = matching.where('at', '<', toIso(filter.until));
  return matching;
}

export class SqlSecurityEventStore implements SecurityEventStore {
  constructor(private readonly db: Kysely<Database>) {}

  async append(event: SecurityEvent): Promise<void> {
    // Batched with the login's counter writes: one commit per login, not two.
    await writeBatcherFor(this.db).run((db) =>
      db
        .insertInto('security_events')
        .values({
          id: randomUUID(),
          at: toIso(event.at),
          tenant_id: event.tenantId,
          type: event.type,
          reason: event.reason ?? null,
          client_id: event.clientId ?? null,
          connection: event.connection ?? null,
          user_id: event.userId ?? null,
          identifier: event.identifier === undefined ? null : event.identifier.slice(0, MAX_IDENTIFIER_CHARS),
          ip: event.ip ?? null,
          details: event.details === undefined ? null : JSON.stringify(event.details),
        })
        .execute(),
    );
  }

  async query(filter: SecurityEventFilter): Promise<StoredSecurityEvent[]> {
    const query = eventsMatching(this.db.selectFrom('security_events').selectAll(), filter);
    const rows = await query
      .orderBy('at', 'desc')
      .orderBy('id')
      .limit(filter.limit)
      .offset(filter.offset ?? 0)
      .execute();
    return rows.map((row) => ({
      id: row.id,
      at: fromIso(row.at),
      tenantId: row.tenant_id,
      type: row.type,
      reason: row.reason ?? undefined,
      clientId: row.client_id ?? undefined,
      connection: row.connection ?? undefined,
      userId: row.user_id ?? undefined,
      identifier: row.identifier ?? undefined,
      ip: row.ip ?? undefined,
      details: row.details === null ? undefined : (JSON.parse(row.details) as Record<string, string | number | boolean>),
    }));
  }

  async count(filter: Omit<SecurityEventFilter, 'limit' | 'offset'>): Promise<number> {
    const query = eventsMatching(this.db.selectFrom('security_events'), filter);
    const row = await query.select((eb) => eb.fn.countAll<number | string>().as('count')).executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async deleteBefore(cutoff: Date): Promise<number> {
    const result = await this.db.deleteFrom('security_events').where('at', '<', toIso(cutoff)).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

export class SqlAttackLockStore implements AttackLockStore {
  constructor(private readonly db: Kysely<Database>) {}

  async record(lock: AttackLock): Promise<void> {
    const row = {
      tenant_id: lock.tenantId,
      connection_id: lock.connectionId,
      identifier_key: lock.identifierKey,
      identifier: lock.identifier.slice(0, MAX_IDENTIFIER_CHARS),
      ip: lock.ip ?? '',
      locked_at: toIso(lock.lockedAt),
      expires_at: toIso(lock.expiresAt),
    };
    await this.db
      .insertInto('attack_locks')
      .values(row)
      .onConflict((oc) =>
        oc
          .columns(['tenant_id', 'connection_id', 'identifier_key', 'ip'])
          .doUpdateSet({ locked_at: row.locked_at, expires_at: row.expires_at, identifier: row.identifier }),
      )
      .execute();
  }

  async listForIdentifier(tenantId: string, connectionId: string, identifierKey: string, now: Date): Promise<AttackLock[]> {
    const rows = await this.db
      .selectFrom('attack_locks')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('connection_id', '=', connectionId)
      .where('identifier_key', '=', identifierKey)
      .where('expires_at', '>', toIso(now))
      .execute();
    return rows.map((row) => ({
      tenantId: row.tenant_id,
      connectionId: row.connection_id,
      identifierKey: row.identifier_key,
      identifier: row.identifier,
      ip: row.ip === '' ? null : row.ip,
      lockedAt: fromIso(row.locked_at),
      expiresAt: fromIso(row.expires_at),
    }));
  }

  async removeForIdentifier(tenantId: string, connectionId: string, identifierKey: string): Promise<void> {
    await this.db
      .deleteFrom('attack_locks')
      .where('tenant_id', '=', tenantId)
      .where('connection_id', '=', connectionId)
      .where('identifier_key', '=', identifierKey)
      .execute();
  }
}
