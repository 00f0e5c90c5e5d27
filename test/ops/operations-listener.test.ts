/**
 * The operations listener (issue #11 point 3, DESIGN.md §2-§3; security
 * report M2): `latchkey_security_events_total` tells unknown_user from
 * wrong_password, so /metrics is served only on `operations.listen`, never
 * on the public port, which answers it with the same JSON 404 as any
 * unknown route. The operations listener also answers /healthz and
 * /readyz; none exists unless configured; a busy operations port stops
 * start-up with one operator line; closing the server closes both.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/load.js';
import { ListenError, startServer } from '../../src/server.js';
import { hasStackTrace, runCli, writeYamlConfig } from '../helpers/cli-process.js';
import { ALICE, WEB, acmeFixture } from '../helpers/fixtures.js';
import { get, postForm, type JsonResponse } from '../helpers/http.js';
import { freePort, startTestServer, TEST_MASTER_KEY, type TestServer } from '../helpers/server.js';

/** Every GET a client could try on the public port for operational data. */
const PUBLIC_PROBES = ['/metrics', '/metrics/', '/acme/metrics', '/healthz', '/readyz', '/readyz/database'];

function failureCount(metrics: string, reason: string): number {
  const line = metrics
    .split('\n')
    .find((l) => l.startsWith('latchkey_security_events_total{') && l.includes('type="login_failure"') && l.includes(`reason="${reason}"`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

/** What a client sees of an answer: status, body and headers, without Date and X-Request-Id (each request's own). */
function seen(res: JsonResponse): string {
  const headers = [...res.headers.entries()].filter(([name]) => name !== 'date' && name !== 'x-request-id');
  return JSON.stringify({ status: res.status, body: res.text, headers });
}

async function blockPort(): Promise<{ port: number; release(): Promise<void> }> {
  const port = await freePort();
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
  return { port, release: () => new Promise<void>((resolve) => blocker.close(() => resolve())) };
}

describe('operations listener (issue #11 point 3)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
  });
  after(() => server.close());

  it('regression (issue #11 point 3): the public /metrics is the same JSON 404 as any unknown route, and an unknown vs a known name is not observable on the public port', async () => {
    const metrics = await get(`${server.url}/metrics`);
    const unknownRoute = await get(`${server.url}/no-such-route`);
    assert.equal(metrics.status, 404, metrics.text);
    assert.equal(seen(metrics), seen(unknownRoute), 'indistinguishable from any unknown route');
    assert.equal(metrics.body.error, 'not_found');

    const login = (username: string) =>
      postForm(server.at('/oauth/token'), { grant_type: 'password', username, password: 'not the password at all', ...WEB });
    const probe = async () => Promise.all(PUBLIC_PROBES.map(async (path) => seen(await get(`${server.url}${path}`))));
    const operations = async () => (await get(`${server.operationsUrl}/metrics`)).text;

    const before = { public: await probe(), operations: await operations() };
    const unknown = await login('nobody-here@acme.test');
    const afterUnknown = { public: await probe(), operations: await operations() };
    const known = await login(ALICE.username);
    const afterKnown = { public: await probe(), operations: await operations() };

    // The client's own answers are the same for both names...
    assert.equal(unknown.status, 400);
    assert.deepEqual([unknown.body.error, unknown.body.error_description], [known.body.error, known.body.error_description]);
    // ...and nothing the public port serves moved with either failure.
    assert.deepEqual(afterUnknown.public, before.public, 'an unknown name changed nothing on the public port');
    assert.deepEqual(afterKnown.public, before.public, 'a known name changed nothing on the public port');
    // The operator still tells them apart, on the operations listener.
    assert.equal(failureCount(afterUnknown.operations, 'unknown_user') - failureCount(before.operations, 'unknown_user'), 1);
    assert.equal(failureCount(afterKnown.operations, 'wrong_password') - failureCount(afterUnknown.operations, 'wrong_password'), 1);
    assert.equal(failureCount(afterKnown.operations, 'unknown_user'), failureCount(afterUnknown.operations, 'unknown_user'));
  });

  it('serves /metrics, /healthz, /readyz and /readyz/database, and a JSON 404 with what it serves elsewhere', async () => {
    const metrics = await get(`${server.operationsUrl}/metrics`);
    assert.equal(metrics.status, 200, metrics.text);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(metrics.text, /^# HELP latchkey_/m);
    for (const path of ['/healthz', '/readyz', '/readyz/database']) {
      const res = await get(`${server.operationsUrl}${path}`);
      assert.equal(res.status, 200, `${path}: ${res.text}`);
    }
    const other = await get(`${server.operationsUrl}/acme/oauth/token`);
    assert.equal(other.status, 404);
    assert.equal(other.body.error, 'not_found');
    assert.match(String(other.body.error_description), /\/metrics/);
    assert.notEqual(new URL(server.operationsUrl ?? '').port, new URL(server.url).port);
  });

  it('closing the server closes both listeners', async () => {
    const separate = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
    const operationsUrl = separate.operationsUrl;
    try {
      assert.equal((await get(`${operationsUrl}/healthz`)).status, 200);
    } finally {
      await separate.close();
    }
    await assert.rejects(get(`${operationsUrl}/healthz`), 'the operations port no longer answers');
    await assert.rejects(get(`${separate.url}/healthz`), 'nor the public one');
  });
});

describe('operations listener configuration (issue #11 point 3)', () => {
  it('without an operations block there is no operations listener, and /metrics is nowhere', async () => {
    const server = await startTestServer({ tenants: [(await acmeFixture()).tenant], operations: false });
    try {
      assert.equal(server.operationsUrl, undefined);
      assert.equal(server.server.operationsApp, undefined);
      assert.equal((await get(`${server.url}/metrics`)).status, 404);
    } finally {
      await server.close();
    }
  });

  it('a busy operations port stops start-up with one line naming operations.listen.port, and leaves the public port free', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-operations-'));
    const busy = await blockPort();
    try {
      const publicPort = await freePort();
      const config = resolveConfig(
        {
          public_url: `http://127.0.0.1:${publicPort}`,
          listen: { host: '127.0.0.1', port: publicPort },
          operations: { listen: { host: '127.0.0.1', port: busy.port } },
          database: 'sqlite:./latchkey.db',
          tenants: [{ name: 'acme' }],
        },
        dir,
        { LATCHKEY_MASTER_KEY: TEST_MASTER_KEY },
      );
      await assert.rejects(startServer(config), (err: unknown) => {
        assert.ok(err instanceof ListenError, String(err));
        assert.match(err.message, new RegExp(`port ${busy.port} on 127\\.0\\.0\\.1 \\(operations\\.listen\\.port\\) is already in use`));
        return true;
      });
      // The public listener that did start was closed again: its port can be taken.
      const probe = createServer();
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.listen(publicPort, '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => probe.close(() => resolve()));

      // The CLI reports it as the operator error it is: exit 1, one line, no stack trace.
      const file = writeYamlConfig(dir, {
        listen: { host: '127.0.0.1', port: publicPort },
        operations: { listen: { host: '127.0.0.1', port: busy.port } },
        database: 'sqlite:./cli.db',
        tenants: [{ name: 'acme' }],
      });
      const result = await runCli(['serve', '--config', file], { env: { LATCHKEY_MASTER_KEY: TEST_MASTER_KEY } });
      assert.equal(result.code, 1, `${result.stdout}\n${result.stderr}`);
      assert.match(result.stderr, /operations\.listen\.port\) is already in use/);
      assert.ok(!hasStackTrace(result.stderr + result.stdout), result.stderr);
    } finally {
      await busy.release();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
