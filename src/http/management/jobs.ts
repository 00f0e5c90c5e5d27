/**
 * Auth0's user-import jobs (issue #15 point 4, DESIGN.md §9):
 * `POST /jobs/users-imports` (multipart/form-data, as the auth0 SDK's
 * `jobs.usersImports.create` sends it: a file part `users` and the fields
 * `connection_id`, `upsert`, `external_id`, `send_completion_email`),
 * `GET /jobs/{id}` and `GET /jobs/{id}/errors`.
 *
 * Limits (docs/management-api.md): the file at most 10 MiB and 50,000 users.
 * Auth0 takes 500 KB per file; a larger limit spares a migration hundreds of
 * jobs, and 10 MiB of JSON still parses in well under a second, off no
 * request's path but this one. Bigger migrations: several jobs, or the CLI.
 */
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { badRequest, ManagementApiError } from '../../domain/management-errors.js';
import { ImportFileError, readImportFile } from '../../identity/user-import-file.js';
import type { ImportJobs } from '../../oauth/management/import-jobs.js';
import type { ImportJobRecord } from '../../storage/import-jobs.js';
import { defineEndpoint, type ManagementEndpoint } from './endpoint.js';

export const MAX_IMPORT_FILE_BYTES = 10 * 1024 * 1024;
export const MAX_IMPORT_ROWS = 50_000;
/** The few text fields Auth0 defines, each short. */
const MAX_FIELD_BYTES = 1024;

const formBoolean = z.enum(['true', 'false']).transform((v) => v === 'true');

/** The multipart fields besides the file, as text; they validate the request and describe it in the OpenAPI document. */
const importFields = z.object({
  connection_id: z.string().min(1).max(128).describe('The database connection to import into (`GET /connections` gives ids).'),
  upsert: formBoolean
    .default(false)
    .describe('Update users that already exist (same user_id, username or email) instead of refusing them.'),
  external_id: z.string().max(255).optional().describe('Your own reference for the job, given back as is.'),
  send_completion_email: formBoolean
    .optional()
    .describe('Accepted for Auth0 compatibility and ignored: Latchkey sends no completion email.'),
});

const importRequestSchema = importFields.extend({
  users: z
    .string()
    .meta({ override: { type: 'string', format: 'binary' } })
    .describe(`Auth0's user-import file: a JSON array of users, at most ${MAX_IMPORT_ROWS} and ${MAX_IMPORT_FILE_BYTES} bytes.`),
});

const jobStatus = z.enum(['pending', 'processing', 'completed', 'failed']);

const createdJobSchema = z
  .object({
    id: z.string(),
    type: z.literal('users_import'),
    status: jobStatus,
    connection_id: z.string(),
    connection: z.string(),
    created_at: z.string(),
    external_id: z.string().optional(),
  })
  .meta({ id: 'ImportJob' });

const jobSchema = createdJobSchema
  .extend({
    upsert: z.boolean(),
    percentage_done: z.number().int(),
    status_details: z.string().optional(),
    summary: z.object({ failed: z.number().int(), updated: z.number().int(), inserted: z.number().int(), total: z.number().int() }),
  })
  .meta({ id: 'ImportJobStatus' });

const rowErrorSchema = z
  .object({
    user: z.record(z.string(), z.unknown()).describe('The row as sent, without password or hash.'),
    errors: z.array(z.object({ code: z.string(), message: z.string(), path: z.string() })),
  })
  .meta({ id: 'ImportJobRowError' });

const failedJobSchema = z.object({
  id: z.string(),
  type: z.literal('users_import'),
  status: z.literal('failed'),
  connection_id: z.string(),
  created_at: z.string(),
  status_details: z.string(),
});

const idParams = z.object({ id: z.string().min(1).max(64) });

export interface JobEndpointsDeps {
  importJobs: Pick<ImportJobs, 'start' | 'find'>;
}

export function jobEndpoints({ importJobs }: JobEndpointsDeps): ManagementEndpoint[] {
  return [
    defineEndpoint({
      method: 'POST',
      path: '/jobs/users-imports',
      operationId: 'post_users_imports',
      tag: 'jobs',
      summary: 'Import users from a file into a database connection',
      scopes: ['create:users'],
      multipartBody: importRequestSchema,
      responses: {
        201: { description: 'The job, accepted; poll GET /jobs/{id}', schema: createdJobSchema },
        413: { description: `The file is larger than ${MAX_IMPORT_FILE_BYTES} bytes` },
        429: { description: 'Two import jobs of the tenant are already pending or running' },
      },
      handle: async ({ tenant, raw }) => {
        const upload = await readUpload(raw as FastifyRequest);
        let rows: unknown[];
        try {
          rows = readImportFile(upload.file, MAX_IMPORT_ROWS);
        } catch (err) {
          if (err instanceof ImportFileError) throw badRequest(err.message);
          throw err;
        }
        const { connection_id, upsert, external_id } = upload.fields;
        const job = await importJobs.start(tenant, { connectionId: connection_id, rows, upsert, externalId: external_id });
        return { status: 201, body: createdJob(job), target: job.id };
      },
    }),
    defineEndpoint({
      method: 'GET',
      path: '/jobs/{id}',
      operationId: 'get_jobs_by_id',
      tag: 'jobs',
      summary: 'Get a job: its status and summary',
      scopes: ['create:users', 'read:users'],
      params: idParams,
      responses: {
        200: { description: 'The job', schema: jobSchema },
        404: { description: 'No such job in this tenant' },
      },
      handle: async ({ tenant, params }) => ({ status: 200, body: jobStatusOf(await importJobs.find(tenant.id, params.id)) }),
    }),
    defineEndpoint({
      method: 'GET',
      path: '/jobs/{id}/errors',
      operationId: 'get_errors',
      tag: 'jobs',
      summary: "A job's refused rows, each with its errors (the first 1,000), or why the job failed",
      scopes: ['create:users', 'read:users'],
      params: idParams,
      responses: {
        200: { description: 'The refused rows, or the failed job', schema: z.union([z.array(rowErrorSchema), failedJobSchema]) },
        204: { description: 'No row was refused' },
        404: { description: 'No such job in this tenant' },
      },
      handle: async ({ tenant, params }) => {
        const job = await importJobs.find(tenant.id, params.id);
        if (job.errors.length > 0) return { status: 200, body: job.errors };
        // Auth0: a job that failed as a whole answers its own description with status_details.
        if (job.status === 'failed')
          return {
            status: 200,
            body: {
              id: job.id,
              type: 'users_import',
              status: 'failed',
              connection_id: job.connectionId,
              created_at: job.createdAt.toISOString(),
              status_details: job.statusDetails ?? 'failed',
            },
          };
        return { status: 204 };
      },
    }),
  ];
}

interface Upload {
  file: string;
  fields: z.output<typeof importFields>;
}

/** The multipart body: one file part `users`, the text fields; every limit is a clear 400 or 413, never a 500. */
async function readUpload(request: FastifyRequest): Promise<Upload> {
  if (!request.isMultipart())
    throw badRequest('Send multipart/form-data: a file part "users" (the JSON array) and a "connection_id" field.');
  const fields: Record<string, string> = {};
  let file: string | undefined;
  try {
    const parts = request.parts({
      limits: { fileSize: MAX_IMPORT_FILE_BYTES, files: 1, fields: 8, fieldSize: MAX_FIELD_BYTES, parts: 9, headerPairs: 100 },
    });
    for await (const part of parts) {
      if (part.type === 'file') {
        if (part.fieldname !== 'users')
          throw badRequest(`Unexpected file part "${part.fieldname.slice(0, 64)}": the file part is "users".`);
        file = (await part.toBuffer()).toString('utf8');
      } else if (typeof part.value === 'string') fields[part.fieldname] = part.value;
    }
  } catch (err) {
    throw uploadError(err);
  }
  if (file === undefined) throw badRequest('The file part "users" is missing.');
  const parsed = importFields.safeParse(fields);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badRequest(`Payload validation error: '${issue?.message ?? 'invalid'}' on property ${issue?.path.map(String).join('.') ?? ''}.`);
  }
  return { file, fields: parsed.data };
}

/** @fastify/multipart's limit errors carry their status (413 for the file, 413 or 400 for counts); anything else is a bad body. */
function uploadError(err: unknown): unknown {
  if (err instanceof ManagementApiError) return err;
  const code = (err as { code?: unknown }).code;
  if (code === 'FST_REQ_FILE_TOO_LARGE')
    return new ManagementApiError(
      413,
      'payload_too_large',
      `The users file is larger than ${MAX_IMPORT_FILE_BYTES} bytes; split it into several jobs.`,
    );
  if (typeof code === 'string' && code.startsWith('FST_'))
    return badRequest(`The multipart body breaks a limit or is malformed (${(err as Error).message}).`);
  return err;
}

function createdJob(job: ImportJobRecord) {
  return {
    id: job.id,
    type: 'users_import' as const,
    status: job.status,
    connection_id: job.connectionId,
    connection: job.connectionName,
    created_at: job.createdAt.toISOString(),
    ...(job.externalId === null ? {} : { external_id: job.externalId }),
  };
}

function jobStatusOf(job: ImportJobRecord) {
  const { total, inserted, updated, failed } = job.counts;
  const done = inserted + updated + failed;
  return {
    ...createdJob(job),
    upsert: job.upsert,
    percentage_done: total === 0 ? 100 : Math.floor((done * 100) / total),
    ...(job.statusDetails === null ? {} : { status_details: job.statusDetails }),
    summary: { failed, updated, inserted, total },
  };
}
