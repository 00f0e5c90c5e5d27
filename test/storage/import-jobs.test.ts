/**
 * Issue #15 point 4: the user-import jobs (src/storage/import-jobs.ts) have
 * one SQL implementation for SQLite and PostgreSQL; one suite runs on both
 * (PostgreSQL when LATCHKEY_TEST_DATABASE_URL names one).
 *
 * What the job runner and `GET /jobs/{id}` rely on: a job is found only in
 * its tenant, with its counts and errors as written; progress is written
 * only while the job is unfinished (a job failed as abandoned stays
 * failed and its runner hears `false`); start-up fails the unfinished jobs
 * whose heartbeat stopped, with a reason; the purge deletes finished jobs
 * a week after their last update. Time is passed in, never waited for.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ImportJobRecord } from '../../src/storage/import-jobs.js';
import { scratchPostgresStores, sqliteStores, type MigratedStores } from '../helpers/migrated-stores.js';
import { postgresSkip } from '../helpers/postgres.js';

const T0 = Date.parse('2031-03-04T05:06:07.089Z');
const at = (offsetMs: number): Date => new Date(T0 + offsetMs);
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

function importJobs(open: () => Promise<MigratedStores>): void {
  let subject: MigratedStores;
  before(async () => {
    subject = await open();
  });
  after(async () => {
    await subject?.close();
  });

  async function created(overrides: Partial<ImportJobRecord> = {}): Promise<ImportJobRecord> {
    const job: ImportJobRecord = {
      id: `job_${randomUUID()}`,
      tenantId: `t-${randomUUID()}`,
      connectionId: 'c-1',
      connectionName: 'Username-Password-Authentication',
      status: 'pending',
      upsert: true,
      externalId: 'migration-7',
      counts: { total: 3, inserted: 0, updated: 0, failed: 0 },
      errors: [],
      statusDetails: null,
      createdAt: at(0),
      updatedAt: at(0),
      ...overrides,
    };
    await subject.stores.importJobs.create(job);
    return job;
  }

  it('gives a job back as written, only in its tenant', async () => {
    const job = await created();
    assert.deepEqual(await subject.stores.importJobs.find(job.tenantId, job.id), job);
    assert.equal(await subject.stores.importJobs.find('another-tenant', job.id), undefined);
  });

  it('writes progress and the end while the job is unfinished, and nothing after', async () => {
    const job = await created();
    const errors = [
      { user: { email: 'x@example.com' }, errors: [{ code: 'INVALID_TYPE', message: '[1].blocked: …', path: '[1].blocked' }] },
    ];
    const counts = { total: 3, inserted: 1, updated: 0, failed: 1 };
    assert.equal(await subject.stores.importJobs.update(job.id, { status: 'processing', counts, errors, at: at(1000) }), true);
    const done = { total: 3, inserted: 2, updated: 0, failed: 1 };
    assert.equal(await subject.stores.importJobs.update(job.id, { status: 'completed', counts: done, errors, at: at(2000) }), true);
    assert.deepEqual(await subject.stores.importJobs.find(job.tenantId, job.id), {
      ...job,
      status: 'completed',
      counts: done,
      errors,
      updatedAt: at(2000),
    });
    assert.equal(
      await subject.stores.importJobs.update(job.id, { status: 'processing', counts, errors: [], at: at(3000) }),
      false,
      'a finished job is never written again',
    );
  });

  it('counts the unfinished jobs of a tenant', async () => {
    const tenantId = `t-${randomUUID()}`;
    await created({ tenantId });
    await created({ tenantId, status: 'processing' });
    await created({ tenantId, status: 'completed' });
    assert.equal(await subject.stores.importJobs.countUnfinished(tenantId), 2);
  });

  it('fails unfinished jobs whose heartbeat stopped, with the reason; the runner of such a job hears false', async () => {
    const stale = await created({ status: 'processing', updatedAt: at(0) });
    const live = await created({ status: 'processing', updatedAt: at(10 * MINUTE) });
    const finished = await created({ status: 'completed', updatedAt: at(0) });
    const failed = await subject.stores.importJobs.failStale(at(5 * MINUTE), 'the server stopped', at(11 * MINUTE));
    assert.ok(failed >= 1);
    const after = await subject.stores.importJobs.find(stale.tenantId, stale.id);
    assert.equal(after?.status, 'failed');
    assert.equal(after?.statusDetails, 'the server stopped');
    assert.equal((await subject.stores.importJobs.find(live.tenantId, live.id))?.status, 'processing');
    assert.equal((await subject.stores.importJobs.find(finished.tenantId, finished.id))?.status, 'completed');
    assert.equal(
      await subject.stores.importJobs.update(stale.id, { status: 'processing', counts: stale.counts, errors: [], at: at(12 * MINUTE) }),
      false,
    );
  });

  it('the purge deletes finished jobs a week after their last update, never unfinished ones', async () => {
    const finished = await created({ status: 'completed', updatedAt: at(0) });
    const running = await created({ status: 'processing', updatedAt: at(0) });
    await subject.stores.purgeExpired(at(6 * DAY));
    assert.ok(await subject.stores.importJobs.find(finished.tenantId, finished.id), 'kept within the week');
    await subject.stores.purgeExpired(at(7 * DAY + 1));
    assert.equal(await subject.stores.importJobs.find(finished.tenantId, finished.id), undefined, 'purged');
    assert.ok(await subject.stores.importJobs.find(running.tenantId, running.id), 'an unfinished job is failed, never purged');
  });
}

describe('import jobs: SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-import-jobs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  importJobs(() => sqliteStores(join(dir, 'stores.db')));
});

describe('import jobs: PostgreSQL', { skip: postgresSkip('import jobs: PostgreSQL') }, () => {
  importJobs(scratchPostgresStores);
});
