/**
 * Issue #6 §4: PostgreSQL stops mid-run. Latchkey reaches its database
 * through a TCP proxy that the test cuts and restores (the machine's real
 * PostgreSQL keeps serving the other suites). While it is cut, every request
 * that needs the database is a clear 503 `temporarily_unavailable` with
 * Retry-After (bounded by the pool's 3 s connect timeout, not a hang), never
 * `invalid_grant` for a valid refresh token, and /readyz says not ready;
 * when it is back, the same node serves again without a restart and the
 * refresh token from before the outage still works.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WEB, acmeFixture } from '../helpers/fixtures.js';
import { get, postForm, type JsonResponse } from '../helpers/http.js';
import { createScratchDatabase, postgresSkip, type ScratchDatabase } from '../helpers/postgres.js';
import { waitUntil } from '../helpers/redis.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';
import { hasStackTrace, runCli, writeYamlConfig } from '../helpers/cli-process.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function assertUnavailable(response: JsonResponse, what: string): void {
  assert.equal(response.status, 503, `${what}: ${response.text}`);
  assert.equal(response.body.error, 'temporarily_unavailable', `${what}: ${response.text}`);
  assert.ok(Number(response.headers.get('retry-after')) >= 1, `${what}: Retry-After`);
  assert.doesNotMatch(response.text, /stack|at \w+ \(/, `${what}: no stack trace`);
}

describe('issue #6 §4: PostgreSQL going away and coming back', { skip: postgresSkip('PostgreSQL outage') }, () => {
  let scratch: ScratchDatabase;
  let proxy: TcpProxy;
  let server: TestServer;
  before(async () => {
    scratch = await createScratchDatabase();
    const target = new URL(scratch.url);
    proxy = await startTcpProxy(`tcp://${target.hostname}:${target.port || 5432}`);
    const viaProxy = new URL(scratch.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const { tenant } = await acmeFixture();
    server = await startTestServer({ tenants: [tenant], database: viaProxy.toString() });
  });
  after(async () => {
    await server?.close();
    await proxy?.stop().catch(() => undefined);
    await scratch?.drop();
  });

  const password = () =>
    postForm(server.at('/oauth/token'), {
      grant_type: 'password',
      username: 'alice@acme.test',
      password: 'correct horse battery staple',
      scope: 'openid offline_access',
      ...WEB,
    });
  const refresh = (token: string) => postForm(server.at('/oauth/token'), { grant_type: 'refresh_token', refresh_token: token, ...WEB });

  it('cut under a concurrent load: 503 with Retry-After for password and refresh grants and /readyz; back: every refresh token works, no restart', async () => {
    const signedIn = await password();
    assert.equal(signedIn.status, 200, signedIn.text);
    const refreshToken = signedIn.body.refresh_token as string;
    // More sessions, refreshed all at once while the database goes away: a load, not one request.
    const others = await Promise.all(Array.from({ length: 12 }, () => password()));
    const otherTokens = others.map((r) => r.body.refresh_token as string);

    await proxy.stop();
    const during = await Promise.all(otherTokens.map((token) => refresh(token)));
    during.forEach((response, i) => {
      assertUnavailable(response, `refresh ${i} of a concurrent load while the database is away`);
    });
    assertUnavailable(await refresh(refreshToken), 'a valid refresh token while the database is away');
    assertUnavailable(await password(), 'a password grant while the database is away');
    const ready = await get(`${server.url}/readyz`);
    assert.equal(ready.status, 503, `/readyz while the database is away: ${ready.text}`);
    const databaseReady = await get(`${server.url}/readyz/database`);
    assert.equal(databaseReady.status, 503, `/readyz/database while the database is away: ${databaseReady.text}`);
    // Again, once the pool has given up on its old connections: still 503, still not invalid_grant.
    assertUnavailable(await refresh(refreshToken), 'a second refresh while the database is away');

    await proxy.start();
    await waitUntil('/readyz to answer 200 again', async () => (await get(`${server.url}/readyz`)).status === 200, 15_000);
    const afterwards = await refresh(refreshToken);
    assert.equal(afterwards.status, 200, `the refresh token from before the outage: ${afterwards.text}`);
    assert.equal((await password()).status, 200, 'password grant after the outage');
    const afterLoad = await Promise.all(otherTokens.map((token) => refresh(token)));
    afterLoad.forEach((response, i) => {
      assert.equal(response.status, 200, `refresh token ${i} of the load, after the outage: ${response.text}`);
    });
    assert.ok(
      server.logs.some((line) => /database|storage/i.test(line) && /"level":"(warn|error)"/.test(line)),
      'the outage is logged for the operator',
    );
  });
});

describe('issue #6 §1: a node whose PostgreSQL is unreachable at start', () => {
  it('latchkey serve exits 1 with one line naming the database (password redacted), no stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-pg-unreachable-'));
    try {
      const closedPort = await freePort();
      const config = writeYamlConfig(dir, {
        database: `postgres://latchkey:s3cret-db-password@127.0.0.1:${closedPort}/latchkey`,
        tenants: [{ name: 'acme' }],
      });
      const result = await runCli(['serve', '--config', config], {
        env: { LATCHKEY_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') },
        timeoutMs: 30_000,
      });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /cannot reach the database postgres:\/\/latchkey:\*\*\*@127\.0\.0\.1:\d+\/latchkey \(ECONNREFUSED/);
      assert.doesNotMatch(result.stderr + result.stdout, /s3cret-db-password/, 'the password never reaches the output');
      assert.equal(hasStackTrace(result.stderr), false, result.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
