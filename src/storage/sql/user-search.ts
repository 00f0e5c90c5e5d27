/**
 * `GET /users?q=` on SQL (domain/user-search.ts): a search is one bounded,
 * index-served read per searched field, merged here, so that neither engine's
 * planner (with or without statistics) can turn it into a walk of the whole
 * tenant in list order. A prefix is an index range (code-point order on both
 * engines: migration 011), an exact value an index lookup; a suffix or a
 * substring is a LIKE whose literal part is escaped, so `%` and `_` in `q`
 * are characters. Every value is a bound parameter.
 */
import { sql, type ExpressionBuilder, type Kysely, type Selectable, type SqlBool } from 'kysely';
import { likeLiteral, prefixRangeEnd, USER_SEARCH_LIMIT, type UserSearch, type UserSearchField } from '../../domain/user-search.js';
import type { Database, UsersTable } from '../schema.js';
import type { UserListFilter } from '../stores.js';

const KEY_COLUMN: Record<UserSearchField, 'email_key' | 'username_key' | 'name_key'> = {
  email: 'email_key',
  username: 'username_key',
  name: 'name_key',
};

type Match = { id: string; connection_id: string; username_key: string };

export async function searchUsers(
  db: Kysely<Database>,
  tenantId: string,
  filter: UserListFilter & { search: UserSearch },
  page: { offset: number; limit: number },
): Promise<{ rows: Selectable<UsersTable>[]; total: number }> {
  const { search, connectionId } = filter;
  const matches = new Map<string, Match>();
  for (const field of search.fields) {
    const column = KEY_COLUMN[field];
    let query = db
      .selectFrom('users')
      .select(['id', 'connection_id', 'username_key'])
      .where('tenant_id', '=', tenantId)
      .where((eb) => fieldCondition(eb, column, search));
    if (connectionId !== undefined) query = query.where('connection_id', '=', connectionId);
    // In the (tenant_id, key) index's order, so a broad search covers the users first in that order. Not also by id:
    // ties are few, and that extra term would make both engines sort every match (seconds for a common prefix).
    const rows = await query.orderBy(column).limit(USER_SEARCH_LIMIT).execute();
    for (const row of rows) matches.set(row.id, row);
  }
  // The list's order (connection, then login name), compared as the database compares them: by code point.
  const ordered = [...matches.values()].sort(
    (a, b) => codePointCompare(a.connection_id, b.connection_id) || codePointCompare(a.username_key, b.username_key),
  );
  const covered = ordered.slice(0, USER_SEARCH_LIMIT);
  const ids = covered.slice(page.offset, page.offset + page.limit).map((m) => m.id);
  if (ids.length === 0) return { rows: [], total: covered.length };
  // By primary key alone: with `tenant_id = ?` beside it, SQLite without statistics walks the tenant's index instead.
  const rows = await db.selectFrom('users').selectAll().where('id', 'in', ids).execute();
  const byId = new Map(rows.filter((row) => row.tenant_id === tenantId).map((row) => [row.id, row]));
  const pageRows = ids.flatMap((id) => {
    const row = byId.get(id);
    return row === undefined ? [] : [row]; // deleted in between
  });
  return { rows: pageRows, total: covered.length };
}

function fieldCondition(eb: ExpressionBuilder<Database, 'users'>, column: (typeof KEY_COLUMN)[UserSearchField], search: UserSearch) {
  switch (search.match) {
    case 'exact':
      return eb(column, '=', search.value);
    case 'prefix': {
      const end = prefixRangeEnd(search.value);
      if (end === undefined) return likeCondition(column, `${likeLiteral(search.value)}%`);
      return eb.and([eb(column, '>=', search.value), eb(column, '<', end)]);
    }
    case 'suffix':
      return likeCondition(column, `%${likeLiteral(search.value)}`);
    default:
      return likeCondition(column, `%${likeLiteral(search.value)}%`); // contains
  }
}

/** A bound LIKE pattern with a backslash as its escape character (SQLite has no default escape character). */
function likeCondition(column: string, pattern: string) {
  return sql<SqlBool>`${sql.ref(column)} like ${pattern} escape '\\'`;
}

function codePointCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
