/**
 * The server process's life cycle, as an operator runs it (DESIGN.md §1–§2):
 * `latchkey serve --config FILE` with LATCHKEY_MASTER_KEY set.
 *
 * Proves that SIGTERM lets requests already in flight finish with 200 (the
 * requests are held half-sent until the server has begun shutting down, so
 * they are provably in flight), that the process then logs
 * 'shutdown complete' and exits 0; that a restart on the same data
 * directory keeps state, so a refresh token issued before the restart still
 * works; and that a bad configuration file or a busy port stops start-up with
 * exit code 1 and one clear message naming the problem (the key path, for a
 * bad key), never a stack trace.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RunningProcess, hasStackTrace, parseJsonLine, runCli, tsxCliArgs, waitForOk, writeYamlConfig } from '../helpers/cli-process.js';
import { postForm } from '../helpers/http.js';
import { freePort } from '../helpers/server.js';

const API = 'https://api.lifecycle.test';
const CLIENT = { client_id: 'life-web', client_secret: 'life-web-secret-0123456789' };
const USER = { username: 'dana@lifecycle.test', password: 'dana lifecycle password' };
const MASTER_KEY = randomBytes(32).toString('base64');

interface HeldRequest {
  /** Resolves once the server has read the headers and asked for the body (100 Continue). */
  continued: Promise<void>;
  sendBody(): void;
  response: Promise<{ status: number; body: Record<string, unknown> }>;
}

/**
 * A password-grant request sent with `Expect: 100-continue`: the server
 * dispatches it on the headers and answers 100 Continue, then waits for the
 * body, which this side sends only when told to.
 */
function heldRequest(url: string, form: Record<string, string>): HeldRequest {
  const body = new URLSearchParams(form).toString();
  const req = httpRequest(url, {
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), expect: '100-continue' },
  });
  const continued = new Promise<void>((resolve, reject) => {
    req.once('continue', resolve);
    req.once('error', reject);
  });
  const response = new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.once('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        } catch {
          reject(new Error(`not JSON (${res.statusCode}): ${text}`));
        }
      });
    });
  });
  // Don't let an unobserved rejection crash the runner; the test awaits both.
  continued.catch(() => undefined);
  response.catch(() => undefined);
  req.flushHeaders();
  return { continued, sendBody: () => req.end(body), response };
}

describe('server process life cycle', () => {
  let dir: string;
  let port: number;
  let configFile: string;
  let baseUrl: string;
  let refreshTokenBeforeRestart: string | undefined;
  const running: RunningProcess[] = [];

  const serve = (file = configFile, env: Record<string, string> = { LATCHKEY_MASTER_KEY: MASTER_KEY }) => {
    const proc = RunningProcess.start(process.execPath, tsxCliArgs(['serve', '--config', file]), { env });
    running.push(proc);
    return proc;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-lifecycle-'));
    port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    configFile = writeYamlConfig(dir, {
      public_url: baseUrl,
      listen: { host: '127.0.0.1', port },
      database: 'sqlite:./data/latchkey.db',
      tenants: [
        {
          name: 'acme',
          apis: [{ identifier: API, scopes: ['read:x'], token_lifetime: 600, allow_offline_access: true }],
          applications: [{ ...CLIENT, token_endpoint_auth_method: 'client_secret_post', grant_types: ['password', 'refresh_token'] }],
          users: [{ connection: 'Username-Password-Authentication', username: USER.username, password: USER.password }],
        },
      ],
    });
  });

  after(async () => {
    for (const proc of running) await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGTERM lets in-flight password grants finish with 200, then logs shutdown complete and exits 0', async () => {
    const server = serve();
    await waitForOk(`${baseUrl}/readyz`, 30_000, server);

    const form = {
      grant_type: 'password',
      username: USER.username,
      password: USER.password,
      audience: API,
      scope: 'offline_access read:x',
      ...CLIENT,
    };
    const held = Array.from({ length: 6 }, () => heldRequest(`${baseUrl}/acme/oauth/token`, form));
    await Promise.all(held.map((h) => h.continued));

    server.child.kill('SIGTERM');
    // Only once the server has started shutting down do the requests complete their bodies.
    await server.waitForLine((line) => parseJsonLine(line)?.msg === 'shutting down: finishing in-flight requests');
    for (const h of held) h.sendBody();

    const responses = await Promise.all(held.map((h) => h.response));
    for (const res of responses) {
      assert.equal(res.status, 200, `${JSON.stringify(res.body)}\n${server.describe()}`);
      assert.equal(typeof res.body.access_token, 'string');
      assert.equal(typeof res.body.refresh_token, 'string');
    }
    refreshTokenBeforeRestart = responses[0]?.body.refresh_token as string;

    const exit = await server.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, server.describe());
    assert.equal(server.logsWithMessage('shutdown complete').length, 1, server.describe());
    assert.ok(!hasStackTrace(server.stderr), `no stack trace on stderr: ${server.stderr}`);
  });

  it('a restart on the same data directory keeps state: a refresh token from before still works', async () => {
    assert.ok(refreshTokenBeforeRestart, 'the previous test issued a refresh token');
    const server = serve();
    await waitForOk(`${baseUrl}/readyz`, 30_000, server);
    assert.equal(server.logsWithMessage('database schema migrated').length, 0, 'the existing database is reused, not recreated');

    const refreshed = await postForm(`${baseUrl}/acme/oauth/token`, {
      grant_type: 'refresh_token',
      refresh_token: refreshTokenBeforeRestart,
      ...CLIENT,
    });
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.equal(typeof refreshed.body.refresh_token, 'string');
    assert.notEqual(refreshed.body.refresh_token, refreshTokenBeforeRestart, 'rotated');

    server.child.kill('SIGTERM');
    assert.deepEqual(await server.exited, { code: 0, signal: null }, server.describe());
    assert.equal(server.logsWithMessage('shutdown complete').length, 1);
  });

  it('a bad configuration stops start-up with exit code 1, naming the key path, without a stack trace', async () => {
    const bad = writeYamlConfig(
      dir,
      {
        listen: { host: '127.0.0.1', port },
        database: 'sqlite:./data/latchkey.db',
        tenants: [{ name: 'acme', applications: [{ ...CLIENT, grant_types: ['implicit', 'password'] }] }],
      },
      'bad.yaml',
    );
    const result = await runCli(['serve', '--config', bad], { env: { LATCHKEY_MASTER_KEY: MASTER_KEY } });
    assert.equal(result.code, 1, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stderr, /tenants\[0\]\.applications\[0\]\.grant_types\[0\]/);
    assert.match(result.stderr, /bad\.yaml/, 'names the file');
    assert.ok(!hasStackTrace(result.stderr + result.stdout), result.stderr);
  });

  it('YAML syntax errors, unknown keys and a missing file are reported the same way', async () => {
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'tenants:\n  - name: acme\n   applications: [\n');
    const unknownKey = writeYamlConfig(dir, { tenants: [{ name: 'acme', aplications: [] }] }, 'unknown-key.yaml');
    const cases: Array<[string, RegExp]> = [
      [broken, /YAML/],
      [unknownKey, /tenants\[0\].*aplications/],
      [join(dir, 'missing.yaml'), /cannot read the file \(ENOENT\)/],
    ];
    const results = await Promise.all(
      cases.map(([file]) => runCli(['serve', '--config', file], { env: { LATCHKEY_MASTER_KEY: MASTER_KEY } })),
    );
    for (const [i, [file, message]] of cases.entries()) {
      const result = results[i];
      assert.ok(result);
      assert.equal(result.code, 1, `${file}: ${result.stderr}`);
      assert.match(result.stderr, message, file);
      assert.ok(!hasStackTrace(result.stderr + result.stdout), result.stderr);
    }
  });

  it('a TLS file that cannot be read stops start-up naming tls.cert, without a stack trace', async () => {
    const tlsMissing = writeYamlConfig(
      dir,
      {
        listen: { host: '127.0.0.1', port },
        database: 'sqlite:./data/tls.db',
        tls: { cert: './no-such-cert.pem', key: './no-such-key.pem' },
        tenants: [{ name: 'acme' }],
      },
      'tls-missing.yaml',
    );
    const result = await runCli(['serve', '--config', tlsMissing], { env: { LATCHKEY_MASTER_KEY: MASTER_KEY } });
    assert.equal(result.code, 1, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stderr, /tls\.cert: cannot read .*no-such-cert\.pem \(ENOENT\)/);
    assert.ok(!hasStackTrace(result.stderr + result.stdout), result.stderr);
  });

  it('a port already in use stops start-up with exit code 1 and one clear line, without a stack trace', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const result = await runCli(['serve', '--config', configFile], { env: { LATCHKEY_MASTER_KEY: MASTER_KEY } });
      assert.equal(result.code, 1, `${result.stdout}\n${result.stderr}`);
      assert.match(result.stderr, new RegExp(`port ${port}.*already in use`));
      assert.ok(!hasStackTrace(result.stderr + result.stdout), result.stderr);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
