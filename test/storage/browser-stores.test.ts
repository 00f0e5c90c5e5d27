/**
 * Issue #14: the browser sign-in's stores (src/storage/browser-stores.ts,
 * DESIGN.md §7) have one SQL implementation for SQLite and PostgreSQL. One
 * suite, written against the store interfaces (SQL only to read the raw
 * rows), runs on a fresh SQLite file and on a scratch PostgreSQL database
 * (when LATCHKEY_TEST_DATABASE_URL names one; otherwise skipped, with the
 * reason printed), as test/storage/store-conformance.test.ts does.
 *
 * What the code grant, the pages and the device grant rely on: an
 * authorization code is spent once however many redemptions race, and
 * every later one learns what the first issued (RFC 6749 §4.1.2: to revoke
 * it); a browser session is found only in its tenant and inside both its
 * idle and absolute lifetimes, its idle expiry only moves forward and never
 * past the absolute one, and all of a user's sessions end at once; a user
 * code is taken by at most one live device code per tenant, however many
 * nodes draw it at once; a poll returns the previous poll's instant and
 * `slow_down` adds 5 s to the interval (RFC 8628 §3.5); a device code is
 * decided once, only while pending and unexpired, and redeemed once;
 * instants come back to the millisecond; only the hashes the callers give
 * are stored. Time is always passed in (`now`), never waited for.
 */
import assert from 'node:assert/strict';
import { createHash, randomInt, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import type { AuthorizationCodeRecord, BrowserSessionRecord, DeviceCodeRecord, IssuedForCode } from '../../src/storage/browser-stores.js';
import type { Database } from '../../src/storage/schema.js';
import type { Stores } from '../../src/storage/stores.js';
import { scratchPostgresStores, sqliteStores } from '../helpers/migrated-stores.js';
import { postgresSkip } from '../helpers/postgres.js';

interface Subject {
  stores: Stores;
  /** The same database, to read the rows as stored. */
  db: Kysely<Database>;
  close(): Promise<void>;
}

/** A fixed, millisecond-precise origin: every instant in this suite is explicit. */
const T0 = Date.parse('2031-03-04T05:06:07.089Z');
const at = (offsetMs: number): Date => new Date(T0 + offsetMs);
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const CONCURRENCY = 20;

const uid = (prefix: string): string => `${prefix}-${randomUUID()}`;
/** What the callers store: SHA-256, base64url. */
const sha256 = (value: string): string => createHash('sha256').update(value).digest('base64url');
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
/** A fresh normalised user code (the suite shares one database: no two tests draw the same one by accident). */
const userCode = (): string => Array.from({ length: 8 }, () => USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)]).join('');

function browserStores(open: () => Promise<Subject>): void {
  let subject: Subject;
  let stores: Stores;
  const tenantId = uid('tenant');
  const otherTenantId = uid('tenant');

  before(async () => {
    subject = await open();
    stores = subject.stores;
  });
  after(async () => {
    await subject?.close();
  });

  const code = (overrides: Partial<AuthorizationCodeRecord> = {}): AuthorizationCodeRecord => ({
    codeHash: sha256(uid('code')),
    tenantId,
    clientId: 'web',
    redirectUri: 'https://app.acme.test/callback?x=1',
    codeChallenge: sha256(uid('verifier')),
    userId: randomUUID(),
    grant: JSON.stringify({ scope: ['openid', 'profile'], audience: 'https://api.acme.test', nonce: 'n-1', amr: ['pwd'] }),
    createdAt: at(0),
    expiresAt: at(MINUTE),
    ...overrides,
  });

  const issued = (i: number): IssuedForCode => ({
    refreshFamilyId: i % 2 === 0 ? null : `family-${i}`,
    accessTokenJti: `jti-${i}`,
    accessTokenExpiresAt: at(HOUR + i),
  });

  const session = (overrides: Partial<BrowserSessionRecord> = {}): BrowserSessionRecord => ({
    idHash: sha256(uid('session')),
    tenantId,
    userId: randomUUID(),
    authTime: at(-3),
    amr: ['pwd', 'otp', 'mfa'],
    createdAt: at(0),
    idleExpiresAt: at(HOUR),
    expiresAt: at(8 * HOUR),
    ...overrides,
  });

  const device = (overrides: Partial<DeviceCodeRecord> = {}): DeviceCodeRecord => ({
    id: randomUUID(),
    deviceCodeHash: sha256(uid('device')),
    userCode: userCode(),
    tenantId,
    clientId: 'tv',
    scope: ['openid', 'offline_access', 'read:sample'],
    audience: 'https://api.acme.test',
    requestIp: '198.51.100.7',
    requestUserAgent: 'Living-room TV/1.0',
    createdAt: at(0),
    expiresAt: at(15 * MINUTE),
    interval: 5,
    lastPolledAt: null,
    status: 'pending',
    userId: null,
    grant: null,
    ...overrides,
  });

  describe('authorization codes', () => {
    it(`of ${CONCURRENCY} concurrent redemptions of one code exactly one redeems it; every other one is replayed with the first's issued tokens`, async () => {
      const record = code();
      await stores.authorizationCodes.create(record);
      const results = await Promise.all(
        Array.from({ length: CONCURRENCY }, (_, i) => stores.authorizationCodes.redeem(record.codeHash, issued(i), at(SECOND))),
      );
      const winners = results.flatMap((r, i) => (r.kind === 'redeemed' ? [i] : []));
      assert.equal(winners.length, 1, `${winners.length} of ${CONCURRENCY} redeemed the code`);
      const first = issued(winners[0]!);
      for (const [i, result] of results.entries()) {
        if (i === winners[0]) {
          assert.deepEqual(result, { kind: 'redeemed', code: record });
        } else {
          assert.deepEqual(result, { kind: 'replayed', code: record, issued: first }, `redemption ${i}`);
        }
      }
      // Later still, the same answer.
      assert.deepEqual(await stores.authorizationCodes.redeem(record.codeHash, issued(99), at(HOUR)), {
        kind: 'replayed',
        code: record,
        issued: first,
      });
    });

    it('an unknown code is unknown', async () => {
      assert.deepEqual(await stores.authorizationCodes.redeem(sha256(uid('never-issued')), issued(1), at(0)), { kind: 'unknown' });
    });

    it('instants round-trip to the millisecond; an expired code is still redeemed once (the caller checks the expiry)', async () => {
      const record = code({ createdAt: at(1), expiresAt: at(59_999) });
      await stores.authorizationCodes.create(record);
      const late = await stores.authorizationCodes.redeem(record.codeHash, issued(3), at(10 * MINUTE));
      assert.deepEqual(late, { kind: 'redeemed', code: record });
      assert.equal(late.kind === 'redeemed' && late.code.expiresAt.toISOString(), '2031-03-04T05:07:07.088Z');
      const replay = await stores.authorizationCodes.redeem(record.codeHash, issued(4), at(11 * MINUTE));
      assert.ok(replay.kind === 'replayed');
      assert.equal(replay.issued.accessTokenExpiresAt.getTime(), T0 + HOUR + 3);
      assert.equal(replay.issued.refreshFamilyId, 'family-3');
      const noFamily = code();
      await stores.authorizationCodes.create(noFamily);
      await stores.authorizationCodes.redeem(noFamily.codeHash, issued(2), at(0));
      const again = await stores.authorizationCodes.redeem(noFamily.codeHash, issued(5), at(0));
      assert.ok(again.kind === 'replayed');
      assert.equal(again.issued.refreshFamilyId, null, 'no refresh token issued: null, not a string');
    });
  });

  describe('browser sessions', () => {
    it('create, then find: to the millisecond, inside the idle and the absolute lifetime, in its tenant only', async () => {
      const s = session({ authTime: at(-1), createdAt: at(1), idleExpiresAt: at(HOUR + 1), expiresAt: at(8 * HOUR + 1) });
      await stores.browserSessions.create(s);
      assert.deepEqual(await stores.browserSessions.find(tenantId, s.idHash, at(0)), s);
      assert.deepEqual(await stores.browserSessions.find(tenantId, s.idHash, at(HOUR)), s, 'a millisecond before the idle expiry');
      assert.equal(await stores.browserSessions.find(tenantId, s.idHash, at(HOUR + 1)), undefined, 'at the idle expiry');
      assert.equal(await stores.browserSessions.find(otherTenantId, s.idHash, at(0)), undefined, "another tenant's cookie");
      assert.equal(await stores.browserSessions.find(tenantId, sha256(uid('unknown')), at(0)), undefined);

      // The absolute expiry is checked on its own (an idle expiry past it, which touch never writes, does not extend it).
      const capped = session({ idleExpiresAt: at(10 * HOUR), expiresAt: at(8 * HOUR) });
      await stores.browserSessions.create(capped);
      assert.ok(await stores.browserSessions.find(tenantId, capped.idHash, at(8 * HOUR - 1)));
      assert.equal(await stores.browserSessions.find(tenantId, capped.idHash, at(8 * HOUR)), undefined, 'at the absolute expiry');
    });

    it('touch moves the idle expiry forward, never back and never past the absolute expiry', async () => {
      const s = session({ idleExpiresAt: at(HOUR), expiresAt: at(3 * HOUR) });
      await stores.browserSessions.create(s);
      assert.equal(await stores.browserSessions.find(tenantId, s.idHash, at(90 * MINUTE)), undefined, 'idle before the touch');
      await stores.browserSessions.touch(s.idHash, at(2 * HOUR));
      assert.equal((await stores.browserSessions.find(tenantId, s.idHash, at(90 * MINUTE)))?.idleExpiresAt.getTime(), T0 + 2 * HOUR);
      await stores.browserSessions.touch(s.idHash, at(HOUR + 30 * MINUTE));
      assert.equal(
        (await stores.browserSessions.find(tenantId, s.idHash, at(90 * MINUTE)))?.idleExpiresAt.getTime(),
        T0 + 2 * HOUR,
        'a touch that arrives late does not move it back',
      );
      await stores.browserSessions.touch(s.idHash, at(5 * HOUR));
      const capped = await stores.browserSessions.find(tenantId, s.idHash, at(150 * MINUTE));
      assert.equal(capped?.idleExpiresAt.getTime(), T0 + 3 * HOUR, 'capped at the absolute expiry');
      assert.equal(capped?.expiresAt.getTime(), T0 + 3 * HOUR, 'the absolute expiry does not move');
      assert.equal(await stores.browserSessions.find(tenantId, s.idHash, at(3 * HOUR)), undefined);
      await stores.browserSessions.touch(sha256(uid('unknown')), at(2 * HOUR)); // nothing to touch: no error
    });

    it('delete ends one session; deleteAllForUser ends every session of the user in the tenant and counts them', async () => {
      const userId = randomUUID();
      const mine = [session({ userId }), session({ userId }), session({ userId })];
      const othersUser = session();
      const otherTenant = session({ userId, tenantId: otherTenantId });
      for (const s of [...mine, othersUser, otherTenant]) await stores.browserSessions.create(s);

      await stores.browserSessions.delete(mine[0]!.idHash);
      assert.equal(await stores.browserSessions.find(tenantId, mine[0]!.idHash, at(0)), undefined, 'deleted');
      assert.ok(await stores.browserSessions.find(tenantId, mine[1]!.idHash, at(0)), 'the others are kept');
      await stores.browserSessions.delete(mine[0]!.idHash); // again: nothing to delete, no error

      assert.equal(await stores.browserSessions.deleteAllForUser(tenantId, userId), 2);
      for (const s of mine) assert.equal(await stores.browserSessions.find(tenantId, s.idHash, at(0)), undefined);
      assert.ok(await stores.browserSessions.find(tenantId, othersUser.idHash, at(0)), "another user's session is kept");
      assert.ok(await stores.browserSessions.find(otherTenantId, otherTenant.idHash, at(0)), 'the same user id in another tenant is kept');
      assert.equal(await stores.browserSessions.deleteAllForUser(tenantId, userId), 0);
    });
  });

  describe('device codes', () => {
    it('create, then findById: every field to the millisecond, in its tenant only', async () => {
      const full = device({ createdAt: at(1), expiresAt: at(15 * MINUTE - 1), lastPolledAt: at(7) });
      const sparse = device({ audience: null, requestUserAgent: null, scope: [] });
      assert.equal(await stores.deviceCodes.create(full), true);
      assert.equal(await stores.deviceCodes.create(sparse), true);
      assert.deepEqual(await stores.deviceCodes.findById(tenantId, full.id), full);
      assert.deepEqual(await stores.deviceCodes.findById(tenantId, sparse.id), sparse);
      assert.equal(await stores.deviceCodes.findById(otherTenantId, full.id), undefined);
      assert.equal(await stores.deviceCodes.findById(tenantId, randomUUID()), undefined);
    });

    it('a user code held by a live code (pending or approved, unexpired) is refused; an expired, denied or redeemed holder frees it', async () => {
      const pending = device();
      assert.equal(await stores.deviceCodes.create(pending), true);
      assert.equal(await stores.deviceCodes.create(device({ userCode: pending.userCode })), false, 'a pending holder');
      assert.equal(
        await stores.deviceCodes.create(device({ userCode: pending.userCode, tenantId: otherTenantId })),
        true,
        'another tenant',
      );

      const approved = device();
      await stores.deviceCodes.create(approved);
      assert.equal(await stores.deviceCodes.decide(tenantId, approved.id, { status: 'approved', userId: 'u', grant: '{}' }, at(0)), true);
      assert.equal(
        await stores.deviceCodes.create(device({ userCode: approved.userCode, createdAt: at(MINUTE) })),
        false,
        'an approved holder',
      );
      const afterExpiry = device({ userCode: approved.userCode, createdAt: approved.expiresAt, expiresAt: at(30 * MINUTE) });
      assert.equal(await stores.deviceCodes.create(afterExpiry), true, 'an expired holder (even approved) frees it');
      assert.deepEqual(await stores.deviceCodes.findPendingByUserCode(tenantId, approved.userCode, at(16 * MINUTE)), afterExpiry);

      const denied = device();
      await stores.deviceCodes.create(denied);
      await stores.deviceCodes.decide(tenantId, denied.id, { status: 'denied' }, at(0));
      assert.equal(await stores.deviceCodes.create(device({ userCode: denied.userCode })), true, 'a denied holder');

      const redeemed = device();
      await stores.deviceCodes.create(redeemed);
      await stores.deviceCodes.decide(tenantId, redeemed.id, { status: 'approved', userId: 'u', grant: '{}' }, at(0));
      assert.equal(await stores.deviceCodes.redeem(tenantId, redeemed.id), true);
      assert.equal(await stores.deviceCodes.create(device({ userCode: redeemed.userCode })), true, 'a redeemed holder');
    });

    it(`of ${CONCURRENCY} devices drawing one user code at once exactly one gets it`, async () => {
      const shared = userCode();
      const drawn = Array.from({ length: CONCURRENCY }, () => device({ userCode: shared }));
      const results = await Promise.all(drawn.map((d) => stores.deviceCodes.create(d)));
      assert.equal(results.filter(Boolean).length, 1, `${results.filter(Boolean).length} of ${CONCURRENCY} got the user code`);
      assert.deepEqual(await stores.deviceCodes.findPendingByUserCode(tenantId, shared, at(0)), drawn[results.indexOf(true)]);
    });

    it('findPendingByUserCode finds only a pending, unexpired code of the tenant', async () => {
      const d = device();
      await stores.deviceCodes.create(d);
      assert.deepEqual(await stores.deviceCodes.findPendingByUserCode(tenantId, d.userCode, at(15 * MINUTE - 1)), d);
      assert.equal(await stores.deviceCodes.findPendingByUserCode(tenantId, d.userCode, at(15 * MINUTE)), undefined, 'expired');
      assert.equal(await stores.deviceCodes.findPendingByUserCode(otherTenantId, d.userCode, at(0)), undefined, 'another tenant');
      assert.equal(await stores.deviceCodes.findPendingByUserCode(tenantId, userCode(), at(0)), undefined, 'unknown');

      const approved = device();
      await stores.deviceCodes.create(approved);
      await stores.deviceCodes.decide(tenantId, approved.id, { status: 'approved', userId: 'u', grant: '{}' }, at(0));
      assert.equal(await stores.deviceCodes.findPendingByUserCode(tenantId, approved.userCode, at(0)), undefined, 'approved');
      const denied = device();
      await stores.deviceCodes.create(denied);
      await stores.deviceCodes.decide(tenantId, denied.id, { status: 'denied' }, at(0));
      assert.equal(await stores.deviceCodes.findPendingByUserCode(tenantId, denied.userCode, at(0)), undefined, 'denied');
    });

    it('poll returns the record as it was before this poll; slowDown adds 5 s to the interval', async () => {
      const d = device();
      await stores.deviceCodes.create(d);
      assert.equal(await stores.deviceCodes.poll(tenantId, sha256(uid('unknown')), at(0), false), undefined, 'unknown');
      assert.equal(await stores.deviceCodes.poll(otherTenantId, d.deviceCodeHash, at(0), false), undefined, 'another tenant');

      const first = await stores.deviceCodes.poll(tenantId, d.deviceCodeHash, at(5 * SECOND + 1), false);
      assert.deepEqual(first, { record: d }, 'the first poll: no previous one');
      const second = await stores.deviceCodes.poll(tenantId, d.deviceCodeHash, at(6 * SECOND), true);
      assert.equal(second?.record.lastPolledAt?.getTime(), T0 + 5 * SECOND + 1, 'the previous poll, to the millisecond');
      assert.equal(second?.record.interval, 5, 'as before this slow poll');
      const third = await stores.deviceCodes.poll(tenantId, d.deviceCodeHash, at(20 * SECOND), false);
      assert.equal(third?.record.lastPolledAt?.getTime(), T0 + 6 * SECOND);
      assert.equal(third?.record.interval, 10, 'slow_down added 5 s');
      const fourth = await stores.deviceCodes.poll(tenantId, d.deviceCodeHash, at(21 * SECOND), true);
      assert.equal(fourth?.record.interval, 10, 'a poll without slowDown kept it');
      assert.equal((await stores.deviceCodes.findById(tenantId, d.id))?.interval, 15);
      assert.equal((await stores.deviceCodes.findById(tenantId, d.id))?.lastPolledAt?.getTime(), T0 + 21 * SECOND);
    });

    it('decide: only from pending, only before the expiry, in its tenant; approval records the user and the grant', async () => {
      const d = device();
      await stores.deviceCodes.create(d);
      const approval = { status: 'approved' as const, userId: 'user-1', grant: JSON.stringify({ scope: ['openid'] }) };
      assert.equal(await stores.deviceCodes.decide(tenantId, d.id, approval, d.expiresAt), false, 'at the expiry');
      assert.equal(await stores.deviceCodes.decide(otherTenantId, d.id, approval, at(0)), false, 'another tenant');
      assert.equal(await stores.deviceCodes.decide(tenantId, randomUUID(), approval, at(0)), false, 'unknown');
      assert.equal(await stores.deviceCodes.decide(tenantId, d.id, approval, at(15 * MINUTE - 1)), true);
      assert.deepEqual(await stores.deviceCodes.findById(tenantId, d.id), {
        ...d,
        status: 'approved',
        userId: 'user-1',
        grant: approval.grant,
      });
      assert.equal(await stores.deviceCodes.decide(tenantId, d.id, { status: 'denied' }, at(0)), false, 'no longer pending');
      assert.equal((await stores.deviceCodes.findById(tenantId, d.id))?.status, 'approved');

      const denied = device();
      await stores.deviceCodes.create(denied);
      assert.equal(await stores.deviceCodes.decide(tenantId, denied.id, { status: 'denied' }, at(0)), true);
      assert.deepEqual(await stores.deviceCodes.findById(tenantId, denied.id), { ...denied, status: 'denied' });
      assert.equal(await stores.deviceCodes.decide(tenantId, denied.id, approval, at(0)), false, 'a denial is final');
    });

    it(`of ${CONCURRENCY} concurrent decisions on one code exactly one wins, and the record is the winner's`, async () => {
      const d = device();
      await stores.deviceCodes.create(d);
      const decisions = Array.from({ length: CONCURRENCY }, (_, i) =>
        i % 4 === 3 ? { status: 'denied' as const } : { status: 'approved' as const, userId: `user-${i}`, grant: `{"n":${i}}` },
      );
      const results = await Promise.all(decisions.map((decision) => stores.deviceCodes.decide(tenantId, d.id, decision, at(SECOND))));
      assert.equal(results.filter(Boolean).length, 1, `${results.filter(Boolean).length} of ${CONCURRENCY} decided`);
      const winner = decisions[results.indexOf(true)]!;
      const stored = await stores.deviceCodes.findById(tenantId, d.id);
      assert.equal(stored?.status, winner.status);
      assert.equal(stored?.userId, winner.status === 'approved' ? winner.userId : null);
      assert.equal(stored?.grant, winner.status === 'approved' ? winner.grant : null);
    });

    it(`redeem: only an approved code, once, however many polls race (${CONCURRENCY})`, async () => {
      const d = device();
      await stores.deviceCodes.create(d);
      assert.equal(await stores.deviceCodes.redeem(tenantId, d.id), false, 'pending');
      await stores.deviceCodes.decide(tenantId, d.id, { status: 'approved', userId: 'u', grant: '{}' }, at(0));
      assert.equal(await stores.deviceCodes.redeem(otherTenantId, d.id), false, 'another tenant');
      const results = await Promise.all(Array.from({ length: CONCURRENCY }, () => stores.deviceCodes.redeem(tenantId, d.id)));
      assert.equal(results.filter(Boolean).length, 1, `${results.filter(Boolean).length} of ${CONCURRENCY} redeemed`);
      assert.equal((await stores.deviceCodes.findById(tenantId, d.id))?.status, 'redeemed');
      assert.equal(await stores.deviceCodes.redeem(tenantId, d.id), false, 'again');

      const denied = device();
      await stores.deviceCodes.create(denied);
      await stores.deviceCodes.decide(tenantId, denied.id, { status: 'denied' }, at(0));
      assert.equal(await stores.deviceCodes.redeem(tenantId, denied.id), false, 'denied');
    });
  });

  it('at rest: the codes and the session id are stored only as the hashes the callers give', async () => {
    const plain = { code: uid('plain-code'), session: uid('plain-session'), device: uid('plain-device') };
    const c = code({ codeHash: sha256(plain.code) });
    const s = session({ idHash: sha256(plain.session) });
    const d = device({ deviceCodeHash: sha256(plain.device) });
    await stores.authorizationCodes.create(c);
    await stores.authorizationCodes.redeem(c.codeHash, issued(1), at(0));
    await stores.browserSessions.create(s);
    await stores.deviceCodes.create(d);
    await stores.deviceCodes.poll(tenantId, d.deviceCodeHash, at(0), true);

    const codeRow = await subject.db.selectFrom('authorization_codes').selectAll().where('code_hash', '=', c.codeHash).executeTakeFirst();
    const sessionRow = await subject.db.selectFrom('browser_sessions').selectAll().where('id_hash', '=', s.idHash).executeTakeFirst();
    const deviceRow = await subject.db.selectFrom('device_codes').selectAll().where('id', '=', d.id).executeTakeFirst();
    assert.equal(codeRow?.code_hash, sha256(plain.code), 'the code hash, as given');
    assert.equal(sessionRow?.id_hash, sha256(plain.session), 'the session id hash, as given');
    assert.equal(deviceRow?.device_code_hash, sha256(plain.device), 'the device code hash, as given');
    const everything = JSON.stringify(
      await Promise.all([
        subject.db.selectFrom('authorization_codes').selectAll().execute(),
        subject.db.selectFrom('browser_sessions').selectAll().execute(),
        subject.db.selectFrom('device_codes').selectAll().execute(),
      ]),
    );
    for (const [what, value] of Object.entries(plain)) assert.ok(!everything.includes(value), `the plain ${what} is stored`);
  });

  it('purgeExpired: codes a day past their expiry, sessions past either expiry; the rest is kept', async () => {
    // Far after every other test's instants: this purge deletes their rows too, which is why it runs last.
    const base = 1000 * DAY;
    const recent = code({ expiresAt: at(base - DAY + 1) });
    const old = code({ expiresAt: at(base - DAY) });
    const recentDevice = device({ createdAt: at(base - DAY), expiresAt: at(base - DAY + 1) });
    const oldDevice = device({ createdAt: at(base - 2 * DAY), expiresAt: at(base - DAY) });
    const live = session({ createdAt: at(base - HOUR), idleExpiresAt: at(base + 1), expiresAt: at(base + HOUR) });
    const idle = session({ createdAt: at(base - HOUR), idleExpiresAt: at(base), expiresAt: at(base + HOUR) });
    const ended = session({ createdAt: at(base - HOUR), idleExpiresAt: at(base + 1), expiresAt: at(base) });
    for (const c of [recent, old]) await stores.authorizationCodes.create(c);
    for (const d of [recentDevice, oldDevice]) await stores.deviceCodes.create(d);
    for (const s of [live, idle, ended]) await stores.browserSessions.create(s);
    await stores.authorizationCodes.redeem(recent.codeHash, issued(1), at(base - DAY));

    await stores.purgeExpired(at(base));

    const replay = await stores.authorizationCodes.redeem(recent.codeHash, issued(2), at(base));
    assert.equal(replay.kind, 'replayed', 'a code expired less than a day ago is kept: a replay still revokes what it issued');
    assert.deepEqual(await stores.authorizationCodes.redeem(old.codeHash, issued(3), at(base)), { kind: 'unknown' }, 'a day past expiry');
    assert.ok(await stores.deviceCodes.findById(tenantId, recentDevice.id), 'a device code expired less than a day ago is kept');
    assert.equal(await stores.deviceCodes.findById(tenantId, oldDevice.id), undefined, 'a device code a day past expiry');
    const left = await subject.db
      .selectFrom('browser_sessions')
      .select('id_hash')
      .where('id_hash', 'in', [live.idHash, idle.idHash, ended.idHash])
      .execute();
    assert.deepEqual(
      left.map((r) => r.id_hash),
      [live.idHash],
      'the idle and the ended sessions are purged',
    );
  });
}

describe('browser sign-in stores: SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-browser-stores-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  browserStores(() => sqliteStores(join(dir, 'stores.db')));
});

describe('browser sign-in stores: PostgreSQL', { skip: postgresSkip('browser sign-in stores: PostgreSQL') }, () => {
  browserStores(scratchPostgresStores);
});
