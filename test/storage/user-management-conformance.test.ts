/**
 * The user-store methods of the Management API (issue #15 point 2, migration
 * 011), run on a fresh SQLite file and on a scratch PostgreSQL database:
 *
 * - `list` and `count` with a search (domain/user-search.ts): exact, prefix,
 *   suffix and substring matches on email, username and name, case-insensitive,
 *   never another tenant's users; `%`, `_`, `\`, quotes and SQL in a value are
 *   characters (every value is bound);
 * - `findByEmail` finds the address in every connection of the tenant;
 * - metadata round-trips as JSON objects; `recordLogin` counts sign-ins;
 * - `refreshTokens.listLiveForUser` and `securityEvents.count` / offset.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseUserSearch, USER_SEARCH_LIMIT } from '../../src/domain/user-search.js';
import type { NewUser, Stores } from '../../src/storage/stores.js';
import { newUserRow } from '../../src/storage/sql/user-store.js';
import { scratchPostgresStores, sqliteStores, twoTenants, type MigratedStores } from '../helpers/migrated-stores.js';
import { postgresSkip } from '../helpers/postgres.js';

const T0 = Date.parse('2031-03-04T05:06:07.089Z');
const at = (offsetMs: number): Date => new Date(T0 + offsetMs);
const HOUR = 3_600_000;

function userManagementConformance(open: () => Promise<MigratedStores>): void {
  let subject: MigratedStores;
  let stores: Stores;
  let tenantId: string;
  let mainId: string;
  let otherId: string;
  let otherTenantId: string;

  const create = async (user: Omit<NewUser, 'passwordHash'>) => {
    const created = await stores.users.create({ ...user, passwordHash: 'hash' });
    assert.ok(created, `created ${user.username}`);
    return created;
  };
  const search = async (q: string) => {
    const parsed = parseUserSearch(q);
    const users = parsed
      ? await stores.users.search(tenantId, { search: parsed }, { offset: 0, limit: 100 })
      : { users: await stores.users.list(tenantId, { offset: 0, limit: 100 }), total: await stores.users.count(tenantId, {}) };
    assert.equal(users.total, users.users.length, `the total agrees with the page for ${q}`);
    return users.users.map((u) => u.username).sort();
  };

  before(async () => {
    subject = await open();
    stores = subject.stores;
    let strangerConnection: string;
    ({ tenantId, mainId, otherId, otherTenantId, otherTenantConnectionId: strangerConnection } = await twoTenants(stores));
    await create({ tenantId, connectionId: mainId, username: 'alice', email: 'Alice@Example.com', name: 'Alice Liddell' });
    await create({ tenantId, connectionId: mainId, username: 'alfred', email: 'alfred@example.org', name: 'Alfred Pennyworth' });
    await create({ tenantId, connectionId: mainId, username: 'bob_100%', email: 'bob@example.com', name: "Bob O'Brien" });
    await create({ tenantId, connectionId: otherId, username: 'bobby', email: 'alice@example.com', name: 'Ännchen' });
    await create({ tenantId: otherTenantId, connectionId: strangerConnection, username: 'alien', email: 'alice@example.com' });
  });
  after(async () => {
    await subject?.close();
  });

  it('searches by exact value, prefix, suffix and substring, case-insensitively, in this tenant only', async () => {
    assert.deepEqual(await search('email:"alice@example.com"'), ['alice', 'bobby']);
    assert.deepEqual(await search('EMAIL:"alice@example.com"'), [], 'field names are lower case, as Auth0 writes them');
    assert.deepEqual(await search('username:ALICE'), ['alice']);
    assert.deepEqual(await search('name:al*'), ['alfred', 'alice']);
    assert.deepEqual(await search('email:*@example.com'), ['alice', 'bob_100%', 'bobby']);
    assert.deepEqual(await search('name:*penny*'), ['alfred']);
    assert.deepEqual(await search('al'), ['alfred', 'alice', 'bobby'], 'plain text: the start of email, username or name');
    assert.deepEqual(await search('ÄNN'), ['bobby'], 'beyond ASCII too');
    assert.deepEqual(await search(''), ['alfred', 'alice', 'bob_100%', 'bobby'], 'an empty q filters nothing');
  });

  it('treats %, _, backslashes, quotes and SQL in q as characters', async () => {
    assert.deepEqual(await search('%'), []);
    assert.deepEqual(await search('_'), []);
    assert.deepEqual(await search('*_*'), ['bob_100%']);
    assert.deepEqual(await search('username:*%'), ['bob_100%']);
    assert.deepEqual(await search('*\\*'), []);
    assert.deepEqual(await search("name:*o'b*"), ['bob_100%']);
    assert.deepEqual(await search("'; drop table users; --"), []);
    assert.deepEqual(await search('" OR 1=1 --'), []);
    assert.deepEqual(await search("alice' OR '1'='1"), []);
    assert.equal(await stores.users.countInTenant(tenantId), 4, 'the table is still there');
  });

  it('pages a search in the list order, and covers at most USER_SEARCH_LIMIT matches', async () => {
    const capTenant = await stores.catalog.upsertTenant(`t-${randomUUID()}`, { id_token_signing_alg: 'RS256', id_token_lifetime: 600 });
    const capConnection = await stores.catalog.upsertConnection(capTenant, { name: 'main', type: 'database' });
    const now = new Date().toISOString();
    const rows = Array.from({ length: USER_SEARCH_LIMIT + 5 }, (_, i) =>
      newUserRow({ tenantId: capTenant, connectionId: capConnection, username: `cap${i}`, passwordHash: null }, randomUUID(), now),
    );
    for (let start = 0; start < rows.length; start += 200)
      await subject.db
        .insertInto('users')
        .values(rows.slice(start, start + 200))
        .execute();
    const search = parseUserSearch('cap');
    assert.ok(search);
    const first = await stores.users.search(capTenant, { search }, { offset: 0, limit: 10 });
    assert.equal(first.total, USER_SEARCH_LIMIT, 'a broad search covers the first 1,000');
    const listed = await stores.users.list(capTenant, { offset: 0, limit: 10 });
    assert.deepEqual(
      first.users.map((u) => u.username),
      listed.map((u) => u.username),
      'the list order',
    );
    const last = await stores.users.search(capTenant, { search }, { offset: USER_SEARCH_LIMIT - 3, limit: 10 });
    assert.equal(last.users.length, 3, 'pages stop at the bound');
    const narrow = parseUserSearch('username:cap100*');
    assert.ok(narrow);
    const found = await stores.users.search(capTenant, { search: narrow }, { offset: 0, limit: 100 });
    assert.deepEqual(
      found.users.map((u) => u.username),
      ['cap100', 'cap1000', 'cap1001', 'cap1002', 'cap1003', 'cap1004'],
    );
  });

  it('findByEmail finds the address in every connection of the tenant, and no other tenant', async () => {
    const found = await stores.users.findByEmail(tenantId, 'ALICE@example.COM', 10);
    assert.deepEqual(found.map((u) => u.username).sort(), ['alice', 'bobby']);
    assert.deepEqual(await stores.users.findByEmail(tenantId, 'nobody@example.com', 10), []);
  });

  it('keeps metadata as JSON objects and counts sign-ins', async () => {
    const user = await create({ tenantId, connectionId: mainId, username: `m-${randomUUID()}`, userMetadata: { theme: 'dark' } });
    assert.deepEqual(user.userMetadata, { theme: 'dark' });
    assert.deepEqual(user.appMetadata, {});
    assert.equal(user.loginsCount, 0);
    await stores.users.setMetadata(user.id, { appMetadata: { plan: 'pro', seats: [1, 2] } });
    await stores.users.recordLogin(user.id, at(0));
    await stores.users.recordLogin(user.id, at(HOUR));
    const read = await stores.users.findById(tenantId, user.id);
    assert.deepEqual(read?.userMetadata, { theme: 'dark' }, 'untouched');
    assert.deepEqual(read?.appMetadata, { plan: 'pro', seats: [1, 2] });
    assert.equal(read?.loginsCount, 2);
    assert.equal(read?.lastLoginAt?.toISOString(), at(HOUR).toISOString());
    await stores.users.delete(tenantId, user.id);
  });

  it('lists a user’s live refresh-token families, oldest first', async () => {
    const userId = randomUUID();
    const ids: string[] = [];
    for (const [index, revoked] of [false, true, false].entries()) {
      const id = `fam-${index}-${randomUUID()}`;
      await stores.refreshTokens.createFamily({
        id,
        tenantId,
        clientId: 'web',
        userId,
        audience: null,
        scope: 'openid offline_access',
        authTime: at(index),
        currentHash: `h-${randomUUID()}`,
        currentTokenSealed: null,
        createdAt: at(index),
        expiresAt: at(HOUR),
        familyExpiresAt: at(24 * HOUR),
        amr: null,
      });
      if (revoked) await stores.refreshTokens.revokeFamily(id, at(10));
      else ids.push(id);
    }
    const listed = await stores.refreshTokens.listLiveForUser(tenantId, userId, at(20), { offset: 0, limit: 10 });
    assert.deepEqual(
      listed.map((f) => f.id),
      ids,
    );
    assert.deepEqual(await stores.refreshTokens.listLiveForUser(otherTenantId, userId, at(20), { offset: 0, limit: 10 }), []);
    assert.deepEqual(await stores.refreshTokens.listLiveForUser(tenantId, userId, at(2 * HOUR), { offset: 0, limit: 10 }), []);
  });

  it('pages security events with an offset and counts them', async () => {
    const userId = randomUUID();
    for (let i = 0; i < 5; i++) await stores.securityEvents.append({ at: at(i), tenantId, type: 'login_success', userId });
    await stores.securityEvents.append({ at: at(9), tenantId: otherTenantId, type: 'login_success', userId });
    assert.equal(await stores.securityEvents.count({ tenantId, userId }), 5);
    const page = await stores.securityEvents.query({ tenantId, userId, limit: 2, offset: 2 });
    assert.deepEqual(
      page.map((e) => e.at.toISOString()),
      [at(2).toISOString(), at(1).toISOString()],
      'newest first, from the third',
    );
  });
}

describe('user management conformance: SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-user-management-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  userManagementConformance(() => sqliteStores(join(dir, 'stores.db')));
});

describe('user management conformance: PostgreSQL', { skip: postgresSkip('user management conformance: PostgreSQL') }, () => {
  userManagementConformance(scratchPostgresStores);
});
