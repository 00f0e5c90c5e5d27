/**
 * User-import jobs (issue #15 point 4, Auth0's `POST /jobs/users-imports`
 * and `GET /jobs/{id}`): a job is accepted at once (`pending`), runs in the
 * background of the process that accepted it (`processing`), writes its
 * counts as it goes and ends `completed` (rows may still have failed: see
 * its errors) or `failed` (the job as a whole, with `status_details`).
 *
 * The rows live only in this process's memory. A running job stamps its row
 * at least every HEARTBEAT_MS; one that stopped stamping (its process died)
 * is failed with a reason at the next start of any node and by the periodic
 * sweep, so no job stays `processing` forever and no node fails a job that
 * another live node is running.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import { badRequest, ManagementApiError, notFound } from '../../domain/management-errors.js';
import type { Tenant } from '../../domain/tenant.js';
import type { ImportFailure, ImportProgress, UserImporter } from '../../identity/user-import.js';
import type { ImportJobRecord, ImportJobRowError, ImportJobStore } from '../../storage/import-jobs.js';
import type { ConnectionRecord } from '../../storage/stores.js';

/** Auth0 keeps a job's errors; Latchkey keeps the first this many refused rows (all are counted). */
export const MAX_REPORTED_FAILURES = 1000;
/** Auth0 runs at most two import jobs of a tenant at once and answers 429 to a third. */
export const MAX_UNFINISHED_JOBS_PER_TENANT = 2;
/** A running job writes its progress at least this often, even when no row finished (the hash queue was busy). */
export const HEARTBEAT_MS = 10_000;
/** A job whose row has not been stamped for this long has lost its process. */
export const ABANDONED_AFTER_MS = 6 * HEARTBEAT_MS;
/** Progress is written every this many rows (and by the heartbeat), not after every row. */
const ROWS_PER_PROGRESS_WRITE = 200;

export const ABANDONED_REASON =
  'the server running this job stopped before it finished; start the import again (with upsert to skip nothing)';
const STOPPED_REASON = 'the server was shut down before this job finished; start the import again (with upsert to skip nothing)';
const INTERNAL_REASON = 'the job failed on the server; its log names the cause';

export interface ImportJobsDeps {
  jobs: ImportJobStore;
  importer: Pick<UserImporter, 'importRows'>;
  clock: Clock;
  logger: Pick<Logger, 'info' | 'error'>;
}

export interface NewImportJob {
  connectionId: string;
  rows: readonly unknown[];
  upsert: boolean;
  externalId?: string | undefined;
}

interface RunningJob {
  abort: AbortController;
  done: Promise<void>;
}

export class ImportJobs {
  private readonly running = new Map<string, RunningJob>();
  private closed = false;

  constructor(private readonly deps: ImportJobsDeps) {}

  /** Records the job (`pending`) and starts it in the background; answers before any row runs. */
  async start(tenant: Tenant, job: NewImportJob): Promise<ImportJobRecord> {
    const connection = [...tenant.connections.values()].find((c) => c.id === job.connectionId);
    if (!connection) throw notFound('inexistent_connection', 'The connection does not exist.');
    if (connection.type !== 'database')
      throw badRequest(`Users can only be imported into a database connection; ${connection.name} is of type ${connection.type}.`);
    if (this.closed) throw new ManagementApiError(503, 'temporarily_unavailable', 'The server is shutting down; retry on another node.');
    if ((await this.deps.jobs.countUnfinished(tenant.id)) >= MAX_UNFINISHED_JOBS_PER_TENANT)
      throw new ManagementApiError(
        429,
        'too_many_requests',
        `There are already ${MAX_UNFINISHED_JOBS_PER_TENANT} import jobs pending or running in this tenant; wait for one to finish.`,
      );
    const now = this.deps.clock.now();
    const record: ImportJobRecord = {
      id: `job_${randomUUID().replaceAll('-', '')}`,
      tenantId: tenant.id,
      connectionId: connection.id,
      connectionName: connection.name,
      status: 'pending',
      upsert: job.upsert,
      externalId: job.externalId ?? null,
      counts: { total: job.rows.length, inserted: 0, updated: 0, failed: 0 },
      errors: [],
      statusDetails: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.deps.jobs.create(record);
    const abort = new AbortController();
    // setImmediate: the 201 goes out before the first row runs.
    const done = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.run(tenant, connection, record, job.rows, abort.signal))
      .finally(() => this.running.delete(record.id));
    this.running.set(record.id, { abort, done });
    return record;
  }

  async find(tenantId: string, id: string): Promise<ImportJobRecord> {
    const job = await this.deps.jobs.find(tenantId, id);
    if (!job) throw notFound('inexistent_job', 'The job does not exist.');
    return job;
  }

  /** Fails the jobs whose process stopped stamping them: at every start, and from the periodic sweep. */
  async failAbandoned(): Promise<number> {
    const now = this.deps.clock.now();
    const failed = await this.deps.jobs.failStale(new Date(now.getTime() - ABANDONED_AFTER_MS), ABANDONED_REASON, now);
    if (failed > 0) this.deps.logger.info({ jobs: failed }, 'user-import jobs left unfinished by a stopped server marked failed');
    return failed;
  }

  /** Shutdown: running jobs stop taking rows and are marked failed with the reason; new ones are refused. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.running.values()) job.abort.abort();
    await Promise.all([...this.running.values()].map((job) => job.done));
  }

  private async run(
    tenant: Tenant,
    connection: ConnectionRecord,
    record: ImportJobRecord,
    rows: readonly unknown[],
    shutdown: AbortSignal,
  ): Promise<void> {
    const { jobs, clock, logger } = this.deps;
    const progress = new ProgressWriter(jobs, record, clock);
    // Failed as abandoned meanwhile (this node's heartbeat came late): stop rather than write over it.
    const lost = new AbortController();
    const keepGoing = (unfinished: boolean) => {
      if (!unfinished) lost.abort();
    };
    const heartbeat = setInterval(() => {
      progress
        .write('processing')
        .then(keepGoing, (err: unknown) => logger.error({ job: record.id, err: String(err) }, 'import job heartbeat failed'));
    }, HEARTBEAT_MS);
    heartbeat.unref();
    try {
      if (!(await progress.write('processing', { force: true }))) return;
      const outcome = await this.deps.importer.importRows({ tenant, connection }, rows, {
        upsert: record.upsert,
        source: 'management_api',
        maxReportedFailures: MAX_REPORTED_FAILURES,
        signal: AbortSignal.any([shutdown, lost.signal]),
        onProgress: async (latest) => {
          progress.note(latest);
          if (progress.rowsSinceWrite() >= ROWS_PER_PROGRESS_WRITE) keepGoing(await progress.write('processing'));
        },
      });
      progress.note(outcome);
      if (lost.signal.aborted) return;
      if (outcome.stopped) await progress.write('failed', { force: true, details: STOPPED_REASON });
      else await progress.write('completed', { force: true });
      logger.info({ job: record.id, tenant: tenant.name, connection: connection.name, ...outcome.counts }, 'user-import job finished');
    } catch (err) {
      logger.error(
        { job: record.id, err: err instanceof Error ? { message: err.message, stack: err.stack } : err },
        'user-import job failed',
      );
      await progress.write('failed', { force: true, details: INTERNAL_REASON }).catch(() => undefined);
    } finally {
      clearInterval(heartbeat);
    }
  }
}

/** The job's row, written from the latest progress: one write at a time, skipped while one is on its way unless forced. */
class ProgressWriter {
  private latest: ImportProgress;
  private rowsAtLastWrite = 0;
  private inFlight: Promise<boolean> | undefined;

  constructor(
    private readonly jobs: ImportJobStore,
    private readonly record: ImportJobRecord,
    private readonly clock: Clock,
  ) {
    this.latest = { counts: record.counts, failures: [] };
  }

  note(progress: ImportProgress): void {
    this.latest = progress;
  }

  rowsSinceWrite(): number {
    return rowsDone(this.latest) - this.rowsAtLastWrite;
  }

  /** True while the job is unfinished in storage (false: it was failed as abandoned). */
  async write(status: 'processing' | 'completed' | 'failed', options: { force?: boolean; details?: string } = {}): Promise<boolean> {
    if (this.inFlight) {
      if (options.force !== true) return true;
      await this.inFlight.catch(() => undefined);
    }
    const { counts, failures } = this.latest;
    this.rowsAtLastWrite = rowsDone(this.latest);
    this.inFlight = this.jobs.update(this.record.id, {
      status,
      counts: { ...counts },
      errors: failures.map(jobRowError),
      statusDetails: options.details,
      at: this.clock.now(),
    });
    try {
      return await this.inFlight;
    } finally {
      this.inFlight = undefined;
    }
  }
}

const rowsDone = ({ counts }: ImportProgress): number => counts.inserted + counts.updated + counts.failed;

const jobRowError = ({ user, errors }: ImportFailure): ImportJobRowError => ({ user, errors });
