import type { Kysely, Selectable } from 'kysely';
import type { ImportJobRecord, ImportJobRowError, ImportJobStatus, ImportJobStore, ImportJobUpdate } from '../import-jobs.js';
import type { Database, ImportJobsTable } from '../schema.js';
import { fromIso, toIso } from './time.js';

const UNFINISHED: ImportJobStatus[] = ['pending', 'processing'];
const FINISHED: ImportJobStatus[] = ['completed', 'failed'];

export class SqlImportJobStore implements ImportJobStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(job: ImportJobRecord): Promise<void> {
    await this.db
      .insertInto('import_jobs')
      .values({
        id: job.id,
        tenant_id: job.tenantId,
        connection_id: job.connectionId,
        connection_name: job.connectionName,
        status: job.status,
        upsert: job.upsert ? 1 : 0,
        external_id: job.externalId,
        total: job.counts.total,
        inserted: job.counts.inserted,
        updated: job.counts.updated,
        failed: job.counts.failed,
        errors: JSON.stringify(job.errors),
        status_details: job.statusDetails,
        created_at: toIso(job.createdAt),
        updated_at: toIso(job.updatedAt),
      })
      .execute();
  }

  async find(tenantId: string, id: string): Promise<ImportJobRecord | undefined> {
    const row = await this.db
      .selectFrom('import_jobs')
      .selectAll()
      .where('id', '=', id)
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    return row === undefined ? undefined : jobOf(row);
  }

  async update(id: string, update: ImportJobUpdate): Promise<boolean> {
    const { counts } = update;
    const result = await this.db
      .updateTable('import_jobs')
      .set({
        status: update.status,
        total: counts.total,
        inserted: counts.inserted,
        updated: counts.updated,
        failed: counts.failed,
        errors: JSON.stringify(update.errors),
        ...(update.statusDetails === undefined ? {} : { status_details: update.statusDetails }),
        updated_at: toIso(update.at),
      })
      .where('id', '=', id)
      // A job failed as abandoned stays failed; its runner learns so from `false` and stops.
      .where('status', 'in', UNFINISHED)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async countUnfinished(tenantId: string): Promise<number> {
    const row = await this.db
      .selectFrom('import_jobs')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('status', 'in', UNFINISHED)
      .where('tenant_id', '=', tenantId)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async failStale(staleBefore: Date, reason: string, now: Date): Promise<number> {
    const result = await this.db
      .updateTable('import_jobs')
      .set({ status: 'failed', status_details: reason, updated_at: toIso(now) })
      .where('status', 'in', UNFINISHED)
      .where('updated_at', '<', toIso(staleBefore))
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async deleteFinishedBefore(cutoff: Date): Promise<number> {
    const result = await this.db
      .deleteFrom('import_jobs')
      .where('status', 'in', FINISHED)
      .where('updated_at', '<', toIso(cutoff))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function jobOf(row: Selectable<ImportJobsTable>): ImportJobRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    connectionId: row.connection_id,
    connectionName: row.connection_name,
    status: row.status as ImportJobStatus,
    upsert: row.upsert === 1,
    externalId: row.external_id,
    counts: { total: row.total, inserted: row.inserted, updated: row.updated, failed: row.failed },
    errors: JSON.parse(row.errors) as ImportJobRowError[],
    statusDetails: row.status_details,
    createdAt: fromIso(row.created_at),
    updatedAt: fromIso(row.updated_at),
  };
}
