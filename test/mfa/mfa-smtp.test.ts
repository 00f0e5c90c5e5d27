/**
 * Issue #4: email one-time codes delivered over real SMTP (nodemailer) to a
 * real SMTP server process, Python's standard-library smtpd debugging server
 * (python3 of Debian's bookworm ships it), which prints every message it
 * receives. Also: an unreachable SMTP server answers 503, never a 500.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ALICE, WEB, acmeFixture } from '../helpers/fixtures.js';
import { associateEmail, MFA_GRANT_TYPES, mfaTokenOf, oobCodeOf, oobGrant } from '../helpers/mfa-email.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';

const PYTHON = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import smtpd'], { stdio: 'ignore' }).status === 0);
const SKIP =
  PYTHON === undefined ? 'no python3 with the smtpd module (Debian bookworm python3 has it): cannot start a real SMTP server' : false;
if (SKIP) console.log(`# SKIPPED MFA over SMTP: ${SKIP}`);

/** A real SMTP server on a loopback port, collecting what it prints. */
async function startSmtpServer(): Promise<{ port: number; output: () => string; stop: () => void }> {
  const port = await freePort();
  const child: ChildProcessWithoutNullStreams = spawn(PYTHON as string, [
    '-W',
    'ignore',
    '-u',
    '-m',
    'smtpd',
    '-n',
    '-c',
    'DebuggingServer',
    `127.0.0.1:${port}`,
  ]);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  // Ready when it accepts a connection (bounded).
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`the SMTP server did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, output: () => output, stop: () => child.kill() };
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('issue #4: email one-time codes over SMTP (nodemailer → a real SMTP server)', { skip: SKIP }, () => {
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let server: TestServer;
  before(async () => {
    smtp = await startSmtpServer();
    const { tenant } = await acmeFixture();
    server = await startTestServer({
      tenants: [
        {
          ...tenant,
          mfa: 'always',
          applications: tenant.applications!.map((a) => (a.client_id === WEB.client_id ? { ...a, grant_types: [...MFA_GRANT_TYPES] } : a)),
        },
      ],
      extra: { email: { from: 'Latchkey <no-reply@acme.test>', smtp_url: `smtp://127.0.0.1:${smtp.port}` } },
    });
  });
  after(async () => {
    await server?.close();
    smtp?.stop();
  });

  it('enrolling by email sends the code through SMTP; the code read from the delivered message completes the sign-in', async () => {
    const mfaToken = await mfaTokenOf(server, WEB, ALICE, true, 'first sign-in');
    const enrolled = await associateEmail(server, WEB, mfaToken);
    assert.equal(enrolled.status, 200, enrolled.text);
    await waitFor(() => /verification code is \d{6}/.test(smtp.output()), 'the message at the SMTP server');
    const delivered = smtp.output();
    assert.match(delivered, /To: alice@acme\.test/i);
    assert.match(delivered, /From: Latchkey <no-reply@acme\.test>/i);
    const code = /verification code is (\d{6})/.exec(delivered)?.[1] as string;
    const tokens = await oobGrant(server, WEB, mfaToken, oobCodeOf(enrolled, 'associate'), code);
    assert.equal(tokens.status, 200, tokens.text);
    assert.equal(typeof tokens.body.access_token, 'string');
  });
});

describe('issue #4: an unreachable SMTP server is 503 temporarily_unavailable, not a 500', { skip: SKIP }, () => {
  it('associate by email with SMTP down answers 503 with Retry-After', async () => {
    const closedPort = await freePort();
    const { tenant } = await acmeFixture();
    const server = await startTestServer({
      tenants: [
        {
          ...tenant,
          mfa: 'always',
          applications: tenant.applications!.map((a) => (a.client_id === WEB.client_id ? { ...a, grant_types: [...MFA_GRANT_TYPES] } : a)),
        },
      ],
      extra: { email: { smtp_url: `smtp://127.0.0.1:${closedPort}` } },
    });
    try {
      const mfaToken = await mfaTokenOf(server, WEB, ALICE, true, 'first sign-in');
      const res = await associateEmail(server, WEB, mfaToken);
      assert.equal(res.status, 503, res.text);
      assert.equal(res.body.error, 'temporarily_unavailable');
      assert.ok(Number(res.headers.get('retry-after')) >= 1);
    } finally {
      await server.close();
    }
  });
});
