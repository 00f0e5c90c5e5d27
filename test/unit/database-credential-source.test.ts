/**
 * The database credential source on a real SQLite file: an unknown user
 * costs exactly one password verification, like a known one (no user
 * enumeration by timing); outdated hashes are upgraded after a login.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { HashQueue } from '../../src/identity/hash-queue.js';
import { DatabaseCredentialSource } from '../../src/identity/sources/database.js';
import { migrateToLatest, openDatabase } from '../../src/storage/database.js';
import { createSqlStores } from '../../src/storage/sql/index.js';
import type { Stores } from '../../src/storage/stores.js';

class CountingQueue extends HashQueue {
  jobs = 0;
  override run<T>(work: () => Promise<T>): Promise<T> {
    this.jobs++;
    return super.run(work);
  }
}

describe('DatabaseCredentialSource', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-source-'));
  let stores: Stores;
  let tenantId: string;
  let connectionId: string;
  before(async () => {
    const { db } = openDatabase(`sqlite:${join(dir, 'l.db')}`);
    await migrateToLatest(db);
    stores = createSqlStores(db);
    tenantId = await stores.catalog.upsertTenant('t', { id_token_signing_alg: 'RS256', id_token_lifetime: 60 });
    connectionId = await stores.catalog.upsertConnection(tenantId, { name: 'db', type: 'database' });
    await stores.users.create({ tenantId, connectionId, username: 'imported', passwordHash: await bcryptHash('legacy password', 4) });
  });
  after(async () => {
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an unknown user runs exactly one verification, like a wrong password', async () => {
    const queue = new CountingQueue(2, 10);
    const source = await DatabaseCredentialSource.create(stores.users, queue, () => undefined);
    const unknown = await source.verify({ tenantId, connectionId, username: 'nobody', password: 'x' });
    assert.deepEqual(unknown, { outcome: 'rejected', reason: 'unknown_user' });
    assert.equal(queue.jobs, 1);
    const wrong = await source.verify({ tenantId, connectionId, username: 'imported', password: 'wrong' });
    assert.equal(wrong.outcome, 'rejected');
    assert.equal(wrong.outcome === 'rejected' && wrong.reason, 'wrong_password');
    assert.equal(wrong.outcome === 'rejected' && typeof wrong.userId, 'string', 'the user is named for security events');
    assert.equal(queue.jobs, 2);
  });

  it('a bcrypt user logs in and the hash is upgraded to argon2id afterwards', async () => {
    let upgradeError: unknown;
    const source = await DatabaseCredentialSource.create(stores.users, new HashQueue(2, 10), (err) => (upgradeError = err));
    const result = await source.verify({ tenantId, connectionId, username: 'imported', password: 'legacy password' });
    assert.equal(result.outcome, 'verified');
    // The upgrade runs after the login answered; wait for it by polling storage, bounded.
    let stored: string | null | undefined;
    for (let i = 0; i < 200 && !stored?.startsWith('$argon2id$'); i++) {
      await new Promise((r) => setTimeout(r, 10));
      stored = (await stores.users.findByLogin(tenantId, connectionId, 'imported'))?.passwordHash;
    }
    assert.equal(upgradeError, undefined);
    assert.match(stored ?? '', /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const again = await source.verify({ tenantId, connectionId, username: 'imported', password: 'legacy password' });
    assert.equal(again.outcome, 'verified');
  });
});
