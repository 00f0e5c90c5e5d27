/**
 * MFA by email one-time codes inside the password flow (issue #4, Auth0's
 * shape), black-box against a real server, its development outbox and the
 * real CLI:
 *
 * - enrollment by email: one message to the user's address with a 6-digit
 *   code that is never logged; mfa-oob with it gives tokens (amr "mfa");
 *   later sign-ins are challenged (no enrollment reason) with a new email;
 * - a wrong, reused, expired, foreign (other user, other client) or missing
 *   code is refused; no address or a channel other than email is refused;
 * - 10 wrong codes per user: the right one then gets 429 too_many_attempts;
 * - `latchkey users mfa list|reset` shows and removes the factor, after which
 *   an `optional` policy lets the password alone through.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hasStackTrace, runCli, writeYamlConfig, type ProcessResult } from '../helpers/cli-process.js';
import { acmeFixture, ALICE, JOE, WEB } from '../helpers/fixtures.js';
import { decodeJwt } from '../helpers/http.js';
import {
  assertCodeNotLogged,
  assertGrantError,
  associateEmail,
  authenticators,
  challengeByEmail,
  challengeOob,
  enrollByEmail,
  MFA_GRANT_TYPES,
  mfaTokenOf,
  oobCodeOf,
  oobGrant,
  Outbox,
  passwordLogin,
  wrongCode,
  type Client,
} from '../helpers/mfa-email.js';
import { startTestServer, TEST_MASTER_KEY, type TenantInput, type TestServer } from '../helpers/server.js';

const WEB2: Client = { client_id: 'acme-web-two', client_secret: 'acme-web-two-secret-0123456' };
const JOE_EMAIL = 'joe@elsewhere.test';

/** acme with `mfa`, WEB (and a second confidential client) allowed the MFA grants. */
async function mfaTenant(mfa: 'never' | 'optional' | 'always', web2Mfa?: 'never' | 'optional' | 'always'): Promise<TenantInput> {
  const { tenant } = await acmeFixture();
  const applications = (tenant.applications ?? []).map((app) =>
    app.client_id === WEB.client_id ? { ...app, grant_types: [...MFA_GRANT_TYPES] } : app,
  );
  applications.push({
    ...WEB2,
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: [...MFA_GRANT_TYPES],
    ...(web2Mfa ? { mfa: web2Mfa } : {}),
  });
  return { ...tenant, mfa, applications };
}

describe('MFA by email one-time codes', () => {
  const servers: TestServer[] = [];
  const dirs: string[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function start(tenant: TenantInput, outboxDir?: string, dir?: string): Promise<TestServer> {
    const server = await startTestServer({
      tenants: [tenant],
      ...(dir ? { dir } : {}),
      ...(outboxDir ? { extra: { email: { outbox_dir: outboxDir } } } : {}),
    });
    servers.push(server);
    return server;
  }

  function tempDir(prefix: string): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  }

  it('enroll by email, sign in with the emailed code; the next sign-in is challenged with a new email', async () => {
    const server = await start(await mfaTenant('always'));
    // The default outbox: {data dir}/outbox, the data dir being the SQLite file's directory.
    const outbox = new Outbox(join(server.dir, 'outbox'));

    const enrollToken = await mfaTokenOf(server, WEB, ALICE, true, 'first sign-in');
    const enrolled = await associateEmail(server, WEB, enrollToken);
    const oobCode = oobCodeOf(enrolled, 'associate');
    assert.equal(enrolled.body.authenticator_type, 'oob');
    assert.equal(enrolled.body.oob_channel, 'email');
    assert.equal(enrolled.body.binding_method, 'prompt');
    assert.ok(Array.isArray(enrolled.body.recovery_codes) && enrolled.body.recovery_codes.length >= 1, enrolled.text);
    assert.equal(enrolled.headers.get('cache-control'), 'no-store');

    const [message, ...others] = outbox.take();
    assert.ok(message, 'one message in the outbox');
    assert.deepEqual(others, [], 'exactly one message');
    assert.equal(message.to, ALICE.username, "sent to the user's address");
    assert.equal(typeof message.from, 'string');
    assert.ok(message.subject.length > 0);
    const code = /Your verification code is (\d{6})(?!\d)/.exec(message.text)?.[1];
    assert.ok(code, message.text);
    assert.ok(!enrolled.text.includes(code), 'the code is not in the associate answer');
    assertCodeNotLogged(server, code, 'enrollment');

    // Not usable before the code is shown.
    const pending = await authenticators(server, enrollToken);
    assert.equal(pending.status, 200, pending.text);
    assert.deepEqual(
      (pending.body as unknown as Array<Record<string, unknown>>).filter((a) => a.authenticator_type === 'oob').map((a) => a.active),
      [false],
    );

    const tokens = await oobGrant(server, WEB, enrollToken, oobCode, code);
    assert.equal(tokens.status, 200, tokens.text);
    assert.equal(typeof tokens.body.access_token, 'string');
    assert.equal(typeof tokens.body.id_token, 'string');
    const amr = decodeJwt(tokens.body.id_token as string).payload.amr;
    assert.ok(Array.isArray(amr) && amr.includes('mfa'), `amr ${JSON.stringify(amr)}`);

    // Next sign-in: the factor is required, not enrolled again.
    const mfaToken = await mfaTokenOf(server, WEB, ALICE, false, 'second sign-in');
    const listed = await authenticators(server, mfaToken);
    assert.equal(listed.status, 200, listed.text);
    const oobs = (listed.body as unknown as Array<Record<string, unknown>>).filter((a) => a.authenticator_type === 'oob');
    assert.equal(oobs.length, 1, listed.text);
    assert.equal(oobs[0]?.oob_channel, 'email');
    assert.equal(oobs[0]?.active, true);
    assert.equal(oobs[0]?.name, 'a****@acme.test', 'the address is masked');

    const challenge = await challengeOob(server, WEB, mfaToken);
    const secondOob = oobCodeOf(challenge, 'challenge');
    assert.equal(challenge.body.challenge_type, 'oob');
    assert.equal(challenge.body.binding_method, 'prompt');
    const secondCode = outbox.takeCode(ALICE.username, 'challenge email');
    assertCodeNotLogged(server, secondCode, 'challenge');

    const again = await oobGrant(server, WEB, mfaToken, secondOob, secondCode);
    assert.equal(again.status, 200, again.text);
    const amr2 = decodeJwt(again.body.id_token as string).payload.amr;
    assert.ok(Array.isArray(amr2) && amr2.includes('mfa'), `amr ${JSON.stringify(amr2)}`);
  });

  it('refuses a wrong, reused, expired, foreign or missing code, a user without an address, and channels other than email', async () => {
    // An explicit outbox_dir this time.
    const outboxDir = tempDir('latchkey-outbox-');
    const server = await start(await mfaTenant('always'), outboxDir);
    const outbox = new Outbox(outboxDir);
    await enrollByEmail(server, outbox, WEB, ALICE, ALICE.username);

    // Wrong binding_code: invalid_grant; the right one still works afterwards.
    const a = await challengeByEmail(server, outbox, WEB, ALICE, ALICE.username, 'wrong code');
    assertGrantError(await oobGrant(server, WEB, a.mfaToken, a.oobCode, wrongCode(a.code)), 400, 'invalid_grant', 'wrong binding_code');
    assert.equal((await oobGrant(server, WEB, a.mfaToken, a.oobCode, a.code)).status, 200, 'the right code after a wrong one');

    // Reused: the same oob_code and code with a fresh mfa_token.
    const fresh = await mfaTokenOf(server, WEB, ALICE, false, 'reuse sign-in');
    assertGrantError(await oobGrant(server, WEB, fresh, a.oobCode, a.code), 400, 'invalid_grant', 'reused email code');

    // Expired: 5 minutes.
    const expiring = oobCodeOf(await challengeOob(server, WEB, fresh), 'challenge before expiry');
    const expiringCode = outbox.takeCode(ALICE.username, 'expiring email');
    server.clock.advance(301);
    const expired = await oobGrant(server, WEB, fresh, expiring, expiringCode);
    assertGrantError(expired, 400, 'invalid_grant', 'expired email code');
    assert.match(String(expired.body.error_description), /expired/i);
    const renewed = oobCodeOf(await challengeOob(server, WEB, fresh), 'challenge after expiry');
    assert.equal(
      (await oobGrant(server, WEB, fresh, renewed, outbox.takeCode(ALICE.username, 'renewed email'))).status,
      200,
      'a new code after expiry',
    );

    // Foreign: Alice's code with another client's and another user's mfa_token.
    const alice = await challengeByEmail(server, outbox, WEB, ALICE, ALICE.username, 'foreign');
    const otherClient = await mfaTokenOf(server, WEB2, ALICE, false, 'alice via another client');
    assertGrantError(
      await oobGrant(server, WEB2, otherClient, alice.oobCode, alice.code),
      400,
      'invalid_grant',
      "another client's oob_code",
    );
    const joeToken = await mfaTokenOf(server, WEB, JOE, true, 'joe sign-in');
    oobCodeOf(await associateEmail(server, WEB, joeToken, { email: JOE_EMAIL }), 'joe associates with an explicit email');
    outbox.takeCode(JOE_EMAIL, 'joe enrollment email');
    assertGrantError(await oobGrant(server, WEB, joeToken, alice.oobCode, alice.code), 400, 'invalid_grant', "another user's oob_code");
    // Neither refusal spent Alice's code.
    assert.equal((await oobGrant(server, WEB, alice.mfaToken, alice.oobCode, alice.code)).status, 200, "Alice's own code");

    // Alice has had the 5 emails a user may get in 10 minutes (issue #11 point 7): on to the next window.
    server.clock.advance(600);

    // Missing binding_code.
    const b = await challengeByEmail(server, outbox, WEB, ALICE, ALICE.username, 'missing binding_code');
    assertGrantError(await oobGrant(server, WEB, b.mfaToken, b.oobCode, undefined), 400, 'invalid_request', 'no binding_code');
    assert.equal((await oobGrant(server, WEB, b.mfaToken, b.oobCode, b.code)).status, 200, 'then with it');

    // Joe has no email: associate without one is refused, as is any channel but email.
    const joe2 = await mfaTokenOf(server, WEB, JOE, true, 'joe second sign-in');
    assertGrantError(await associateEmail(server, WEB, joe2), 400, 'invalid_request', 'no email for the user');
    assertGrantError(
      await associateEmail(server, WEB, joe2, { oob_channels: ['sms'], email: JOE_EMAIL }),
      400,
      'invalid_request',
      'sms channel',
    );
    assert.deepEqual(outbox.take(), [], 'nothing sent for refused enrollments');
  });

  it('10 wrong codes for a user: the right code is then refused with 429 too_many_attempts', async () => {
    const server = await start(await mfaTenant('always'));
    const outbox = new Outbox(join(server.dir, 'outbox'));
    await enrollByEmail(server, outbox, WEB, ALICE, ALICE.username);
    const c = await challengeByEmail(server, outbox, WEB, ALICE, ALICE.username, 'limit');
    for (let i = 1; i <= 10; i++) {
      assertGrantError(await oobGrant(server, WEB, c.mfaToken, c.oobCode, wrongCode(c.code, i)), 400, 'invalid_grant', `wrong code #${i}`);
    }
    const limited = await oobGrant(server, WEB, c.mfaToken, c.oobCode, c.code);
    assertGrantError(limited, 429, 'too_many_attempts', 'the right code after 10 wrong ones');
    assert.equal(limited.body.error_reason, 'mfa_attempts_exceeded');
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 3600, `Retry-After ${limited.headers.get('retry-after')}`);
  });

  describe('latchkey users mfa (CLI)', () => {
    let dir: string;
    let configFile: string;
    let server: TestServer;
    let outbox: Outbox;
    const env = { LATCHKEY_MASTER_KEY: TEST_MASTER_KEY };
    const cli = (args: string[]): Promise<ProcessResult> => runCli(args, { env });
    const admin = (args: string[]): Promise<ProcessResult> => cli([...args, '--config', configFile]);
    const ok = (result: ProcessResult, what: string) =>
      assert.equal(result.code, 0, `${what}: exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);

    before(async () => {
      // Tenant policy optional; WEB2 insists on MFA, so Alice can enroll through it.
      const tenant = await mfaTenant('optional', 'always');
      dir = tempDir('latchkey-mfa-cli-');
      configFile = writeYamlConfig(dir, {
        public_url: 'http://127.0.0.1:3999',
        database: `sqlite:${join(dir, 'latchkey.db')}`,
        log_level: 'warn',
        tenants: [tenant],
      });
      server = await start(tenant, undefined, dir);
      outbox = new Outbox(join(dir, 'outbox'));
    });

    it('list shows the email factor as active; reset removes it and the password alone signs in under optional', async () => {
      await enrollByEmail(server, outbox, WEB2, ALICE, ALICE.username);
      // With a confirmed factor, even the optional-policy client asks for it.
      await mfaTokenOf(server, WEB, ALICE, false, 'before reset');

      const list = await admin(['users', 'mfa', 'list', ALICE.username]);
      ok(list, 'users mfa list');
      assert.match(list.stdout, /^email\|\S+\s+email alice@acme\.test\s+active\b/m);

      const reset = await admin(['users', 'mfa', 'reset', ALICE.username]);
      ok(reset, 'users mfa reset');
      assert.match(reset.stdout, /removed 1 authenticator\b.*alice@acme\.test/);

      const listAfter = await admin(['users', 'mfa', 'list', ALICE.username]);
      ok(listAfter, 'users mfa list after reset');
      assert.match(listAfter.stdout, /no authenticators/);
      assert.doesNotMatch(listAfter.stdout, /email\|/);

      const res = await passwordLogin(server, WEB, ALICE);
      assert.equal(res.status, 200, `password alone after reset: ${res.text}`);
      assert.equal(typeof res.body.access_token, 'string');
    });

    it('an unknown user is one clear line and exit 1; --help prints usage', async () => {
      const [unknown, help] = await Promise.all([admin(['users', 'mfa', 'list', 'nobody@acme.test']), cli(['users', 'mfa', '--help'])]);
      assert.equal(unknown.code, 1, `exit ${unknown.code}\nstdout: ${unknown.stdout}\nstderr: ${unknown.stderr}`);
      assert.equal(unknown.stderr.trimEnd().split('\n').length, 1, `one line:\n${unknown.stderr}`);
      assert.match(unknown.stderr, /^latchkey: no user "nobody@acme\.test"/);
      assert.ok(!hasStackTrace(unknown.stderr + unknown.stdout), unknown.stderr);
      ok(help, 'users mfa --help');
      assert.match(help.stdout, /^Usage: latchkey users mfa \[options\] \[command\]$/m);
      assert.match(help.stdout, /^\s+list \[options\] <username>/m);
      assert.match(help.stdout, /^\s+reset \[options\] <username>/m);
    });
  });
});
