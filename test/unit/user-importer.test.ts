/**
 * The row importer (identity/user-import.ts) on a real SQLite store: plain
 * passwords are hashed in parallel on the hash queue's background lane, never
 * more at once than its concurrency and never in a waiting place a sign-in
 * needs; the first refused rows are kept in file order whatever order the
 * workers finish in; a changed password and a new block under upsert end the
 * user's sessions through the account lifecycle, with the importer's source.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_PASSWORD_POLICY } from '../../src/config/schema.js';
import type { Tenant } from '../../src/domain/tenant.js';
import { HashQueue } from '../../src/identity/hash-queue.js';
import { UserImporter } from '../../src/identity/user-import.js';
import type { ConnectionRecord } from '../../src/storage/stores.js';
import { sqliteStores, type MigratedStores } from '../helpers/migrated-stores.js';

describe('UserImporter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-user-importer-'));
  let subject: MigratedStores;
  let target: { tenant: Tenant; connection: ConnectionRecord };
  const events: string[] = [];
  const accounts = {
    passwordChanged: async (_t: unknown, _c: unknown, user: { username: string }, _n: number, source: string) => {
      events.push(`password_changed ${user.username} ${source}`);
      return 0;
    },
    blocked: async (_t: unknown, _c: unknown, user: { username: string }, _n: number, source: string) => {
      events.push(`user_blocked ${user.username} ${source}`);
    },
    recordPolicyRefusal: async (_t: unknown, _c: unknown, identifier: string) => {
      events.push(`password_policy_refused ${identifier}`);
    },
  };

  /** A queue that records how much background work ran at once. */
  function observedQueue(concurrency: number) {
    const queue = new HashQueue(concurrency, 0);
    let running = 0;
    const observed = { peak: 0, calls: 0 };
    const runInBackground = <T>(work: () => Promise<T>) =>
      queue.runInBackground(async () => {
        observed.calls++;
        observed.peak = Math.max(observed.peak, ++running);
        try {
          return await work();
        } finally {
          running--;
        }
      });
    return { queue: { concurrency, runInBackground }, observed, inner: queue };
  }

  const importerWith = (hashQueue: { concurrency: number; runInBackground: HashQueue['runInBackground'] }) =>
    new UserImporter({
      users: subject.stores.users,
      refreshTokens: subject.stores.refreshTokens,
      accounts: accounts as never,
      hashQueue,
      clock: { now: () => new Date() },
    });

  before(async () => {
    subject = await sqliteStores(join(dir, 'stores.db'));
    const tenantId = await subject.stores.catalog.upsertTenant('acme', { default_directory: 'db' } as never);
    const connectionId = await subject.stores.catalog.upsertConnection(tenantId, { name: 'db', type: 'database' } as never);
    target = {
      tenant: { id: tenantId, name: 'acme' } as Tenant,
      connection: { id: connectionId, tenantId, name: 'db', type: 'database', passwordPolicy: { ...DEFAULT_PASSWORD_POLICY } },
    };
  });
  after(async () => {
    await subject?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('hashes plain passwords in parallel, at most the queue concurrency at once, on the background lane', async () => {
    const { queue, observed, inner } = observedQueue(3);
    const rows = Array.from({ length: 12 }, (_, i) => ({ username: `parallel-${i}`, password: 'a fine passphrase' }));
    const outcome = await importerWith(queue).importRows(target, rows, { upsert: false, source: 'cli' });
    assert.deepEqual(outcome.counts, { total: 12, inserted: 12, updated: 0, failed: 0 });
    assert.equal(observed.calls, 12);
    assert.equal(observed.peak, 3, 'three hashes at once: the concurrency, no more');
    // max_queue 0: any waiting place taken would have shed the work; the background lane takes none.
    assert.deepEqual(inner.stats, { running: 0, waiting: 0 });
    const user = await subject.stores.users.findByLogin(target.tenant.id, target.connection.id, 'parallel-7');
    assert.match(user?.passwordHash ?? '', /^\$argon2id\$/);
  });

  it('keeps the first refused rows in file order, at most maxReportedFailures, and counts them all', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? { username: `ok-${i}` } : { username: `bad ${i}` }));
    const outcome = await importerWith(observedQueue(4).queue).importRows(target, rows, {
      upsert: false,
      source: 'cli',
      maxReportedFailures: 5,
    });
    assert.deepEqual(outcome.counts, { total: 40, inserted: 20, updated: 0, failed: 20 });
    assert.deepEqual(
      outcome.failures.map((f) => f.index),
      [1, 3, 5, 7, 9],
    );
    assert.deepEqual(outcome.failures[0]?.user, { username: 'bad 1' });
  });

  it("upsert: a new password and a block end the user's sessions with the importer's source; the policy refuses a weak password", async () => {
    await importerWith(observedQueue(2).queue).importRows(target, [{ username: 'carol', password: 'first fine passphrase' }], {
      upsert: false,
      source: 'management_api',
    });
    events.length = 0;
    const outcome = await importerWith(observedQueue(2).queue).importRows(
      target,
      [
        { username: 'carol', password: 'second fine passphrase', blocked: true },
        { username: 'weak', password: 'short' },
      ],
      { upsert: true, source: 'management_api' },
    );
    assert.deepEqual(outcome.counts, { total: 2, inserted: 0, updated: 1, failed: 1 });
    assert.deepEqual(outcome.failures[0]?.errors, [
      { code: 'PASSWORD_POLICY', message: outcome.failures[0]?.errors[0]?.message, path: '[1].password' },
    ]);
    assert.match(outcome.failures[0]?.errors[0]?.message ?? '', /^password policy \(min_length\)/);
    assert.deepEqual(events.sort(), [
      'password_changed carol management_api',
      'password_policy_refused weak',
      'user_blocked carol management_api',
    ]);
    const carol = await subject.stores.users.findByLogin(target.tenant.id, target.connection.id, 'carol');
    assert.equal(carol?.blocked, true);
  });
});
