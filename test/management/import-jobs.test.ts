/**
 * Issue #15 point 4, DESIGN.md §9: Auth0's user-import jobs.
 * `POST /jobs/users-imports` takes the multipart upload Auth0's SDK sends
 * (a file part `users`, the field `connection_id`, `upsert`), answers 201
 * pending at once, and the job runs in the background: `GET /jobs/{id}`
 * reaches `completed` with Auth0's summary, and `GET /jobs/{id}/errors`
 * names the row and key of every refused row, never echoing a password or
 * hash. Imported bcrypt and argon2 hashes sign in with the password grant;
 * upsert updates instead of refusing; 10,000 rows with malformed ones among
 * them complete; a job a stopped server left running is failed with a
 * reason at the next start. Waits poll the job's state with a deadline.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hash as argon2Hash } from '@node-rs/argon2';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { ManagementClient } from 'auth0';
import { FormData } from 'undici';
import { API, WEB } from '../helpers/fixtures.js';
import type { JsonResponse } from '../helpers/http.js';
import { toJson } from '../helpers/http.js';
import { tlsUnavailableReason, type HttpsTestServer } from '../helpers/tls.js';
import { assertManagementError, managementToken, mgmt, startManagementServer } from './helpers.js';

const DEADLINE_MS = 60_000;

describe('user-import jobs (issue #15 point 4)', { skip: tlsUnavailableReason() }, () => {
  let server: HttpsTestServer;
  let token: string;
  let connectionId: string;
  let employeesId: string;

  before(async () => {
    server = await startManagementServer({ tenant: { management_api: { rate_limit: { requests: 10_000, per_seconds: 60 } } } });
    token = await managementToken(server);
    const connections = await mgmt(server, token).get('/connections');
    const byName = (name: string) => (connections.body as unknown as Array<{ id: string; name: string }>).find((c) => c.name === name);
    connectionId = byName('Username-Password-Authentication')?.id ?? assert.fail(connections.text);
    employeesId = byName('employees')?.id ?? assert.fail(connections.text);
  });
  after(() => server?.close());

  /** The multipart upload as Auth0's SDK sends it. */
  async function postImport(users: unknown, fields: Record<string, string> = {}, bearer = token): Promise<JsonResponse> {
    const form = new FormData();
    form.append('users', new Blob([typeof users === 'string' ? users : JSON.stringify(users)], { type: 'application/json' }), 'users.json');
    for (const [key, value] of Object.entries({ connection_id: connectionId, ...fields })) form.append(key, value);
    return toJson(
      await server.fetch(`${server.issuer()}api/v2/jobs/users-imports`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}` },
        body: form as unknown as RequestInit['body'],
      }),
    );
  }

  async function finished(jobId: string): Promise<JsonResponse> {
    const deadline = Date.now() + DEADLINE_MS;
    for (;;) {
      const job = await mgmt(server, token).get(`/jobs/${jobId}`);
      assert.equal(job.status, 200, job.text);
      if (job.body.status === 'completed' || job.body.status === 'failed') return job;
      assert.ok(Date.now() < deadline, `job ${jobId} still ${String(job.body.status)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function importAndWait(users: unknown, fields: Record<string, string> = {}): Promise<JsonResponse> {
    const created = await postImport(users, fields);
    assert.equal(created.status, 201, created.text);
    return finished(created.body.id as string);
  }

  const signIn = (username: string, password: string) =>
    server.postForm(server.at('/oauth/token'), { grant_type: 'password', username, password, audience: API, ...WEB });

  it('bcrypt and argon2 hashes (custom_password_hash and password_hash) sign in with the password grant once the job completes', async () => {
    const users = [
      {
        email: 'bcrypt-custom@import.test',
        email_verified: true,
        name: 'Bea Crypt',
        user_metadata: { theme: 'dark' },
        app_metadata: { plan: 'gold', roles: ['reader'] },
        custom_password_hash: { algorithm: 'bcrypt', hash: { value: await bcryptHash('bcrypt custom password', 10) } },
      },
      {
        email: 'argon2-custom@import.test',
        custom_password_hash: {
          algorithm: 'argon2',
          hash: { value: await argon2Hash('argon2 custom password', { memoryCost: 4096, timeCost: 2, parallelism: 1 }), encoding: 'utf8' },
        },
      },
      { username: 'bcrypt-legacy', email: 'legacy@import.test', password_hash: await bcryptHash('bcrypt legacy password', 8) },
    ];
    const created = await postImport(users, { upsert: 'false', external_id: 'migration-1', send_completion_email: 'true' });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.status, 'pending');
    assert.equal(created.body.type, 'users_import');
    assert.equal(created.body.connection_id, connectionId);
    assert.equal(created.body.external_id, 'migration-1');
    assert.match(String(created.body.created_at), /^\d{4}-\d\d-\d\dT/);

    const job = await finished(created.body.id as string);
    assert.equal(job.body.status, 'completed', job.text);
    assert.deepEqual(job.body.summary, { failed: 0, updated: 0, inserted: 3, total: 3 });
    assert.equal(job.body.connection, 'Username-Password-Authentication');
    assert.equal(job.body.percentage_done, 100);
    const errors = await mgmt(server, token).get(`/jobs/${String(created.body.id)}/errors`);
    assert.equal(errors.status, 204, errors.text);

    for (const [login, password] of [
      ['bcrypt-custom@import.test', 'bcrypt custom password'],
      ['argon2-custom@import.test', 'argon2 custom password'],
      ['bcrypt-legacy', 'bcrypt legacy password'],
      ['legacy@import.test', 'bcrypt legacy password'],
    ] as const) {
      const response = await signIn(login, password);
      assert.equal(response.status, 200, `${login}: ${response.text}`);
    }
    const wrong = await signIn('bcrypt-custom@import.test', 'not the password');
    assert.equal(wrong.body.error, 'invalid_grant');
    // The row's metadata reached the user, as the Management API shows it.
    const [imported] = (await mgmt(server, token).get('/users-by-email?email=bcrypt-custom%40import.test')).body as unknown as Array<
      Record<string, unknown>
    >;
    assert.deepEqual(imported?.user_metadata, { theme: 'dark' });
    assert.deepEqual(imported?.app_metadata, { plan: 'gold', roles: ['reader'] });
  });

  it('without upsert an existing user is a per-row DUPLICATED_USER; with upsert it is updated and its new password works', async () => {
    const first = [{ email: 'upsert@import.test', name: 'First', password_hash: await bcryptHash('first password', 4) }];
    assert.deepEqual((await importAndWait(first)).body.summary, { failed: 0, updated: 0, inserted: 1, total: 1 });

    const second = [{ email: 'upsert@import.test', name: 'Second', password_hash: await bcryptHash('second password', 4) }];
    const refused = await importAndWait(second);
    assert.equal(refused.body.status, 'completed');
    assert.deepEqual(refused.body.summary, { failed: 1, updated: 0, inserted: 0, total: 1 });
    const errors = await mgmt(server, token).get(`/jobs/${String(refused.body.id)}/errors`);
    assert.equal(errors.status, 200, errors.text);
    assert.deepEqual(errors.body, [
      {
        user: { email: 'upsert@import.test', name: 'Second' },
        errors: [{ code: 'DUPLICATED_USER', message: 'user already exists (upsert is off)', path: '[0]' }],
      },
    ]);
    assert.equal((await signIn('upsert@import.test', 'first password')).status, 200, 'unchanged');

    const upserted = await importAndWait(second, { upsert: 'true' });
    assert.deepEqual(upserted.body.summary, { failed: 0, updated: 1, inserted: 0, total: 1 });
    assert.equal(upserted.body.upsert, true);
    assert.equal((await signIn('upsert@import.test', 'second password')).status, 200, 'the new hash');
    assert.equal((await signIn('upsert@import.test', 'first password')).body.error, 'invalid_grant', 'the old one is gone');
  });

  it('10,000 rows with malformed ones: the job completes; the summary counts them and each error names its row and key, without secrets', async () => {
    const hash = await bcryptHash('bulk password', 4);
    const rows: unknown[] = Array.from({ length: 10_000 }, (_, i) => ({ email: `bulk-${i}@import.test`, email_verified: i % 2 === 0 }));
    rows[12] = { email: 'typo@import.test', custom_password_hash: { algorithm: 'bcrypt', hash: { valu: hash } } };
    rows[500] = { email: 'not-an-email', password_hash: hash };
    rows[501] = { email: 'blocked-as-text@import.test', blocked: 'yes' };
    rows[7777] = 'not a user';
    rows[9999] = { email: 'plain@import.test', password: 'x', pasword: 'secret typo value' };
    rows[100] = { email: 'hashed@import.test', password_hash: hash };
    const job = await importAndWait(rows);
    assert.equal(job.body.status, 'completed', job.text);
    assert.deepEqual(job.body.summary, { failed: 5, updated: 0, inserted: 9995, total: 10_000 });

    const errors = await mgmt(server, token).get(`/jobs/${String(job.body.id)}/errors`);
    assert.equal(errors.status, 200, errors.text);
    const reported = errors.body as unknown as Array<{ user: Record<string, unknown>; errors: Array<{ code: string; path: string }> }>;
    const paths = reported.map((r) => r.errors.map((e) => `${e.code} ${e.path}`));
    assert.deepEqual(paths, [
      [
        'OBJECT_MISSING_REQUIRED_PROPERTY [12].custom_password_hash.hash.value',
        'OBJECT_ADDITIONAL_PROPERTIES [12].custom_password_hash.hash.valu',
      ],
      ['INVALID_FORMAT [500].email'],
      ['INVALID_TYPE [501].blocked'],
      ['INVALID_TYPE [7777]'],
      ['OBJECT_ADDITIONAL_PROPERTIES [9999].pasword'],
    ]);
    assert.deepEqual(reported[0]?.user, { email: 'typo@import.test' });
    assert.ok(!errors.text.includes(hash) && !errors.text.includes('secret typo value'), 'no hash or password echoed');
    assert.equal((await signIn('hashed@import.test', 'bulk password')).status, 200);
  });

  it("Auth0's SDK (v7, unchanged) starts a job and reads it until it completes", async () => {
    // The SDK builds Node's global FormData; the test's TLS-trusting fetch is the undici package's, which sends only
    // its own FormData as multipart: the same parts, carried over.
    const sdkFetch = (input: string | URL | Request, init?: RequestInit) => {
      if (!(init?.body instanceof globalThis.FormData)) return server.fetch(input, init);
      const form = new FormData();
      for (const [name, value] of init.body.entries()) form.append(name, value);
      return server.fetch(input, { ...init, body: form as unknown as RequestInit['body'] });
    };
    const client = new ManagementClient({ domain: `${server.host}/acme`, token, fetch: sdkFetch as typeof fetch });
    const users = [
      { email: 'sdk@import.test', custom_password_hash: { algorithm: 'bcrypt', hash: { value: await bcryptHash('sdk pw 1', 4) } } },
    ];
    const created = await client.jobs.usersImports.create({
      users: new Blob([JSON.stringify(users)], { type: 'application/json' }),
      connection_id: connectionId,
      upsert: false,
    });
    assert.equal(created.status, 'pending');
    const deadline = Date.now() + DEADLINE_MS;
    let job = await client.jobs.get(created.id);
    while (job.status !== 'completed' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      job = await client.jobs.get(created.id);
    }
    assert.equal(job.status, 'completed');
    assert.deepEqual(job.summary, { failed: 0, updated: 0, inserted: 1, total: 1 });
    assert.equal((await signIn('sdk@import.test', 'sdk pw 1')).status, 200);
  });

  it('refuses a bad upload with a clear 4xx in Auth0 shape, never a 500', async () => {
    assertManagementError(await postImport('{"email": "x"}'), 400, 'invalid_body');
    assertManagementError(await postImport('[{'), 400, 'invalid_body');
    assertManagementError(await postImport([], { connection_id: 'con_nope' }), 404, 'inexistent_connection');
    assertManagementError(await postImport([], { upsert: 'maybe' }), 400, 'invalid_body');
    assertManagementError(await mgmt(server, token).post('/jobs/users-imports', { users: [] }), 400, 'invalid_body');
    const noFile = new FormData();
    noFile.append('connection_id', connectionId);
    const missing = await toJson(
      await server.fetch(`${server.issuer()}api/v2/jobs/users-imports`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: noFile as unknown as RequestInit['body'],
      }),
    );
    assertManagementError(missing, 400, 'invalid_body');
    assertManagementError(await postImport(`[${'{},'.repeat(3_600_000)}{}]`), 413, 'payload_too_large');
    assertManagementError(
      await postImport([], {}, await managementToken(server, undefined, 'acme', 'read:users')),
      403,
      'insufficient_scope',
    );
    assertManagementError(await mgmt(server, token).get('/jobs/job_unknown'), 404, 'inexistent_job');
    // The employees connection is a database too: the point is that the id is checked in this tenant.
    assert.equal((await postImport([], { connection_id: employeesId })).status, 201);
  });
});

describe('user-import jobs across a restart', { skip: tlsUnavailableReason() }, () => {
  it('a job a stopped server left processing is failed, with the reason, at the next start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-import-restart-'));
    const first = await startManagementServer({ dir });
    const { runtime } = first.server.server;
    const tenant = runtime.catalog.tenant('acme');
    assert.ok(tenant);
    const connection = tenant.connections.get('Username-Password-Authentication');
    assert.ok(connection);
    const longAgo = new Date(runtime.clock.now().getTime() - 3600_000);
    await runtime.stores.importJobs.create({
      id: 'job_left_running',
      tenantId: tenant.id,
      connectionId: connection.id,
      connectionName: connection.name,
      status: 'processing',
      upsert: false,
      externalId: null,
      counts: { total: 10, inserted: 4, updated: 0, failed: 0 },
      errors: [],
      statusDetails: null,
      createdAt: longAgo,
      updatedAt: longAgo,
    });
    await first.close();

    const second = await startManagementServer({ dir });
    try {
      const token = await managementToken(second);
      const job = await mgmt(second, token).get('/jobs/job_left_running');
      assert.equal(job.body.status, 'failed', job.text);
      assert.match(String(job.body.status_details), /stopped before it finished/);
      assert.deepEqual(job.body.summary, { failed: 0, updated: 0, inserted: 4, total: 10 });
      const errors = await mgmt(second, token).get('/jobs/job_left_running/errors');
      assert.equal(errors.body.status, 'failed');
      assert.match(String(errors.body.status_details), /stopped before it finished/);
    } finally {
      await second.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
