/**
 * Issue #6 §1: the stores (src/storage/stores.ts) have one SQL
 * implementation for SQLite and PostgreSQL. One conformance suite, written
 * once against the store interfaces only (no SQL here), runs on a fresh
 * SQLite file and on a scratch PostgreSQL database (when
 * LATCHKEY_TEST_DATABASE_URL names one; otherwise skipped, with the reason
 * printed).
 *
 * What the server relies on: logins are found case-insensitively and
 * NFKC-normalised, a username beating another user's equal email; a taken
 * username is a value (undefined), not an exception; external users are
 * provisioned once however many logins race; a password rehash and a
 * recovery-code swap are compare-and-set; of any number of concurrent
 * rotations of one refresh token exactly one wins and the others get the
 * winner's token back (inside the reuse interval) or revoke the family; all
 * of a user's families are revoked at once, and no rotation racing that
 * survives it; a password change and a block are stamped on the user; a
 * single-use key is accepted once however many requests race, and again
 * only once it has expired; a user has at most one pending MFA enrolment,
 * confirmed at most once, and a TOTP factor's last step only moves
 * forward; signing-key rotation retires the old key and keeps it
 * published; connection secrets never reach the database; instants come
 * back to the millisecond; a client grant is one row per (tenant,
 * application, API) however many starts race; a disabled catalog row is kept
 * but not loaded, and served again once declared again; an application's
 * refresh-token families are revoked together. Time is always passed in (`now`), never
 * waited for.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { migrateToLatest, openDatabase } from '../../src/storage/database.js';
import { createSqlStores } from '../../src/storage/sql/index.js';
import {
  isRetryInsideReuseInterval,
  type ApplicationSettings,
  type MfaPendingEnrolment,
  type NewRefreshTokenFamily,
  type RotationResult,
  type SigningKeyRecord,
  type Stores,
  type TenantSettings,
} from '../../src/storage/stores.js';
import { createScratchDatabase, postgresSkip, TEST_DATABASE_URL } from '../helpers/postgres.js';

interface Subject {
  stores: Stores;
  /** Everything the database holds, as text (the SQLite file and WAL; a PostgreSQL data dump), to prove a value is not stored. */
  rawContent(): Promise<string>;
  close(): Promise<void>;
}

/** A fixed, millisecond-precise origin: every instant in this suite is explicit. */
const T0 = Date.parse('2031-03-04T05:06:07.089Z');
const at = (offsetMs: number): Date => new Date(T0 + offsetMs);
const SECOND = 1000;
const HOUR = 3600 * SECOND;
const CONCURRENCY = 20;

const uid = (prefix: string): string => `${prefix}-${randomUUID()}`;

const tenantSettings = (overrides: Partial<TenantSettings> = {}): TenantSettings => ({
  id_token_signing_alg: 'RS256',
  id_token_lifetime: 36_000,
  ...overrides,
});

const applicationSettings = (overrides: Partial<ApplicationSettings> = {}): ApplicationSettings => ({
  name: 'Web',
  token_endpoint_auth_method: 'client_secret_post',
  grant_types: ['password', 'refresh_token'],
  callbacks: [],
  allowed_logout_urls: [],
  refresh_token: { reuse_interval: 0, idle_lifetime: 1_296_000, absolute_lifetime: 2_592_000 },
  resource_server: false,
  trust_forwarded_for: false,
  ...overrides,
});

function storeConformance(open: () => Promise<Subject>, options: { rawContentSkip: string | false }): void {
  let subject: Subject;
  let stores: Stores;
  /** A tenant with two database connections, and a second tenant: users are scoped by both. */
  let tenantId: string;
  let connectionId: string;
  let otherConnectionId: string;
  let otherTenantId: string;

  before(async () => {
    subject = await open();
    stores = subject.stores;
    tenantId = await stores.catalog.upsertTenant(uid('t'), tenantSettings());
    connectionId = await stores.catalog.upsertConnection(tenantId, { name: 'Username-Password-Authentication', type: 'database' });
    otherConnectionId = await stores.catalog.upsertConnection(tenantId, { name: 'other-db', type: 'database' });
    otherTenantId = await stores.catalog.upsertTenant(uid('t'), tenantSettings());
  });
  after(async () => {
    await subject?.close();
  });

  const newUser = (
    username: string,
    extra: { email?: string; passwordHash?: string | null; blocked?: boolean; groups?: string[]; connection?: string } = {},
  ) => ({
    tenantId,
    connectionId: extra.connection ?? connectionId,
    username,
    email: extra.email,
    passwordHash: extra.passwordHash === undefined ? 'hash-1' : extra.passwordHash,
    blocked: extra.blocked,
    groups: extra.groups,
  });

  it('health.ping answers', async () => {
    await stores.health.ping();
  });

  describe('users', () => {
    it('create, then findByLogin by username and by email: case-insensitive and NFKC-normalised, scoped to tenant and connection', async () => {
      const name = uid('Alice.Example');
      const created = await stores.users.create({
        tenantId,
        connectionId,
        username: name,
        email: 'Alice@Acme.test',
        emailVerified: true,
        name: 'Alice Example',
        givenName: 'Alice',
        familyName: 'Example',
        passwordHash: '$argon2id$fake',
      });
      assert.ok(created, 'created');
      assert.equal(created.username, name);
      assert.equal(created.passwordHash, '$argon2id$fake');
      assert.equal(created.groups, null, 'no groups given: null, not []');
      assert.equal(created.blocked, false);

      const fullWidth = name.replace(/[A-Za-z.]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
      for (const login of [
        name,
        name.toLowerCase(),
        name.toUpperCase(),
        fullWidth,
        'alice@acme.test',
        'ALICE@ACME.TEST',
        'ＡＬＩＣＥ@acme.test',
        'ａｌｉｃｅ＠ａｃｍｅ．ｔｅｓｔ',
      ]) {
        const found = await stores.users.findByLogin(tenantId, connectionId, login);
        assert.equal(found?.id, created.id, `findByLogin(${login})`);
      }
      const found = await stores.users.findByLogin(tenantId, connectionId, 'ＡＬＩＣＥ@acme.test');
      assert.ok(found);
      assert.deepEqual(
        { ...found, createdAt: found.createdAt.getTime(), updatedAt: found.updatedAt.getTime() },
        { ...created, createdAt: created.createdAt.getTime(), updatedAt: created.updatedAt.getTime() },
        'the record read back is the record created',
      );
      assert.equal(found.emailVerified, true);
      assert.equal(found.email, 'Alice@Acme.test', 'the email is kept as given');
      assert.ok(found.createdAt instanceof Date && !Number.isNaN(found.createdAt.getTime()));

      assert.equal(await stores.users.findByLogin(tenantId, otherConnectionId, name), undefined, 'another connection of the tenant');
      assert.equal(await stores.users.findByLogin(otherTenantId, connectionId, name), undefined, 'another tenant');
      assert.equal(await stores.users.findByLogin(tenantId, connectionId, `${name}x`), undefined, 'no prefix match');
      assert.equal((await stores.users.findById(tenantId, created.id))?.username, name);
      assert.equal(await stores.users.findById(otherTenantId, created.id), undefined, 'findById is scoped to the tenant');
      assert.equal(await stores.users.findById(tenantId, randomUUID()), undefined);
    });

    it("a username match wins over another user's equal email, whichever was created first", async () => {
      const login = `${randomUUID()}@acme.test`;
      // The email owner first, so a plain "first row" answer would be the wrong user.
      const emailOwner = await stores.users.create(newUser(uid('robert'), { email: login.toUpperCase() }));
      const usernameOwner = await stores.users.create(newUser(login));
      assert.ok(emailOwner && usernameOwner);
      assert.equal((await stores.users.findByLogin(tenantId, connectionId, login))?.id, usernameOwner.id);
      assert.equal((await stores.users.findByLogin(tenantId, connectionId, login.toUpperCase()))?.id, usernameOwner.id);
      assert.equal((await stores.users.findByLogin(tenantId, connectionId, emailOwner.username))?.id, emailOwner.id);

      const login2 = `${randomUUID()}@acme.test`;
      const usernameOwner2 = await stores.users.create(newUser(login2));
      const emailOwner2 = await stores.users.create(newUser(uid('carol'), { email: login2 }));
      assert.ok(emailOwner2 && usernameOwner2);
      assert.equal((await stores.users.findByLogin(tenantId, connectionId, login2))?.id, usernameOwner2.id);
    });

    it('create of a taken username (any case, any width) answers undefined, never throws, and leaves the first user alone', async () => {
      const name = uid('dave');
      const first = await stores.users.create(newUser(name, { email: 'dave@acme.test', passwordHash: 'first' }));
      assert.ok(first);
      assert.equal(await stores.users.create(newUser(name, { passwordHash: 'second' })), undefined);
      assert.equal(await stores.users.create(newUser(name.toUpperCase(), { passwordHash: 'third' })), undefined);
      const fullWidth = name.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
      assert.equal(await stores.users.create(newUser(fullWidth, { passwordHash: 'fourth' })), undefined);
      const stored = await stores.users.findByLogin(tenantId, connectionId, name);
      assert.equal(stored?.id, first.id);
      assert.equal(stored?.passwordHash, 'first');
      // The same name in another connection is another user.
      const elsewhere = await stores.users.create(newUser(name, { connection: otherConnectionId }));
      assert.ok(elsewhere && elsewhere.id !== first.id, 'the same username in another connection');
    });

    it('20 concurrent creates of one username: exactly one user, the rest undefined', async () => {
      const name = uid('erin');
      const results = await Promise.all(
        Array.from({ length: CONCURRENCY }, (_, i) =>
          stores.users.create(newUser(i % 2 === 0 ? name : name.toUpperCase(), { passwordHash: `h${i}` })),
        ),
      );
      const created = results.filter((r) => r !== undefined);
      assert.equal(created.length, 1, `created ${created.length}`);
      assert.equal((await stores.users.findByLogin(tenantId, connectionId, name))?.id, created[0]?.id);
    });

    it('setPasswordHash with expectedHash is a compare-and-set: a stale hash changes nothing', async () => {
      const user = await stores.users.create(newUser(uid('frank'), { passwordHash: 'h1' }));
      assert.ok(user);
      assert.equal(await stores.users.setPasswordHash(user.id, 'h2', { expectedHash: 'stale' }), false);
      assert.equal((await stores.users.findById(tenantId, user.id))?.passwordHash, 'h1', 'unchanged after a stale compare');
      assert.equal(await stores.users.setPasswordHash(user.id, 'h2', { expectedHash: 'h1' }), true);
      assert.equal((await stores.users.findById(tenantId, user.id))?.passwordHash, 'h2');
      assert.equal(await stores.users.setPasswordHash(user.id, 'h3', { expectedHash: 'h1' }), false, 'the old hash is stale now');
      assert.equal((await stores.users.findById(tenantId, user.id))?.passwordHash, 'h2');
      assert.equal(
        await stores.users.setPasswordHash(user.id, 'h4', { passwordChangedAt: at(0) }),
        true,
        'no expected hash: unconditional',
      );
      assert.equal((await stores.users.findById(tenantId, user.id))?.passwordHash, 'h4');
      assert.equal(await stores.users.setPasswordHash(randomUUID(), 'h5'), false, 'an unknown user');

      const external = await stores.users.provisionExternal({ tenantId, connectionId, username: uid('ext') });
      assert.equal(
        await stores.users.setPasswordHash(external.id, 'h6', { expectedHash: 'anything' }),
        false,
        'no hash stored matches no expected hash',
      );

      const results = await Promise.all(
        Array.from({ length: CONCURRENCY }, (_, i) => stores.users.setPasswordHash(user.id, `rehash-${i}`, { expectedHash: 'h4' })),
      );
      assert.equal(results.filter(Boolean).length, 1, 'one of 20 concurrent rehashes of the same hash');
      assert.equal((await stores.users.findById(tenantId, user.id))?.passwordHash, `rehash-${results.indexOf(true)}`);
    });

    it('updateProfile changes the given fields only, and a new email becomes a login', async () => {
      const user = await stores.users.create({
        ...newUser(uid('grace'), { email: `${randomUUID()}@old.test` }),
        name: 'Grace',
        givenName: 'Grace',
        familyName: 'Hopper',
      });
      assert.ok(user?.email);
      const newEmail = `${randomUUID()}@New.test`;
      await stores.users.updateProfile(user.id, { email: newEmail, emailVerified: true, familyName: 'Murray', groups: ['navy'] });
      const updated = await stores.users.findById(tenantId, user.id);
      assert.ok(updated);
      assert.equal(updated.email, newEmail);
      assert.equal(updated.emailVerified, true);
      assert.equal(updated.name, 'Grace', 'not given: unchanged');
      assert.equal(updated.givenName, 'Grace');
      assert.equal(updated.familyName, 'Murray');
      assert.deepEqual(updated.groups, ['navy']);
      assert.equal(updated.passwordHash, 'hash-1');
      assert.ok(updated.updatedAt.getTime() >= user.updatedAt.getTime());
      assert.equal((await stores.users.findByLogin(tenantId, connectionId, newEmail.toLowerCase()))?.id, user.id, 'found by the new email');
      assert.equal(await stores.users.findByLogin(tenantId, connectionId, user.email), undefined, 'not by the old one');
      await stores.users.updateProfile(user.id, { groups: [] });
      assert.deepEqual((await stores.users.findById(tenantId, user.id))?.groups, [], 'an empty list stays a list');
    });

    it('passwordChangedAt: none at creation (a first password is no change), stamped by a real change (to the millisecond), never by a rehash', async () => {
      const user = await stores.users.create(newUser(uid('pam'), { passwordHash: 'h1' }));
      assert.ok(user);
      assert.equal(user.passwordChangedAt, null, 'a new user has no password change');
      assert.equal((await stores.users.findById(tenantId, user.id))?.passwordChangedAt, null);
      assert.equal(await stores.users.setPasswordHash(user.id, 'h2', { expectedHash: 'h1' }), true);
      assert.equal((await stores.users.findById(tenantId, user.id))?.passwordChangedAt, null, 'a rehash is no change');
      assert.equal(await stores.users.setPasswordHash(user.id, 'h3', { passwordChangedAt: at(42) }), true);
      assert.equal((await stores.users.findById(tenantId, user.id))?.passwordChangedAt?.getTime(), T0 + 42);
      assert.equal(await stores.users.setPasswordHash(user.id, 'h4', { expectedHash: 'h3' }), true);
      assert.equal(
        (await stores.users.findById(tenantId, user.id))?.passwordChangedAt?.getTime(),
        T0 + 42,
        'a rehash keeps the last change',
      );
    });

    it('blockedAt: set by blocking (at the given instant, to the millisecond) and kept by unblocking; null for a user never blocked', async () => {
      const open = await stores.users.create(newUser(uid('kim')));
      assert.ok(open);
      assert.equal(open.blockedAt, null);
      assert.equal((await stores.users.findById(tenantId, open.id))?.blockedAt, null);
      await stores.users.setBlocked(open.id, true, at(5 * SECOND + 3));
      const blocked = await stores.users.findById(tenantId, open.id);
      assert.equal(blocked?.blocked, true);
      assert.equal(blocked?.blockedAt?.getTime(), T0 + 5 * SECOND + 3);
      await stores.users.setBlocked(open.id, false, at(9 * SECOND));
      const unblocked = await stores.users.findById(tenantId, open.id);
      assert.equal(unblocked?.blocked, false);
      assert.equal(unblocked?.blockedAt?.getTime(), T0 + 5 * SECOND + 3, 'unblocking keeps when the last block was');
      const createdBlocked = await stores.users.create(newUser(uid('lou'), { blocked: true }));
      assert.ok(createdBlocked?.blockedAt, 'a user created blocked has a block instant');
    });

    it('blocked round-trips through create and setBlocked', async () => {
      const blocked = await stores.users.create(newUser(uid('heidi'), { blocked: true }));
      assert.ok(blocked);
      assert.equal(blocked.blocked, true);
      assert.equal((await stores.users.findById(tenantId, blocked.id))?.blocked, true);
      await stores.users.setBlocked(blocked.id, false);
      assert.equal((await stores.users.findById(tenantId, blocked.id))?.blocked, false);
      await stores.users.setBlocked(blocked.id, true);
      assert.equal((await stores.users.findById(tenantId, blocked.id))?.blocked, true);
      const open = await stores.users.create(newUser(uid('ivan')));
      assert.equal((await stores.users.findById(tenantId, open!.id))?.blocked, false, 'another user is not affected');
      await stores.users.recordLogin(blocked.id, at(0));
    });

    it('countInConnection counts the users of one connection of one tenant', async () => {
      const t = await stores.catalog.upsertTenant(uid('count'), tenantSettings());
      const a = await stores.catalog.upsertConnection(t, { name: 'a', type: 'database' });
      const b = await stores.catalog.upsertConnection(t, { name: 'b', type: 'database' });
      assert.equal(await stores.users.countInConnection(t, a), 0);
      for (const name of ['u1', 'u2', 'u3'])
        await stores.users.create({ tenantId: t, connectionId: a, username: name, passwordHash: 'hash-1' });
      await stores.users.create({ tenantId: t, connectionId: b, username: 'u1', passwordHash: 'hash-1' });
      assert.equal(await stores.users.countInConnection(t, a), 3);
      assert.equal(await stores.users.countInConnection(t, b), 1);
      assert.equal(await stores.users.countInConnection(otherTenantId, a), 0, 'scoped to the tenant');
    });

    it('provisionExternal: 20 concurrent first logins of one name make one user (same id everywhere), and repeating it is a no-op', async () => {
      const name = uid('judy');
      const profile = { tenantId, connectionId, email: 'judy@corp.test', emailVerified: true, name: 'Judy' };
      const results = await Promise.all(
        Array.from({ length: CONCURRENCY }, (_, i) =>
          stores.users.provisionExternal({ ...profile, username: i % 2 === 0 ? name : name.toUpperCase() }),
        ),
      );
      const ids = new Set(results.map((r) => r.id));
      assert.equal(ids.size, 1, `one user, got ${ids.size} ids`);
      const [id] = ids;
      const first = results[0]!;
      assert.equal(first.passwordHash, null, 'an external user has no local password');
      assert.equal(first.email, 'judy@corp.test');
      assert.equal(first.groups, null);
      assert.equal((await stores.users.findByLogin(tenantId, connectionId, name))?.id, id);
      assert.equal(await stores.users.create(newUser(name)), undefined, 'the name is taken: the row exists once');

      const stored = await stores.users.findById(tenantId, id!);
      const again = await stores.users.provisionExternal({ ...profile, username: name });
      assert.equal(again.id, id);
      assert.equal(again.updatedAt.getTime(), stored?.updatedAt.getTime(), 'an unchanged profile is not rewritten');
    });

    it('provisionExternal refreshes a changed profile, groups included (null, [] and a list are distinct)', async () => {
      const name = uid('ken');
      const base = { tenantId, connectionId, username: name };
      const first = await stores.users.provisionExternal({ ...base, email: 'ken@corp.test', name: 'Ken' });
      assert.equal(first.groups, null, 'no groups from the directory: null');

      const withEmpty = await stores.users.provisionExternal({ ...base, email: 'ken@corp.test', name: 'Ken', groups: [] });
      assert.equal(withEmpty.id, first.id);
      assert.deepEqual(withEmpty.groups, [], 'null → [] is a change');
      assert.deepEqual((await stores.users.findById(tenantId, first.id))?.groups, []);

      const changed = await stores.users.provisionExternal({
        ...base,
        email: 'ken.thompson@corp.test',
        emailVerified: true,
        name: 'Ken Thompson',
        givenName: 'Ken',
        familyName: 'Thompson',
        groups: ['unix', 'bell-labs'],
      });
      assert.equal(changed.id, first.id);
      assert.equal(changed.email, 'ken.thompson@corp.test');
      assert.equal(changed.emailVerified, true);
      assert.equal(changed.name, 'Ken Thompson');
      assert.equal(changed.givenName, 'Ken');
      assert.equal(changed.familyName, 'Thompson');
      assert.deepEqual(changed.groups, ['unix', 'bell-labs']);
      assert.equal(
        (await stores.users.findByLogin(tenantId, connectionId, 'KEN.THOMPSON@corp.test'))?.id,
        first.id,
        'the new email is a login',
      );

      const emptied = await stores.users.provisionExternal({ ...base, groups: [] });
      assert.deepEqual(emptied.groups, [], 'a list → [] is a change');
      assert.equal(emptied.email, 'ken.thompson@corp.test', 'what the directory did not say is kept');
      const silent = await stores.users.provisionExternal(base);
      assert.deepEqual(silent.groups, [], 'groups not given: unchanged');
      assert.deepEqual((await stores.users.findById(tenantId, first.id))?.groups, []);
    });
  });

  describe('refresh tokens', () => {
    const family = (overrides: Partial<NewRefreshTokenFamily> = {}): NewRefreshTokenFamily => ({
      id: uid('fam'),
      tenantId,
      clientId: 'web',
      userId: randomUUID(),
      audience: null,
      scope: 'openid profile offline_access',
      authTime: at(-123),
      currentHash: uid('hash'),
      currentTokenSealed: uid('sealed'),
      createdAt: at(1),
      expiresAt: at(HOUR + 7),
      familyExpiresAt: at(24 * HOUR + 9),
      amr: null,
      ...overrides,
    });
    const rotation = (
      familyId: string,
      expectedHash: string,
      now: Date,
      reuseIntervalSeconds: number,
      sealed: string | null = uid('sealed'),
    ) => ({
      familyId,
      expectedHash,
      newHash: uid('hash'),
      newTokenSealed: sealed,
      expiresAt: new Date(now.getTime() + HOUR),
      now,
      reuseIntervalSeconds,
    });

    it('createFamily/findFamily round-trip: instants to the millisecond, amr as a list or null, audience null', async () => {
      const a = family({ amr: ['pwd', 'otp', 'mfa'] });
      const b = family({ audience: 'https://api.acme.test/', amr: null, currentTokenSealed: null });
      await stores.refreshTokens.createFamily(a);
      await stores.refreshTokens.createFamily(b);
      const expectedRest = { previousHash: null, rotatedAt: null, revokedAt: null };
      assert.deepEqual(await stores.refreshTokens.findFamily(a.id), { ...a, ...expectedRest });
      assert.deepEqual(await stores.refreshTokens.findFamily(b.id), { ...b, ...expectedRest });
      const read = await stores.refreshTokens.findFamily(a.id);
      assert.equal(read?.authTime.getTime(), T0 - 123, 'millisecond precision');
      assert.equal(read?.familyExpiresAt.toISOString(), '2031-03-05T05:06:07.098Z');
      assert.equal(await stores.refreshTokens.findFamily(uid('fam')), undefined);
    });

    it('findFamilyWithOwner reads the family and its user together; the owner is undefined when the user is gone or in another tenant', async () => {
      const owner = await stores.users.create({ ...newUser(uid('owner')), email: 'owner@acme.test', groups: ['admins'] });
      assert.ok(owner);
      const owned = family({ userId: owner.id, amr: ['pwd'] });
      const orphan = family();
      await stores.refreshTokens.createFamily(owned);
      await stores.refreshTokens.createFamily(orphan);
      assert.deepEqual(await stores.refreshTokens.findFamilyWithOwner(owned.id), {
        family: await stores.refreshTokens.findFamily(owned.id),
        owner: await stores.users.findById(tenantId, owner.id),
      });
      assert.deepEqual(await stores.refreshTokens.findFamilyWithOwner(orphan.id), {
        family: await stores.refreshTokens.findFamily(orphan.id),
        owner: undefined,
      });
      const elsewhere = family({ userId: owner.id, tenantId: uid('other-tenant') });
      await stores.refreshTokens.createFamily(elsewhere);
      assert.equal((await stores.refreshTokens.findFamilyWithOwner(elsewhere.id))?.owner, undefined, 'joined within the tenant only');
      assert.equal(await stores.refreshTokens.findFamilyWithOwner(uid('fam')), undefined);
    });

    it('rotate: the expected hash rotates once; presented again inside the reuse interval it replays the sealed child, after it the family is revoked', async () => {
      const f = family();
      await stores.refreshTokens.createFamily(f);
      const first = rotation(f.id, f.currentHash, at(10 * SECOND), 30);
      assert.deepEqual(await stores.refreshTokens.rotate(first), { kind: 'rotated' });
      const rotated = await stores.refreshTokens.findFamily(f.id);
      assert.ok(rotated);
      assert.equal(rotated.currentHash, first.newHash);
      assert.equal(rotated.previousHash, f.currentHash);
      assert.equal(rotated.rotatedAt?.getTime(), first.now.getTime());
      assert.equal(rotated.currentTokenSealed, first.newTokenSealed);
      assert.equal(rotated.expiresAt.getTime(), first.expiresAt.getTime());
      assert.equal(rotated.revokedAt, null);
      assert.equal(isRetryInsideReuseInterval(rotated, f.currentHash, at(40 * SECOND), 30), true, 'exactly at the end of the interval');
      assert.equal(isRetryInsideReuseInterval(rotated, f.currentHash, at(40 * SECOND + 1), 30), false, 'one millisecond after');
      assert.equal(isRetryInsideReuseInterval(rotated, first.newHash, at(11 * SECOND), 30), false, 'only the replaced token is a retry');

      // The replaced token again, at the last millisecond of the interval: the same child, nothing changed.
      const retry = await stores.refreshTokens.rotate(rotation(f.id, f.currentHash, at(40 * SECOND), 30));
      assert.deepEqual(retry, { kind: 'replay', currentTokenSealed: first.newTokenSealed });
      assert.equal((await stores.refreshTokens.findFamily(f.id))?.currentHash, first.newHash, 'a replay rotates nothing');

      // The child rotates normally.
      const second = rotation(f.id, first.newHash, at(50 * SECOND), 30);
      assert.deepEqual(await stores.refreshTokens.rotate(second), { kind: 'rotated' });

      // The first parent, presented again long after: reuse, and the whole family goes.
      const reuse = await stores.refreshTokens.rotate(rotation(f.id, f.currentHash, at(60 * SECOND), 30));
      assert.deepEqual(reuse, { kind: 'reuse_detected' });
      const revoked = await stores.refreshTokens.findFamily(f.id);
      assert.equal(revoked?.revokedAt?.getTime(), T0 + 60 * SECOND);
      assert.equal(revoked?.currentTokenSealed, null, 'the sealed child is dropped with the family');
      assert.deepEqual(
        await stores.refreshTokens.rotate(rotation(f.id, second.newHash, at(61 * SECOND), 30)),
        { kind: 'reuse_detected' },
        'even the current token is dead now',
      );
      assert.equal((await stores.refreshTokens.findFamily(f.id))?.currentHash, second.newHash);
    });

    it('rotate just past the reuse interval is reuse, not a replay', async () => {
      const f = family();
      await stores.refreshTokens.createFamily(f);
      const first = rotation(f.id, f.currentHash, at(0), 5);
      assert.deepEqual(await stores.refreshTokens.rotate(first), { kind: 'rotated' });
      assert.deepEqual(await stores.refreshTokens.rotate(rotation(f.id, f.currentHash, at(5 * SECOND + 1), 5)), { kind: 'reuse_detected' });
      assert.ok((await stores.refreshTokens.findFamily(f.id))?.revokedAt);
    });

    it('rotate of an unknown family is reuse_detected and throws nothing', async () => {
      assert.deepEqual(await stores.refreshTokens.rotate(rotation(uid('fam'), 'nope', at(0), 30)), { kind: 'reuse_detected' });
    });

    it(`${CONCURRENCY} concurrent rotations of the same token, ${CONCURRENCY} rounds: exactly one rotated each round, the others replay the winner's token`, async () => {
      const f = family();
      await stores.refreshTokens.createFamily(f);
      let expected = f.currentHash;
      for (let round = 0; round < 20; round++) {
        const now = at(round * 60 * SECOND);
        const attempts = Array.from({ length: CONCURRENCY }, () => rotation(f.id, expected, now, 10));
        const results: RotationResult[] = await Promise.all(attempts.map((a) => stores.refreshTokens.rotate(a)));
        const winners = results.flatMap((r, i) => (r.kind === 'rotated' ? [attempts[i]!] : []));
        assert.equal(winners.length, 1, `round ${round}: ${winners.length} rotated (${results.map((r) => r.kind).join(',')})`);
        const winner = winners[0]!;
        for (const r of results) {
          if (r.kind === 'rotated') continue;
          assert.deepEqual(
            r,
            { kind: 'replay', currentTokenSealed: winner.newTokenSealed },
            `round ${round}: a loser gets the winner's child`,
          );
        }
        const stored = await stores.refreshTokens.findFamily(f.id);
        assert.equal(stored?.currentHash, winner.newHash, `round ${round}: the winner's hash is current`);
        assert.equal(stored?.previousHash, expected);
        assert.equal(stored?.revokedAt, null);
        expected = winner.newHash;
      }
    });

    it(`${CONCURRENCY} concurrent rotations without a reuse interval, ${CONCURRENCY} families: exactly one rotated, the others detect reuse and the family is revoked`, async () => {
      for (let round = 0; round < 20; round++) {
        const f = family({ currentTokenSealed: null });
        await stores.refreshTokens.createFamily(f);
        const now = at(round * SECOND);
        const results = await Promise.all(
          Array.from({ length: CONCURRENCY }, () => stores.refreshTokens.rotate(rotation(f.id, f.currentHash, now, 0, null))),
        );
        const kinds = results.map((r) => r.kind);
        assert.equal(kinds.filter((k) => k === 'rotated').length, 1, `round ${round}: ${kinds.join(',')}`);
        assert.equal(kinds.filter((k) => k === 'reuse_detected').length, CONCURRENCY - 1, `round ${round}: ${kinds.join(',')}`);
        assert.equal((await stores.refreshTokens.findFamily(f.id))?.revokedAt?.getTime(), now.getTime());
      }
    });

    it('revokeFamily: revoked at the first revocation, the sealed child dropped, no rotation afterwards', async () => {
      const f = family();
      await stores.refreshTokens.createFamily(f);
      await stores.refreshTokens.revokeFamily(f.id, at(5 * SECOND));
      await stores.refreshTokens.revokeFamily(f.id, at(9 * SECOND));
      const revoked = await stores.refreshTokens.findFamily(f.id);
      assert.equal(revoked?.revokedAt?.getTime(), T0 + 5 * SECOND, 'a second revocation keeps the first instant');
      assert.equal(revoked?.currentTokenSealed, null);
      assert.deepEqual(await stores.refreshTokens.rotate(rotation(f.id, f.currentHash, at(10 * SECOND), 30)), { kind: 'reuse_detected' });
      assert.equal((await stores.refreshTokens.findFamily(f.id))?.currentHash, f.currentHash, 'a revoked family does not rotate');
      await stores.refreshTokens.revokeFamily(uid('fam'), at(0));
    });

    it('revokeAllForUser: every unrevoked family of that user in that tenant, none of anyone else; counts what it revoked; keeps earlier revocations', async () => {
      const userId = randomUUID();
      const mine = [family({ userId }), family({ userId, clientId: 'native' }), family({ userId, currentTokenSealed: null })];
      const alreadyRevoked = family({ userId });
      const otherUser = family();
      const otherTenant = family({ userId, tenantId: otherTenantId });
      for (const f of [...mine, alreadyRevoked, otherUser, otherTenant]) await stores.refreshTokens.createFamily(f);
      await stores.refreshTokens.revokeFamily(alreadyRevoked.id, at(2 * SECOND));

      assert.equal(await stores.refreshTokens.revokeAllForUser(tenantId, userId, at(7 * SECOND)), mine.length);
      for (const f of mine) {
        const revoked = await stores.refreshTokens.findFamily(f.id);
        assert.equal(revoked?.revokedAt?.getTime(), T0 + 7 * SECOND);
        assert.equal(revoked?.currentTokenSealed, null, 'the sealed child is dropped with the family');
        assert.deepEqual(
          await stores.refreshTokens.rotate(rotation(f.id, f.currentHash, at(8 * SECOND), 30)),
          { kind: 'reuse_detected' },
          'a revoked family does not rotate',
        );
      }
      assert.equal(
        (await stores.refreshTokens.findFamily(alreadyRevoked.id))?.revokedAt?.getTime(),
        T0 + 2 * SECOND,
        'an earlier revocation keeps its instant',
      );
      assert.equal((await stores.refreshTokens.findFamily(otherUser.id))?.revokedAt, null, "another user's family");
      assert.equal((await stores.refreshTokens.findFamily(otherTenant.id))?.revokedAt, null, 'the same user id in another tenant');
      assert.equal(await stores.refreshTokens.revokeAllForUser(tenantId, userId, at(9 * SECOND)), 0, 'nothing left to revoke');
      assert.equal(await stores.refreshTokens.revokeAllForUser(tenantId, randomUUID(), at(9 * SECOND)), 0, 'a user without families');
    });

    it(`revokeAllForUser racing ${CONCURRENCY} rotations of the user's families: no family is left unrevoked, whichever commits first`, async () => {
      const userId = randomUUID();
      const families = Array.from({ length: CONCURRENCY }, () => family({ userId }));
      for (const f of families) await stores.refreshTokens.createFamily(f);
      const now = at(3 * SECOND);
      const [revoked, ...rotations] = await Promise.all([
        stores.refreshTokens.revokeAllForUser(tenantId, userId, now),
        ...families.map((f) => stores.refreshTokens.rotate(rotation(f.id, f.currentHash, now, 0))),
      ]);
      assert.equal(revoked, CONCURRENCY, 'each family was unrevoked when the revocation reached it');
      for (const f of families) assert.ok((await stores.refreshTokens.findFamily(f.id))?.revokedAt, `family ${f.id} revoked`);
      assert.ok(
        rotations.every((r) => r.kind === 'rotated' || r.kind === 'reuse_detected'),
        rotations.map((r) => r.kind).join(','),
      );
    });

    it('revokeClientFamilies revokes the live families of one application of one tenant, answers how many, and keeps the first revocation instant', async () => {
      const clientId = uid('leaving');
      const live = [family({ clientId }), family({ clientId, audience: 'https://api.acme.test/' })];
      const alreadyRevoked = family({ clientId });
      const otherClient = family({ clientId: uid('staying') });
      const otherTenant = family({ clientId, tenantId: otherTenantId });
      for (const f of [...live, alreadyRevoked, otherClient, otherTenant]) await stores.refreshTokens.createFamily(f);
      await stores.refreshTokens.revokeFamily(alreadyRevoked.id, at(SECOND));

      assert.equal(await stores.refreshTokens.revokeClientFamilies(tenantId, clientId, at(7 * SECOND)), 2);
      for (const f of live) {
        const read = await stores.refreshTokens.findFamily(f.id);
        assert.equal(read?.revokedAt?.getTime(), T0 + 7 * SECOND);
        assert.equal(read?.currentTokenSealed, null, 'the sealed child is dropped');
      }
      assert.equal(
        (await stores.refreshTokens.findFamily(alreadyRevoked.id))?.revokedAt?.getTime(),
        T0 + SECOND,
        'the first instant is kept',
      );
      assert.equal((await stores.refreshTokens.findFamily(otherClient.id))?.revokedAt, null, 'another application');
      assert.equal((await stores.refreshTokens.findFamily(otherTenant.id))?.revokedAt, null, 'the same client_id in another tenant');
      assert.equal(await stores.refreshTokens.revokeClientFamilies(tenantId, clientId, at(9 * SECOND)), 0, 'nothing left to revoke');
    });

    it('purgeExpired removes the families whose absolute lifetime has ended, and only those', async () => {
      const base = 1000 * 24 * HOUR; // far from the other tests' instants
      const gone = family({ familyExpiresAt: at(base + HOUR), expiresAt: at(base + HOUR) });
      const edge = family({ familyExpiresAt: at(base + 2 * HOUR), expiresAt: at(base + HOUR) });
      const kept = family({ familyExpiresAt: at(base + 2 * HOUR + 1), expiresAt: at(base + HOUR) });
      for (const f of [gone, edge, kept]) await stores.refreshTokens.createFamily(f);
      await stores.purgeExpired(at(base + HOUR + 1));
      assert.equal(await stores.refreshTokens.findFamily(gone.id), undefined);
      assert.ok(await stores.refreshTokens.findFamily(edge.id), 'not yet at its absolute expiry');
      await stores.purgeExpired(at(base + 2 * HOUR));
      assert.equal(await stores.refreshTokens.findFamily(edge.id), undefined, 'expired at exactly now');
      assert.ok(await stores.refreshTokens.findFamily(kept.id), 'one millisecond left');
    });
  });

  describe('single-use keys (consumed jtis)', () => {
    it(`${CONCURRENCY} concurrent consume() of one key: exactly one true; then isConsumed until it expires`, async () => {
      const key = uid('jti');
      const results = await Promise.all(
        Array.from({ length: CONCURRENCY }, () => stores.singleUseKeys.consume(key, at(60 * SECOND), at(0))),
      );
      assert.equal(results.filter(Boolean).length, 1, `${results.filter(Boolean).length} of ${CONCURRENCY} consumed it`);
      assert.equal(await stores.singleUseKeys.consume(key, at(60 * SECOND), at(SECOND)), false, 'a repeat later on');
      assert.equal(await stores.singleUseKeys.isConsumed(key, at(59 * SECOND)), true);
      assert.equal(await stores.singleUseKeys.isConsumed(key, at(60 * SECOND)), false, 'expired at its expiry');
      assert.equal(await stores.singleUseKeys.isConsumed(uid('jti'), at(0)), false, 'an unknown key');
    });

    it('an expired key may be consumed again (its own check, no purge needed), and then holds for its new expiry', async () => {
      const key = uid('jti');
      assert.equal(await stores.singleUseKeys.consume(key, at(60 * SECOND), at(0)), true);
      assert.equal(await stores.singleUseKeys.consume(key, at(200 * SECOND), at(60 * SECOND - 1)), false, 'one millisecond before expiry');
      assert.equal(await stores.singleUseKeys.consume(key, at(200 * SECOND), at(60 * SECOND)), true, 'at its expiry');
      assert.equal(await stores.singleUseKeys.consume(key, at(300 * SECOND), at(61 * SECOND)), false, 'the new entry holds');
      assert.equal(await stores.singleUseKeys.isConsumed(key, at(199 * SECOND)), true, 'until the new expiry');
    });

    it(`${CONCURRENCY} concurrent consume() of an expired key: exactly one true`, async () => {
      const key = uid('jti');
      assert.equal(await stores.singleUseKeys.consume(key, at(10 * SECOND), at(0)), true);
      const results = await Promise.all(
        Array.from({ length: CONCURRENCY }, () => stores.singleUseKeys.consume(key, at(100 * SECOND), at(20 * SECOND))),
      );
      assert.equal(results.filter(Boolean).length, 1, `${results.filter(Boolean).length} of ${CONCURRENCY} consumed the expired key`);
    });

    it('purgeExpired forgets expired keys and keeps live ones', async () => {
      const base = 2000 * 24 * HOUR;
      const expired = uid('jti');
      const live = uid('jti');
      await stores.singleUseKeys.consume(expired, at(base + 10 * SECOND), at(base));
      await stores.singleUseKeys.consume(live, at(base + 10 * SECOND + 1), at(base));
      await stores.purgeExpired(at(base + 10 * SECOND));
      assert.equal(await stores.singleUseKeys.isConsumed(live, at(base + 10 * SECOND)), true, 'kept');
      assert.equal(await stores.singleUseKeys.isConsumed(expired, at(base)), false, 'purged (even asked about an earlier instant)');
      assert.equal(await stores.singleUseKeys.consume(expired, at(base + 100 * SECOND), at(base + 10 * SECOND)), true);
      assert.equal(await stores.singleUseKeys.consume(live, at(base + 100 * SECOND), at(base + 10 * SECOND)), false);
    });
  });

  describe('access-token denylist', () => {
    it('add, isRevoked; a second add is harmless; purgeExpired drops only expired entries', async () => {
      const base = 3000 * 24 * HOUR;
      const jti = uid('at');
      const later = uid('at');
      assert.equal(await stores.accessTokenDenylist.isRevoked(jti), false);
      await stores.accessTokenDenylist.add(tenantId, jti, at(base + HOUR));
      await stores.accessTokenDenylist.add(tenantId, jti, at(base + HOUR));
      await stores.accessTokenDenylist.add(tenantId, later, at(base + HOUR + 1));
      assert.equal(await stores.accessTokenDenylist.isRevoked(jti), true);
      assert.equal(await stores.accessTokenDenylist.isRevoked(uid('at')), false);
      await stores.purgeExpired(at(base + HOUR));
      assert.equal(await stores.accessTokenDenylist.isRevoked(jti), false, 'the token has expired anyway');
      assert.equal(await stores.accessTokenDenylist.isRevoked(later), true);
    });
  });

  describe('signing keys', () => {
    const key = (
      ownerTenant: string,
      alg: SigningKeyRecord['alg'],
      createdAt: Date,
      overrides: Partial<SigningKeyRecord> = {},
    ): SigningKeyRecord => ({
      kid: uid('kid'),
      tenantId: ownerTenant,
      alg,
      publicJwk: { kty: alg.startsWith('ES') ? 'EC' : 'RSA', n: 'abc', e: 'AQAB', nested: { ok: true } },
      privateKeySealed: uid('v1.sealed'),
      createdAt,
      retiredAt: null,
      publishUntil: null,
      ...overrides,
    });

    it('insert round-trips; listPublished is newest first and leaves out keys whose publication has ended', async () => {
      const t = await stores.catalog.upsertTenant(uid('keys'), tenantSettings());
      const other = await stores.catalog.upsertTenant(uid('keys'), tenantSettings());
      const oldest = key(t, 'RS256', at(0), { retiredAt: at(HOUR), publishUntil: at(2 * HOUR) });
      const middle = key(t, 'ES256', at(HOUR - 1));
      const newest = key(t, 'RS256', at(HOUR));
      const ended = key(t, 'RS256', at(-HOUR), { retiredAt: at(0), publishUntil: at(HOUR) });
      const foreign = key(other, 'RS256', at(3 * HOUR));
      // Inserted out of order: the order is the store's.
      for (const k of [middle, oldest, foreign, newest, ended]) await stores.signingKeys.insert(k);

      const published = await stores.signingKeys.listPublished(t, at(HOUR));
      assert.deepEqual(
        published.map((k) => k.kid),
        [newest.kid, middle.kid, oldest.kid],
        'newest first; the key published until exactly now is gone',
      );
      assert.deepEqual(published[2], oldest, 'the record round-trips (JWK object, instants)');
      assert.deepEqual(published[1], middle);
      assert.deepEqual(
        (await stores.signingKeys.listPublished(t, at(HOUR - 1))).map((k) => k.kid),
        [newest.kid, middle.kid, oldest.kid, ended.kid],
      );
      assert.deepEqual(
        (await stores.signingKeys.listPublished(t, at(2 * HOUR))).map((k) => k.kid),
        [newest.kid, middle.kid],
      );
      assert.deepEqual(
        (await stores.signingKeys.listPublished(other, at(0))).map((k) => k.kid),
        [foreign.kid],
      );
    });

    it('rotate retires the active key of that alg (published until the given time), keeps other algs active and leaves retired keys alone', async () => {
      const t = await stores.catalog.upsertTenant(uid('rot'), tenantSettings());
      const retired = key(t, 'RS256', at(0), { retiredAt: at(HOUR), publishUntil: at(10 * HOUR) });
      const active = key(t, 'RS256', at(HOUR));
      const ec = key(t, 'ES256', at(HOUR));
      for (const k of [retired, active, ec]) await stores.signingKeys.insert(k);
      const fresh = key(t, 'RS256', at(2 * HOUR));
      await stores.signingKeys.rotate(fresh, at(5 * HOUR));

      const published = await stores.signingKeys.listPublished(t, at(2 * HOUR));
      const byKid = new Map(published.map((k) => [k.kid, k]));
      assert.equal(published[0]?.kid, fresh.kid, 'the new key is the newest');
      assert.deepEqual(byKid.get(fresh.kid), fresh);
      assert.equal(byKid.get(active.kid)?.retiredAt?.getTime(), T0 + 2 * HOUR, 'retired when the new key was made');
      assert.equal(byKid.get(active.kid)?.publishUntil?.getTime(), T0 + 5 * HOUR);
      assert.deepEqual(byKid.get(ec.kid), ec, 'another alg is untouched');
      assert.deepEqual(byKid.get(retired.kid), retired, 'an already-retired key keeps its own dates');
      assert.equal(published.filter((k) => k.alg === 'RS256' && k.retiredAt === null).length, 1, 'one active RS256 key');

      assert.ok(
        (await stores.signingKeys.listPublished(t, at(5 * HOUR - 1))).some((k) => k.kid === active.kid),
        'still published just before',
      );
      assert.ok(!(await stores.signingKeys.listPublished(t, at(5 * HOUR))).some((k) => k.kid === active.kid), 'gone at publishOldUntil');
    });

    it('rotate is atomic: when the new key cannot be stored, the old key stays active', async () => {
      const t = await stores.catalog.upsertTenant(uid('atomic'), tenantSettings());
      const active = key(t, 'RS256', at(0));
      await stores.signingKeys.insert(active);
      const clash = key(t, 'RS256', at(HOUR), { kid: active.kid });
      await assert.rejects(stores.signingKeys.rotate(clash, at(2 * HOUR)));
      assert.deepEqual(await stores.signingKeys.listPublished(t, at(3 * HOUR)), [active], 'not retired by a failed rotation');
    });

    it('keepCertificate keeps the first certificate written for a key, in its tenant only, and listPublished gives it back', async () => {
      const t = await stores.catalog.upsertTenant(uid('cert'), tenantSettings());
      const other = await stores.catalog.upsertTenant(uid('cert'), tenantSettings());
      const k = key(t, 'ES256', at(0));
      await stores.signingKeys.insert(k);
      assert.equal((await stores.signingKeys.listPublished(t, at(1)))[0]?.certificate, undefined, 'none until made');
      assert.equal(await stores.signingKeys.keepCertificate(other, k.kid, 'PEM-OTHER'), 'PEM-OTHER', 'another tenant: nothing to keep');
      const kept = await Promise.all([
        stores.signingKeys.keepCertificate(t, k.kid, 'PEM-A'),
        stores.signingKeys.keepCertificate(t, k.kid, 'PEM-B'),
      ]);
      assert.equal(kept[0], kept[1], 'both writers answer the one kept');
      assert.equal(await stores.signingKeys.keepCertificate(t, k.kid, 'PEM-C'), kept[0], 'a later writer keeps nothing');
      assert.deepEqual(await stores.signingKeys.listPublished(t, at(1)), [{ ...k, certificate: kept[0] }]);
    });

    it('purgeExpired deletes keys whose publication has ended', async () => {
      const t = await stores.catalog.upsertTenant(uid('purge'), tenantSettings());
      const base = 4000 * 24 * HOUR;
      const ended = key(t, 'RS256', at(base), { retiredAt: at(base), publishUntil: at(base + HOUR) });
      const active = key(t, 'RS256', at(base + HOUR));
      await stores.signingKeys.insert(ended);
      await stores.signingKeys.insert(active);
      await stores.purgeExpired(at(base + HOUR));
      assert.deepEqual(
        (await stores.signingKeys.listPublished(t, at(base))).map((k) => k.kid),
        [active.kid],
        'even asked about an instant when it was published',
      );
    });
  });

  describe('catalog', () => {
    it('upserts create, then update the same id; load() returns the snapshot', async () => {
      const name = uid('acme');
      const t1 = await stores.catalog.upsertTenant(name, tenantSettings({ default_audience: 'https://api.acme.test/' }));
      const t2 = await stores.catalog.upsertTenant(name, tenantSettings({ id_token_lifetime: 600, mfa: 'always' }));
      assert.equal(t2, t1, 'same tenant');

      const c1 = await stores.catalog.upsertConnection(t1, { name: 'users', type: 'database' });
      const c2 = await stores.catalog.upsertConnection(t1, {
        name: 'users',
        type: 'database',
        password_policy: { min_length: 12, refuse_breached: false, on_breached_login: 'flag' },
      });
      assert.equal(c2, c1);
      const validator = await stores.catalog.upsertConnection(t1, {
        name: 'partner',
        type: 'http',
        url: 'https://validator.acme.test/check',
        timeout_ms: 750,
      });

      const a1 = await stores.catalog.upsertApi(t1, {
        identifier: 'https://api.acme.test/',
        scopes: ['read'],
        token_lifetime: 3600,
        allow_offline_access: false,
        signing_alg: 'RS256',
      });
      const a2 = await stores.catalog.upsertApi(t1, {
        identifier: 'https://api.acme.test/',
        scopes: ['read', 'write'],
        token_lifetime: 900,
        allow_offline_access: true,
        signing_alg: 'ES256',
      });
      assert.equal(a2, a1);

      const app1 = await stores.catalog.upsertApplication(t1, 'web', 'secret-hash-1', applicationSettings());
      const app2 = await stores.catalog.upsertApplication(
        t1,
        'web',
        null,
        applicationSettings({ name: 'Web (public)', token_endpoint_auth_method: 'none' }),
      );
      assert.equal(app2, app1);
      const other = await stores.catalog.upsertApplication(
        t1,
        'service',
        'secret-hash-2',
        applicationSettings({ grant_types: ['client_credentials'] }),
      );
      assert.notEqual(other, app1);

      // The same names in another tenant are other rows.
      const elsewhere = await stores.catalog.upsertTenant(uid('globex'), tenantSettings());
      assert.notEqual(await stores.catalog.upsertConnection(elsewhere, { name: 'users', type: 'database' }), c1);
      assert.notEqual(await stores.catalog.upsertApplication(elsewhere, 'web', null, applicationSettings()), app1);

      const snapshot = await stores.catalog.load();
      const mine = <T extends { tenantId: string }>(rows: T[]) => rows.filter((r) => r.tenantId === t1);
      assert.deepEqual(
        snapshot.tenants.filter((t) => t.name === name),
        [{ id: t1, name, settings: tenantSettings({ id_token_lifetime: 600, mfa: 'always' }) }],
      );
      const connections = mine(snapshot.connections);
      assert.equal(connections.length, 2);
      assert.deepEqual(
        connections.find((c) => c.id === c1),
        {
          id: c1,
          tenantId: t1,
          name: 'users',
          type: 'database',
          passwordPolicy: { min_length: 12, refuse_breached: false, on_breached_login: 'flag' },
        },
      );
      assert.deepEqual(connections.find((c) => c.id === validator)?.validator, {
        url: 'https://validator.acme.test/check',
        timeoutMs: 750,
      });
      assert.deepEqual(mine(snapshot.apis), [
        {
          id: a1,
          tenantId: t1,
          settings: {
            identifier: 'https://api.acme.test/',
            scopes: ['read', 'write'],
            token_lifetime: 900,
            allow_offline_access: true,
            signing_alg: 'ES256',
          },
        },
      ]);
      const apps = mine(snapshot.applications);
      assert.equal(apps.length, 2);
      assert.deepEqual(
        apps.find((a) => a.id === app1),
        {
          id: app1,
          tenantId: t1,
          clientId: 'web',
          clientSecretHash: null,
          settings: applicationSettings({ name: 'Web (public)', token_endpoint_auth_method: 'none' }),
        },
      );
      assert.equal(apps.find((a) => a.id === other)?.clientSecretHash, 'secret-hash-2');
    });

    it('client grants: upsert creates, then updates the scope of the same (tenant, client_id, audience); load() returns them', async () => {
      const t = await stores.catalog.upsertTenant(uid('grants'), tenantSettings());
      const g1 = await stores.catalog.upsertClientGrant(t, { clientId: 'svc', audience: 'https://api.acme.test/', scope: ['read'] });
      const g2 = await stores.catalog.upsertClientGrant(t, {
        clientId: 'svc',
        audience: 'https://api.acme.test/',
        scope: ['read', 'write'],
      });
      assert.equal(g2, g1, 'same grant');
      const other = await stores.catalog.upsertClientGrant(t, { clientId: 'svc', audience: 'https://other.acme.test/', scope: [] });
      assert.notEqual(other, g1);
      const elsewhere = await stores.catalog.upsertTenant(uid('grants'), tenantSettings());
      assert.notEqual(
        await stores.catalog.upsertClientGrant(elsewhere, { clientId: 'svc', audience: 'https://api.acme.test/', scope: ['read'] }),
        g1,
      );
      const mine = (await stores.catalog.load()).clientGrants.filter((g) => g.tenantId === t);
      assert.deepEqual(mine, [
        { id: g1, tenantId: t, clientId: 'svc', audience: 'https://api.acme.test/', scope: ['read', 'write'] },
        { id: other, tenantId: t, clientId: 'svc', audience: 'https://other.acme.test/', scope: [] },
      ]);
    });

    it(`${CONCURRENCY} concurrent upserts of one client grant (nodes starting together) make one row`, async () => {
      const t = await stores.catalog.upsertTenant(uid('grants'), tenantSettings());
      const ids = await Promise.all(
        Array.from({ length: CONCURRENCY }, (_, i) =>
          stores.catalog.upsertClientGrant(t, { clientId: 'svc', audience: 'https://api.acme.test/', scope: [`s${i}`] }),
        ),
      );
      assert.equal(new Set(ids).size, 1);
      assert.equal((await stores.catalog.load()).clientGrants.filter((g) => g.tenantId === t).length, 1);
    });

    it('listDeclared lists what the file declared; disable() stops load() serving a row but keeps it; an upsert serves it again', async () => {
      const name = uid('declared');
      const t = await stores.catalog.upsertTenant(name, tenantSettings());
      const connection = await stores.catalog.upsertConnection(t, { name: 'partners', type: 'database' });
      const api = await stores.catalog.upsertApi(t, {
        identifier: 'https://api.acme.test/',
        scopes: ['read'],
        token_lifetime: 60,
        allow_offline_access: false,
        signing_alg: 'RS256',
      });
      const app = await stores.catalog.upsertApplication(t, 'web', null, applicationSettings());
      const grant = await stores.catalog.upsertClientGrant(t, { clientId: 'web', audience: 'https://api.acme.test/', scope: ['read'] });
      const user = await stores.users.create({ tenantId: t, connectionId: connection, username: 'pat', passwordHash: 'hash-1' });
      const declaredOf = async () => (await stores.catalog.listDeclared()).filter((r) => r.tenantId === t);
      assert.deepEqual(
        (await declaredOf()).map((r) => [r.kind, r.id, r.key, r.disabledAt]).sort(),
        [
          ['tenant', t, [name], null],
          ['connection', connection, ['partners'], null],
          ['api', api, ['https://api.acme.test/'], null],
          ['application', app, ['web'], null],
          ['client_grant', grant, ['web', 'https://api.acme.test/'], null],
        ].sort(),
      );

      const everything = (await declaredOf()).map((r) => ({ kind: r.kind, id: r.id }));
      await stores.catalog.disable(everything, at(HOUR));
      await stores.catalog.disable(everything, at(2 * HOUR));
      assert.ok(
        (await declaredOf()).every((r) => r.disabledAt?.getTime() === T0 + HOUR),
        'disabled at the first disable, and still listed',
      );
      const served = await stores.catalog.load();
      assert.equal(
        served.tenants.find((x) => x.id === t),
        undefined,
        'the tenant is not served',
      );
      for (const rows of [served.connections, served.apis, served.applications, served.clientGrants])
        assert.equal(rows.filter((r) => r.tenantId === t).length, 0);
      assert.equal((await stores.users.findById(t, user!.id))?.username, 'pat', "a disabled connection's users are kept");

      // Declaring again serves it again; what is not declared again stays disabled.
      await stores.catalog.upsertTenant(name, tenantSettings());
      await stores.catalog.upsertApi(t, {
        identifier: 'https://api.acme.test/',
        scopes: ['read'],
        token_lifetime: 60,
        allow_offline_access: false,
        signing_alg: 'RS256',
      });
      const again = await stores.catalog.load();
      assert.ok(again.tenants.some((x) => x.id === t));
      assert.deepEqual(
        again.apis.filter((r) => r.tenantId === t).map((r) => r.id),
        [api],
        'the same row',
      );
      assert.equal(again.applications.filter((r) => r.tenantId === t).length, 0);
      assert.deepEqual(
        (await declaredOf())
          .filter((r) => r.disabledAt === null)
          .map((r) => r.kind)
          .sort(),
        ['api', 'tenant'],
      );
    });

    it("a connection's secret and bind_password are never stored: not in load(), not anywhere in the database", {
      skip: options.rawContentSkip,
    }, async () => {
      const t = await stores.catalog.upsertTenant(uid('secrets'), tenantSettings());
      const hmacSecret = `hmac-${randomUUID()}`;
      const bindPassword = `bind-${randomUUID()}`;
      const laterSecret = `hmac-${randomUUID()}`;
      await stores.catalog.upsertConnection(t, { name: 'partner', type: 'http', url: 'https://validator.acme.test/', secret: hmacSecret });
      await stores.catalog.upsertConnection(t, {
        name: 'corp',
        type: 'ldap',
        url: 'ldaps://ldap.corp.test:636',
        bind_dn: 'cn=reader,dc=corp,dc=test',
        bind_password: bindPassword,
        search_base: 'ou=people,dc=corp,dc=test',
        search_filter: '(uid={{username}})',
      });
      // An update must not store them either.
      await stores.catalog.upsertConnection(t, {
        name: 'partner',
        type: 'http',
        url: 'https://validator2.acme.test/',
        secret: laterSecret,
      });

      const loaded = JSON.stringify(await stores.catalog.load());
      assert.ok(loaded.includes('https://validator2.acme.test/'), 'the update was stored');
      const raw = await subject.rawContent();
      assert.ok(raw.includes('cn=reader,dc=corp,dc=test'), 'the raw content does show stored settings (the check below can fail)');
      for (const [what, value] of [
        ['HMAC secret', hmacSecret],
        ['bind_password', bindPassword],
        ['updated HMAC secret', laterSecret],
      ] as const) {
        assert.ok(!loaded.includes(value), `${what} returned by load()`);
        assert.ok(!raw.includes(value), `${what} stored in the database`);
      }
    });
  });

  describe('attack locks', () => {
    it('record (an upsert per identifier and IP), listForIdentifier of the locks in force, removeForIdentifier, purgeExpired', async () => {
      const base = 5000 * 24 * HOUR;
      const identifierKey = uid('ik');
      const lock = (ip: string | null, lockedAt: number, expiresAt: number) => ({
        tenantId,
        connectionId,
        identifierKey,
        identifier: 'Mallory',
        ip,
        lockedAt: at(base + lockedAt),
        expiresAt: at(base + expiresAt),
      });
      await stores.attackLocks.record(lock('203.0.113.7', 0, HOUR));
      await stores.attackLocks.record(lock(null, 0, HOUR));
      await stores.attackLocks.record(lock('2001:db8:1::/64', 0, 10 * SECOND));
      // The same IP again: the lock is renewed, not duplicated.
      await stores.attackLocks.record(lock('203.0.113.7', 60 * SECOND, 2 * HOUR));
      const otherKey = uid('ik');
      await stores.attackLocks.record({ ...lock('203.0.113.7', 0, HOUR), identifierKey: otherKey });

      const sortByIp = (locks: Array<{ ip: string | null }>) => [...locks].sort((a, b) => String(a.ip).localeCompare(String(b.ip)));
      const inForce = sortByIp(await stores.attackLocks.listForIdentifier(tenantId, connectionId, identifierKey, at(base + 10 * SECOND)));
      assert.deepEqual(
        inForce,
        sortByIp([lock('203.0.113.7', 60 * SECOND, 2 * HOUR), lock(null, 0, HOUR)]),
        'the IPv6 lock expired at exactly now; the backstop has ip null',
      );
      assert.equal(
        (await stores.attackLocks.listForIdentifier(tenantId, connectionId, identifierKey, at(base + HOUR))).length,
        1,
        'the renewed lock outlasts the backstop',
      );
      assert.equal(
        (await stores.attackLocks.listForIdentifier(tenantId, otherConnectionId, identifierKey, at(base))).length,
        0,
        'scoped to the connection',
      );

      await stores.attackLocks.removeForIdentifier(tenantId, connectionId, identifierKey);
      assert.deepEqual(await stores.attackLocks.listForIdentifier(tenantId, connectionId, identifierKey, at(base)), []);
      assert.equal(
        (await stores.attackLocks.listForIdentifier(tenantId, connectionId, otherKey, at(base))).length,
        1,
        "another identifier's lock stays",
      );

      await stores.purgeExpired(at(base + HOUR));
      // Purged, so even a question about an earlier instant finds nothing.
      assert.deepEqual(await stores.attackLocks.listForIdentifier(tenantId, connectionId, otherKey, at(base)), []);
    });
  });

  describe('security events', () => {
    it('append, then query with the filters the CLI uses (newest first, since inclusive, until exclusive, limit), optional fields absent', async () => {
      const t = uid('events');
      const base = Date.parse('2001-02-03T04:05:06.007Z');
      const ev = (i: number, extra: Record<string, unknown> = {}) => ({
        at: new Date(base + i * SECOND),
        tenantId: t,
        type: 'failed_login',
        ...extra,
      });
      await Promise.all([
        stores.securityEvents.append(
          ev(0, {
            reason: 'wrong_password',
            clientId: 'web',
            connection: 'users',
            userId: 'u1',
            identifier: 'alice',
            ip: '203.0.113.1',
            details: { attempts: 3, locked: false, note: 'x' },
          }),
        ),
        stores.securityEvents.append(
          ev(1, { type: 'success_login', clientId: 'web', userId: 'u1', identifier: 'alice', ip: '203.0.113.1' }),
        ),
        stores.securityEvents.append(ev(2, { type: 'account_locked', identifier: 'bob', ip: '198.51.100.2' })),
        stores.securityEvents.append(ev(3, { clientId: 'cli', identifier: 'x'.repeat(70_000) })),
        stores.securityEvents.append({ ...ev(4), tenantId: uid('events') }),
      ]);

      const all = await stores.securityEvents.query({ tenantId: t, limit: 100 });
      assert.deepEqual(
        all.map((e) => e.at.getTime()),
        [3, 2, 1, 0].map((i) => base + i * SECOND),
        'newest first, only this tenant',
      );
      assert.equal(new Set(all.map((e) => e.id)).size, 4, 'each event has its own id');
      const first = all[3]!;
      assert.deepEqual(
        { ...first, id: undefined },
        {
          ...ev(0, {
            reason: 'wrong_password',
            clientId: 'web',
            connection: 'users',
            userId: 'u1',
            identifier: 'alice',
            ip: '203.0.113.1',
            details: { attempts: 3, locked: false, note: 'x' },
          }),
          id: undefined,
        },
      );
      const locked = all[1]!;
      for (const field of ['reason', 'clientId', 'connection', 'userId', 'details'] as const)
        assert.equal(locked[field], undefined, `${field} absent, not null`);
      assert.ok(all[0]!.identifier!.length < 70_000, 'a huge identifier is not kept whole');

      const ids = (events: Array<{ at: Date }>) => events.map((e) => (e.at.getTime() - base) / SECOND);
      assert.deepEqual(
        ids(await stores.securityEvents.query({ tenantId: t, types: ['success_login', 'account_locked'], limit: 100 })),
        [2, 1],
      );
      assert.deepEqual(
        ids(await stores.securityEvents.query({ tenantId: t, types: [], limit: 100 })),
        [3, 2, 1, 0],
        'an empty type list filters nothing',
      );
      assert.deepEqual(ids(await stores.securityEvents.query({ tenantId: t, userId: 'u1', limit: 100 })), [1, 0]);
      assert.deepEqual(ids(await stores.securityEvents.query({ tenantId: t, identifier: 'alice', limit: 100 })), [1, 0]);
      assert.deepEqual(ids(await stores.securityEvents.query({ tenantId: t, ip: '198.51.100.2', limit: 100 })), [2]);
      assert.deepEqual(ids(await stores.securityEvents.query({ tenantId: t, clientId: 'web', limit: 100 })), [1, 0]);
      assert.deepEqual(
        ids(
          await stores.securityEvents.query({
            tenantId: t,
            since: new Date(base + SECOND),
            until: new Date(base + 3 * SECOND),
            limit: 100,
          }),
        ),
        [2, 1],
        'since inclusive, until exclusive',
      );
      assert.deepEqual(ids(await stores.securityEvents.query({ tenantId: t, limit: 2 })), [3, 2], 'the newest two');
      assert.deepEqual(
        ids(await stores.securityEvents.query({ tenantId: t, userId: 'u1', types: ['failed_login'], ip: '203.0.113.1', limit: 100 })),
        [0],
        'filters combine',
      );
      assert.deepEqual(await stores.securityEvents.query({ tenantId: t, userId: 'nobody', limit: 100 }), []);
    });

    it('deleteBefore removes strictly older events and answers how many', async () => {
      const t = uid('retention');
      const base = Date.parse('1999-01-01T00:00:00.000Z');
      for (let i = 0; i < 5; i++) await stores.securityEvents.append({ at: new Date(base + i * HOUR), tenantId: t, type: 'success_login' });
      assert.equal(await stores.securityEvents.deleteBefore(new Date(base + 2 * HOUR)), 2);
      const left = await stores.securityEvents.query({ tenantId: t, limit: 10 });
      assert.deepEqual(
        left.map((e) => e.at.getTime()),
        [4, 3, 2].map((i) => base + i * HOUR),
        'an event at exactly the cutoff stays',
      );
      assert.equal(await stores.securityEvents.deleteBefore(new Date(base + 2 * HOUR)), 0);
    });
  });

  describe('MFA', () => {
    it('authenticators: add, list, remove one (only the owner; the last takes the recovery code), remove all (with the pending enrolment and the recovery code)', async () => {
      const userId = randomUUID();
      const otherUser = randomUUID();
      const otp = {
        id: uid('otp'),
        tenantId,
        userId,
        type: 'otp' as const,
        secretSealed: 'v1.sealed-secret',
        email: null,
        createdAt: at(1),
      };
      const email = {
        id: uid('email'),
        tenantId,
        userId,
        type: 'email' as const,
        secretSealed: null,
        email: 'alice@acme.test',
        createdAt: at(2),
      };
      const theirs = { ...otp, id: uid('otp'), userId: otherUser };
      for (const a of [email, otp, theirs]) await stores.mfa.addAuthenticator(a);

      const byId = (list: Array<{ id: string }>) => [...list].sort((a, b) => a.id.localeCompare(b.id));
      assert.deepEqual(byId(await stores.mfa.listAuthenticators(tenantId, userId)), byId([otp, email]));
      assert.deepEqual(await stores.mfa.listAuthenticators(otherTenantId, userId), [], 'scoped to the tenant');

      await stores.mfa.setRecoveryCodeHash(tenantId, userId, 'rc-1');
      assert.equal(await stores.mfa.removeAuthenticator(tenantId, userId, theirs.id), false, 'not theirs');
      assert.equal((await stores.mfa.listAuthenticators(tenantId, otherUser)).length, 1);
      assert.equal(await stores.mfa.removeAuthenticator(tenantId, userId, email.id), true);
      assert.equal(await stores.mfa.removeAuthenticator(tenantId, userId, email.id), false, 'already gone');
      assert.deepEqual(
        (await stores.mfa.listAuthenticators(tenantId, userId)).map((a) => a.id),
        [otp.id],
      );
      assert.equal(await stores.mfa.recoveryCodeHash(tenantId, userId), 'rc-1', 'a factor is left: the recovery code stays');
      assert.equal(await stores.mfa.removeAuthenticator(tenantId, userId, otp.id), true);
      assert.equal(await stores.mfa.recoveryCodeHash(tenantId, userId), undefined, 'the last factor takes the recovery code with it');

      await stores.mfa.addAuthenticator(otp);
      await stores.mfa.setRecoveryCodeHash(tenantId, userId, 'rc-2');
      await stores.mfa.setRecoveryCodeHash(tenantId, otherUser, 'rc-other');
      await stores.mfa.addAuthenticator({ ...email, id: uid('email') });
      await stores.mfa.putPendingEnrolment(pending(userId));
      assert.equal(await stores.mfa.removeAllAuthenticators(tenantId, userId), 2);
      assert.deepEqual(await stores.mfa.listAuthenticators(tenantId, userId), []);
      assert.equal(await stores.mfa.recoveryCodeHash(tenantId, userId), undefined, 'a reset takes the recovery code too');
      assert.equal(await stores.mfa.pendingEnrolment(tenantId, userId, at(0)), undefined, 'and the enrolment in progress');
      assert.equal(await stores.mfa.recoveryCodeHash(tenantId, otherUser), 'rc-other');
      assert.equal((await stores.mfa.listAuthenticators(tenantId, otherUser)).length, 1);
    });

    /** A pending OTP enrolment of `userId`, started by mfa_token `jti`, until `expiresAt`. */
    const pending = (userId: string, overrides: Partial<MfaPendingEnrolment> = {}): MfaPendingEnrolment => ({
      tenantId,
      userId,
      authenticatorId: uid('totp'),
      type: 'otp',
      secretSealed: 'v1.sealed-pending-secret',
      email: null,
      recoveryCodeHash: uid('rc-pending'),
      mfaTokenJti: uid('jti'),
      createdAt: at(0),
      expiresAt: at(10 * 60 * SECOND),
      ...overrides,
    });

    it('pending enrolment: one per user (a second put replaces the first), invisible once expired, purged by purgeExpired', async () => {
      const userId = randomUUID();
      const first = pending(userId);
      await stores.mfa.putPendingEnrolment(first);
      assert.deepEqual(await stores.mfa.pendingEnrolment(tenantId, userId, at(SECOND)), first);
      assert.equal(await stores.mfa.pendingEnrolment(otherTenantId, userId, at(SECOND)), undefined, 'scoped to the tenant');
      const second = pending(userId, { type: 'email', secretSealed: null, email: 'alice@acme.test', createdAt: at(SECOND) });
      await stores.mfa.putPendingEnrolment(second);
      assert.deepEqual(await stores.mfa.pendingEnrolment(tenantId, userId, at(2 * SECOND)), second, 'the newer one replaced it');
      assert.deepEqual(await stores.mfa.listAuthenticators(tenantId, userId), [], 'a pending enrolment is no factor');
      assert.equal(await stores.mfa.recoveryCodeHash(tenantId, userId), undefined, "nor is its recovery code the user's");
      assert.equal(await stores.mfa.pendingEnrolment(tenantId, userId, second.expiresAt), undefined, 'gone at its expiry');

      const racer = randomUUID();
      const raced = Array.from({ length: CONCURRENCY }, () => pending(racer));
      await Promise.all(raced.map((p) => stores.mfa.putPendingEnrolment(p)));
      const standing = await stores.mfa.pendingEnrolment(tenantId, racer, at(0));
      assert.ok(
        standing && raced.some((p) => p.authenticatorId === standing.authenticatorId),
        `${CONCURRENCY} racing associates leave exactly one enrolment`,
      );

      await stores.purgeExpired(at(10 * 60 * SECOND));
      assert.equal(
        await stores.mfa.pendingEnrolment(tenantId, userId, at(0)),
        undefined,
        'purged: even a clock before its expiry finds nothing',
      );
    });

    it(`pending enrolment: confirmation needs its own id, its mfa_token and time left; of ${CONCURRENCY} concurrent confirmations one wins; it becomes a factor with its recovery code`, async () => {
      const userId = randomUUID();
      const enrolment = pending(userId);
      await stores.mfa.putPendingEnrolment(enrolment);
      const confirm = (overrides: Partial<Parameters<Stores['mfa']['confirmPendingEnrolment']>[0]> = {}) =>
        stores.mfa.confirmPendingEnrolment({
          tenantId,
          userId,
          authenticatorId: enrolment.authenticatorId,
          mfaTokenJti: enrolment.mfaTokenJti,
          now: at(SECOND),
          lastUsedStep: 1000,
          ...overrides,
        });
      assert.deepEqual(await confirm({ mfaTokenJti: uid('another-sign-in') }), { kind: 'gone' }, 'another mfa_token');
      assert.deepEqual(await confirm({ authenticatorId: uid('totp') }), { kind: 'gone' }, 'a replaced enrolment');
      assert.deepEqual(await confirm({ now: enrolment.expiresAt }), { kind: 'gone' }, 'expired');
      assert.deepEqual(await stores.mfa.listAuthenticators(tenantId, userId), []);

      const results = await Promise.all(Array.from({ length: CONCURRENCY }, () => confirm()));
      const won = results.filter((r) => r.kind === 'confirmed');
      assert.equal(won.length, 1, JSON.stringify(results));
      assert.ok(
        results.every((r) => r.kind === 'confirmed' || r.kind === 'gone'),
        JSON.stringify(results),
      );
      const factor = {
        id: enrolment.authenticatorId,
        tenantId,
        userId,
        type: 'otp',
        secretSealed: enrolment.secretSealed,
        email: null,
        createdAt: at(SECOND),
      };
      assert.deepEqual(won[0], { kind: 'confirmed', authenticator: factor });
      assert.deepEqual(await stores.mfa.listAuthenticators(tenantId, userId), [factor]);
      assert.equal(await stores.mfa.recoveryCodeHash(tenantId, userId), enrolment.recoveryCodeHash, "its recovery code is now the user's");
      assert.equal(await stores.mfa.pendingEnrolment(tenantId, userId, at(SECOND)), undefined, 'no longer pending');
      assert.equal(await stores.mfa.advanceOtpStep(tenantId, factor.id, 1000), false, "the confirming code's step counts as used");
      assert.equal(await stores.mfa.advanceOtpStep(tenantId, factor.id, 1001), true);

      // A user who has a factor confirms no second one: the enrolment is dropped, nothing is added.
      const late = pending(userId);
      await stores.mfa.putPendingEnrolment(late);
      const refused = await stores.mfa.confirmPendingEnrolment({
        tenantId,
        userId,
        authenticatorId: late.authenticatorId,
        mfaTokenJti: late.mfaTokenJti,
        now: at(SECOND),
        lastUsedStep: null,
      });
      assert.deepEqual(refused, { kind: 'already_enrolled' });
      assert.deepEqual(
        (await stores.mfa.listAuthenticators(tenantId, userId)).map((a) => a.id),
        [factor.id],
      );
      assert.equal(await stores.mfa.recoveryCodeHash(tenantId, userId), enrolment.recoveryCodeHash, 'the recovery code is not replaced');
      assert.equal(await stores.mfa.pendingEnrolment(tenantId, userId, at(SECOND)), undefined, 'the dropped enrolment is gone');
    });

    it(`TOTP steps: advanceOtpStep accepts only a later step than the last; of ${CONCURRENCY} concurrent advances to one step one wins`, async () => {
      const userId = randomUUID();
      const otp = {
        id: uid('otp'),
        tenantId,
        userId,
        type: 'otp' as const,
        secretSealed: 'v1.sealed-secret',
        email: null,
        createdAt: at(0),
      };
      await stores.mfa.addAuthenticator(otp);
      assert.equal(await stores.mfa.advanceOtpStep(otherTenantId, otp.id, 59_000_000), false, 'scoped to the tenant');
      assert.equal(await stores.mfa.advanceOtpStep(tenantId, otp.id, 59_000_000), true, 'the first step');
      assert.equal(await stores.mfa.advanceOtpStep(tenantId, otp.id, 59_000_000), false, 'the same step again');
      assert.equal(await stores.mfa.advanceOtpStep(tenantId, otp.id, 58_999_999), false, 'an earlier step');
      const results = await Promise.all(Array.from({ length: CONCURRENCY }, () => stores.mfa.advanceOtpStep(tenantId, otp.id, 59_000_001)));
      assert.equal(results.filter(Boolean).length, 1, `${results.filter(Boolean).length} of ${CONCURRENCY} accepted the step`);
      assert.equal(await stores.mfa.advanceOtpStep(tenantId, uid('otp'), 59_000_002), false, 'an unknown factor');
    });

    it(`recovery code: set, replace is a compare-and-swap, and of ${CONCURRENCY} concurrent swaps of one code exactly one wins`, async () => {
      const userId = randomUUID();
      assert.equal(await stores.mfa.recoveryCodeHash(tenantId, userId), undefined);
      await stores.mfa.setRecoveryCodeHash(tenantId, userId, 'rc-1');
      await stores.mfa.setRecoveryCodeHash(tenantId, userId, 'rc-2');
      assert.equal(await stores.mfa.recoveryCodeHash(tenantId, userId), 'rc-2', 'set replaces');
      assert.equal(await stores.mfa.recoveryCodeHash(otherTenantId, userId), undefined);
      assert.equal(await stores.mfa.replaceRecoveryCodeHash(tenantId, userId, 'rc-1', 'rc-x'), false, 'a stale code');
      assert.equal(await stores.mfa.recoveryCodeHash(tenantId, userId), 'rc-2');

      const results = await Promise.all(
        Array.from({ length: CONCURRENCY }, (_, i) => stores.mfa.replaceRecoveryCodeHash(tenantId, userId, 'rc-2', `rc-next-${i}`)),
      );
      assert.equal(results.filter(Boolean).length, 1, `${results.filter(Boolean).length} of ${CONCURRENCY} spent the code`);
      assert.equal(await stores.mfa.recoveryCodeHash(tenantId, userId), `rc-next-${results.indexOf(true)}`);

      await stores.mfa.setRecoveryCodeHash(tenantId, userId, null);
      assert.equal(await stores.mfa.recoveryCodeHash(tenantId, userId), undefined);
      assert.equal(
        await stores.mfa.replaceRecoveryCodeHash(tenantId, userId, `rc-next-${results.indexOf(true)}`, 'rc-y'),
        false,
        'nothing to swap',
      );
      assert.equal(await stores.mfa.recoveryCodeHash(tenantId, userId), undefined);
    });

    it(`recovery code: ${CONCURRENCY} concurrent sets for one user (two nodes enrolling at once) all succeed and one code stands`, async () => {
      const userId = randomUUID();
      const codes = Array.from({ length: CONCURRENCY }, (_, i) => `rc-set-${i}`);
      await Promise.all(codes.map((code) => stores.mfa.setRecoveryCodeHash(tenantId, userId, code)));
      const standing = await stores.mfa.recoveryCodeHash(tenantId, userId);
      assert.ok(standing !== undefined && codes.includes(standing), `one of the codes stands (got ${String(standing)})`);
    });
  });
}

const execFileAsync = promisify(execFile);

describe('store conformance: SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-stores-'));
  const path = join(dir, 'stores.db');
  after(() => rmSync(dir, { recursive: true, force: true }));

  storeConformance(
    async () => {
      const { db } = openDatabase(`sqlite:${path}`);
      await migrateToLatest(db);
      const stores = createSqlStores(db);
      return {
        stores,
        // Every byte of the file and its write-ahead log.
        rawContent: async () =>
          [path, `${path}-wal`]
            .map((p) => {
              try {
                return readFileSync(p).toString('latin1');
              } catch {
                return '';
              }
            })
            .join('\n'),
        close: () => stores.close(),
      };
    },
    { rawContentSkip: false },
  );
});

const pgDumpMissing = spawnSync('pg_dump', ['--version']).error !== undefined;

describe('store conformance: PostgreSQL', { skip: postgresSkip('store conformance: PostgreSQL') }, () => {
  storeConformance(
    async () => {
      const scratch = await createScratchDatabase(TEST_DATABASE_URL);
      try {
        const { db } = openDatabase(scratch.url);
        await migrateToLatest(db);
        const stores = createSqlStores(db);
        return {
          stores,
          rawContent: async () => (await execFileAsync('pg_dump', ['--data-only', scratch.url], { maxBuffer: 256 * 1024 * 1024 })).stdout,
          async close() {
            try {
              await stores.close();
            } finally {
              await scratch.drop();
            }
          },
        };
      } catch (err) {
        await scratch.drop();
        throw err;
      }
    },
    { rawContentSkip: pgDumpMissing ? 'pg_dump is not installed: the at-rest check reads a data dump of the scratch database' : false },
  );
});
