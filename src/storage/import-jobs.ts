/**
 * Storage contract of the user-import jobs (issue #15 point 4, Auth0's
 * `POST /jobs/users-imports`): one row per job, its counts and its first
 * per-row errors. The rows being imported stay in the memory of the process
 * that runs the job; a job that process left unfinished is failed later
 * (oauth/management/import-jobs.ts).
 */

export type ImportJobStatus = 'pending' | 'processing' | 'completed' | 'failed';

/** Auth0's job summary. */
export interface ImportJobCounts {
  total: number;
  inserted: number;
  updated: number;
  failed: number;
}

/** One refused row, in Auth0's job-error shape: the row as sent (no secrets) and its errors. */
export interface ImportJobRowError {
  user: Record<string, unknown>;
  errors: Array<{ code: string; message: string; path: string }>;
}

export interface ImportJobRecord {
  id: string;
  tenantId: string;
  connectionId: string;
  /** The connection's name when the job was made: Auth0's `connection`. */
  connectionName: string;
  status: ImportJobStatus;
  upsert: boolean;
  externalId: string | null;
  counts: ImportJobCounts;
  /** The first refused rows, in file order (capped by the job runner). */
  errors: ImportJobRowError[];
  /** Why a job failed as a whole (Auth0's `status_details`). */
  statusDetails: string | null;
  createdAt: Date;
  /** Every progress write stamps it: a running job's heartbeat. */
  updatedAt: Date;
}

export interface ImportJobUpdate {
  status: ImportJobStatus;
  counts: ImportJobCounts;
  errors: ImportJobRowError[];
  statusDetails?: string | undefined;
  at: Date;
}

export interface ImportJobStore {
  create(job: ImportJobRecord): Promise<void>;
  find(tenantId: string, id: string): Promise<ImportJobRecord | undefined>;
  /**
   * Progress, or the end, of an unfinished job. False when the job had
   * already finished (failed as abandoned meanwhile): the runner stops.
   */
  update(id: string, update: ImportJobUpdate): Promise<boolean>;
  /** Unfinished jobs of the tenant (pending or processing), for the limit on jobs at once. */
  countUnfinished(tenantId: string): Promise<number>;
  /** Fails every unfinished job not updated since `staleBefore`, with `reason`; answers how many. */
  failStale(staleBefore: Date, reason: string, now: Date): Promise<number>;
  /** Deletes finished jobs last updated before `cutoff`. */
  deleteFinishedBefore(cutoff: Date): Promise<number>;
}
