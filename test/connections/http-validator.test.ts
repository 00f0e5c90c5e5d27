/**
 * Issue #5 §2: a custom credential validator (`type: http`), PingFederate's
 * "username / PIN" validator, against the real example validator
 * (examples/pin-validator/server.mjs) started as its own process. Latchkey
 * signs each request (HMAC over timestamp and body), provisions the user
 * locally at the first login, maps the directory's refusals to error_reason,
 * and answers 503 (never invalid_grant) when the validator is down, slow or
 * rejects the signature.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WEB, acmeFixture } from '../helpers/fixtures.js';
import { decodeJwt, get, postForm, type JsonResponse } from '../helpers/http.js';
import { REPO_ROOT } from '../helpers/cli-process.js';
import { freePort, startTestServer, type TestServer, type TenantInput } from '../helpers/server.js';
import { createSelfSignedCertificate, tlsUnavailableReason, type SelfSignedCertificate } from '../helpers/tls.js';

const SECRET = 'pin-validator-shared-secret-0001';

async function startValidator(extraEnv: Record<string, string> = {}): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(REPO_ROOT, 'examples/pin-validator/server.mjs')], {
    env: { ...process.env, VALIDATOR_SECRET: SECRET, PORT: String(port), ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the example validator did not start within 10 s')), 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`the example validator exited with ${code}`)));
  });
  return { port, child };
}

async function tenantWith(url: string, secret = SECRET, timeoutMs = 1000): Promise<TenantInput> {
  const { tenant } = await acmeFixture();
  return {
    ...tenant,
    connections: [...(tenant.connections ?? []), { name: 'pins', type: 'http', url, secret, timeout_ms: timeoutMs }],
  };
}

function login(server: TestServer, username: string, pin: string, extra: Record<string, string> = {}): Promise<JsonResponse> {
  return postForm(server.at('/oauth/token'), {
    grant_type: 'password',
    username,
    password: pin,
    realm: 'pins',
    scope: 'openid profile email',
    ...WEB,
    ...extra,
  });
}

describe('issue #5: custom credential validator (type: http) against the example PIN validator', () => {
  let validator: { port: number; child: ChildProcess };
  let server: TestServer;
  before(async () => {
    validator = await startValidator();
    server = await startTestServer({ tenants: [await tenantWith(`http://127.0.0.1:${validator.port}/verify`)] });
  });
  after(async () => {
    await server?.close();
    validator?.child.kill();
  });

  it('a right PIN signs in; the user is provisioned locally with the validator profile, the same user at every login', async () => {
    const first = await login(server, 'joe', '4321');
    assert.equal(first.status, 200, first.text);
    const claims = decodeJwt(first.body.id_token as string).payload;
    assert.equal(claims.name, 'Joe Example');
    assert.equal(claims.email, 'joe@example.test');
    const second = await login(server, 'joe', '4321');
    assert.equal(decodeJwt(second.body.id_token as string).payload.sub, claims.sub, 'the same local user');
    const info = await get(server.at('/userinfo'), { authorization: `Bearer ${first.body.access_token as string}` });
    assert.equal(info.status, 200, info.text);
    assert.equal(info.body.name, 'Joe Example');
    // The refresh token of a validator user works like any other.
    const withRefresh = await login(server, 'joe', '4321', { scope: 'openid offline_access' });
    const refreshed = await postForm(server.at('/oauth/token'), {
      grant_type: 'refresh_token',
      refresh_token: withRefresh.body.refresh_token as string,
      ...WEB,
    });
    assert.equal(refreshed.status, 200, refreshed.text);
  });

  it('a wrong PIN and an unknown user are the same invalid_grant', async () => {
    const wrong = await login(server, 'joe', '0000');
    const unknown = await login(server, 'nobody', '0000');
    for (const res of [wrong, unknown]) {
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error, 'invalid_grant');
      assert.equal(res.body.error_reason, undefined);
    }
    assert.equal(wrong.body.error_description, unknown.body.error_description);
  });

  it("the directory's refusals of a right PIN carry their error_reason", async () => {
    for (const [user, pin, reason] of [
      ['old', '1111', 'password_expired'],
      ['must', '2222', 'password_change_required'],
      ['locked', '3333', 'user_blocked'],
    ] as const) {
      const res = await login(server, user, pin);
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error, 'invalid_grant');
      assert.equal(res.body.error_reason, reason, user);
    }
    // A wrong PIN for those users says nothing more than any wrong PIN.
    assert.equal((await login(server, 'old', '9999')).body.error_reason, undefined);
  });

  it('a validator slower than timeout_ms is 503 temporarily_unavailable with Retry-After, never invalid_grant', async () => {
    const res = await login(server, 'slow', '5555');
    assert.equal(res.status, 503, res.text);
    assert.equal(res.body.error, 'temporarily_unavailable');
    assert.equal(res.body.error_reason, 'directory_unavailable');
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
    assert.ok(
      server.logs.some((l) => l.includes('no answer within 1000 ms')),
      'the log says why',
    );
  });

  it('the validator secret is never stored in the database or logged, and no log line carries a PIN', async () => {
    const { readFileSync } = await import('node:fs');
    const db = readFileSync(join(server.dir, 'latchkey.db')).toString('latin1');
    assert.ok(!db.includes(SECRET));
    for (const line of server.logs) {
      assert.ok(!line.includes(SECRET));
      assert.ok(!/"(4321|1111|2222|3333|5555)"/.test(line), line);
    }
  });
});

describe('issue #5: validator down or refusing the signature', () => {
  it('a validator that is not running is 503 directory_unavailable', async () => {
    const closed = await freePort();
    const server = await startTestServer({ tenants: [await tenantWith(`http://127.0.0.1:${closed}/verify`)] });
    try {
      const res = await login(server, 'joe', '4321');
      assert.equal(res.status, 503, res.text);
      assert.equal(res.body.error_reason, 'directory_unavailable');
    } finally {
      await server.close();
    }
  });

  it('a wrong shared secret: the validator refuses the signature (401) and the client gets 503, not invalid_grant', async () => {
    const validator = await startValidator();
    const server = await startTestServer({
      tenants: [await tenantWith(`http://127.0.0.1:${validator.port}/verify`, 'not-the-validator-secret-000')],
    });
    try {
      const res = await login(server, 'joe', '4321');
      assert.equal(res.status, 503, res.text);
      assert.ok(
        server.logs.some((l) => l.includes('answered HTTP 401')),
        'the log names the cause',
      );
    } finally {
      await server.close();
      validator.child.kill();
    }
  });

  it('configuration: http connections need url and secret, and https unless the validator is on loopback', async () => {
    const { resolveConfig } = await import('../../src/config/load.js');
    const { ConfigError } = await import('../../src/config/load.js');
    const base = (connection: Record<string, unknown>) => ({
      tenants: [{ name: 't', connections: [{ name: 'pins', type: 'http', ...connection }] }],
    });
    assert.throws(
      () => resolveConfig(base({ secret: SECRET }), '/tmp'),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.includes('connections[0].url')),
    );
    assert.throws(
      () => resolveConfig(base({ url: 'http://validator.example/verify', secret: SECRET }), '/tmp'),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.includes('https')),
    );
    assert.doesNotThrow(() => resolveConfig(base({ url: 'https://validator.example/verify', secret: SECRET }), '/tmp'));
  });
});

describe('issue #5: an https validator with a private CA (tls_ca)', { skip: tlsUnavailableReason() }, () => {
  let certificate: SelfSignedCertificate;
  let validator: { port: number; child: ChildProcess };
  let server: TestServer;
  before(async () => {
    certificate = createSelfSignedCertificate();
    validator = await startValidator({ TLS_CERT: certificate.certPath, TLS_KEY: certificate.keyPath });
    const { tenant } = await acmeFixture();
    const url = `https://127.0.0.1:${validator.port}/verify`;
    server = await startTestServer({
      tenants: [
        {
          ...tenant,
          connections: [
            ...(tenant.connections ?? []),
            { name: 'pins', type: 'http', url, secret: SECRET, tls_ca: certificate.certPath },
            { name: 'pins-system-cas', type: 'http', url, secret: SECRET },
          ],
        },
      ],
    });
  });
  after(async () => {
    await server?.close();
    validator?.child.kill();
    certificate?.remove();
  });

  it('with tls_ca naming the CA, the validator is trusted and the PIN signs in', async () => {
    const response = await login(server, 'joe', '4321');
    assert.equal(response.status, 200, response.text);
  });

  it('without tls_ca the certificate is verified against the system CAs, fails, and the client gets 503, not invalid_grant', async () => {
    const response = await login(server, 'joe', '4321', { realm: 'pins-system-cas' });
    assert.equal(response.status, 503, response.text);
    assert.equal(response.body.error_reason, 'directory_unavailable');
    assert.ok(
      server.logs.some((line) => line.includes('pins-system-cas') && /certificate/i.test(line)),
      'the log says the certificate was not trusted',
    );
  });
});
