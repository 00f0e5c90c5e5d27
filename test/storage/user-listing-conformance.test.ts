/**
 * The store methods the operator CLI (and later the Management API) reads
 * users and deletes them with (issue #15 point 6), in the conformance-suite
 * pattern: written against the store interfaces only, run on a fresh SQLite
 * file and on a scratch PostgreSQL database (skipped, with the reason, when
 * LATCHKEY_TEST_DATABASE_URL names none).
 *
 * - `users.list` pages a tenant's users (or one connection's) in a total,
 *   stable order: pages neither skip nor repeat, and another tenant's users
 *   never appear; `countInTenant` counts every connection of the tenant;
 * - `users.delete` removes only that tenant's user, and answers false for a
 *   user id of another tenant (which it leaves alone);
 * - `refreshTokens.countLiveForUser` counts families neither revoked nor past
 *   their idle or absolute expiry at the instant given.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NewRefreshTokenFamily, Stores } from '../../src/storage/stores.js';
import { scratchPostgresStores, sqliteStores, twoTenants } from '../helpers/migrated-stores.js';
import { postgresSkip } from '../helpers/postgres.js';

const T0 = Date.parse('2031-03-04T05:06:07.089Z');
const at = (offsetMs: number): Date => new Date(T0 + offsetMs);
const HOUR = 3_600_000;

function userListingConformance(open: () => Promise<{ stores: Stores; close(): Promise<void> }>): void {
  let subject: { stores: Stores; close(): Promise<void> };
  let stores: Stores;
  let tenantId: string;
  let mainId: string;
  let otherId: string;
  let otherTenantId: string;
  let otherTenantConnectionId: string;

  const create = async (tenant: string, connectionId: string, username: string) => {
    const user = await stores.users.create({ tenantId: tenant, connectionId, username, passwordHash: 'hash' });
    assert.ok(user, `created ${username}`);
    return user;
  };

  before(async () => {
    subject = await open();
    stores = subject.stores;
    ({ tenantId, mainId, otherId, otherTenantId, otherTenantConnectionId } = await twoTenants(stores));
    for (const name of ['Zoe', 'adam', 'Mia', 'bea', 'carl']) await create(tenantId, mainId, name);
    for (const name of ['olga', 'Otto']) await create(tenantId, otherId, name);
    await create(otherTenantId, otherTenantConnectionId, 'stranger');
  });
  after(async () => {
    await subject?.close();
  });

  it('list pages a tenant in a stable order, without skips or repeats, and never another tenant', async () => {
    assert.equal(await stores.users.countInTenant(tenantId), 7);
    const all = await stores.users.list(tenantId, { offset: 0, limit: 100 });
    assert.equal(all.length, 7);
    assert.ok(!all.some((u) => u.tenantId !== tenantId), 'only this tenant');
    const again = await stores.users.list(tenantId, { offset: 0, limit: 100 });
    assert.deepEqual(
      again.map((u) => u.id),
      all.map((u) => u.id),
      'the same order every time',
    );
    const paged = [];
    for (let offset = 0; offset < 9; offset += 3) paged.push(...(await stores.users.list(tenantId, { offset, limit: 3 })));
    assert.deepEqual(
      paged.map((u) => u.id),
      all.map((u) => u.id),
      'pages of three cover the list once',
    );
    const main = await stores.users.list(tenantId, { connectionId: mainId, offset: 0, limit: 100 });
    assert.deepEqual(
      main.map((u) => u.username),
      ['adam', 'bea', 'carl', 'Mia', 'Zoe'],
      'one connection, by login name (case-insensitive)',
    );
    assert.deepEqual(await stores.users.list(tenantId, { connectionId: mainId, offset: 5, limit: 10 }), []);
  });

  it('delete removes the tenant user only; another tenant user id is refused and kept', async () => {
    const doomed = await create(tenantId, otherId, `doomed-${randomUUID()}`);
    const stranger = await stores.users.findByLogin(otherTenantId, otherTenantConnectionId, 'stranger');
    assert.ok(stranger);
    assert.equal(await stores.users.delete(tenantId, stranger.id), false, "another tenant's user");
    assert.ok(await stores.users.findById(otherTenantId, stranger.id), 'still there');
    assert.equal(await stores.users.delete(tenantId, doomed.id), true);
    assert.equal(await stores.users.findById(tenantId, doomed.id), undefined);
    assert.equal(await stores.users.delete(tenantId, doomed.id), false, 'a second delete finds nothing');
    assert.equal(await stores.users.countInTenant(tenantId), 7);
  });

  it('countLiveForUser counts families not revoked and not expired (idle or absolute) at the instant given', async () => {
    const userId = randomUUID();
    const family = (overrides: Partial<NewRefreshTokenFamily>): NewRefreshTokenFamily => ({
      id: `fam-${randomUUID()}`,
      tenantId,
      clientId: 'web',
      userId,
      audience: null,
      scope: 'offline_access',
      authTime: at(0),
      currentHash: `h-${randomUUID()}`,
      currentTokenSealed: null,
      createdAt: at(0),
      expiresAt: at(HOUR),
      familyExpiresAt: at(24 * HOUR),
      amr: null,
      ...overrides,
    });
    const live = family({});
    const revoked = family({});
    const idleSoon = family({ expiresAt: at(10 * 60_000) });
    const absoluteSoon = family({ familyExpiresAt: at(20 * 60_000) });
    for (const f of [live, revoked, idleSoon, absoluteSoon, family({ userId: randomUUID() }), family({ tenantId: otherTenantId })])
      await stores.refreshTokens.createFamily(f);
    await stores.refreshTokens.revokeFamily(revoked.id, at(1));
    assert.equal(await stores.refreshTokens.countLiveForUser(tenantId, userId, at(2)), 3);
    assert.equal(await stores.refreshTokens.countLiveForUser(tenantId, userId, at(15 * 60_000)), 2, 'idle expiry passed');
    assert.equal(await stores.refreshTokens.countLiveForUser(tenantId, userId, at(30 * 60_000)), 1, 'absolute expiry passed');
    assert.equal(await stores.refreshTokens.countLiveForUser(tenantId, userId, at(2 * HOUR)), 0);
  });
}

describe('user listing conformance: SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-user-listing-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  userListingConformance(() => sqliteStores(join(dir, 'stores.db')));
});

describe('user listing conformance: PostgreSQL', { skip: postgresSkip('user listing conformance: PostgreSQL') }, () => {
  userListingConformance(scratchPostgresStores);
});
