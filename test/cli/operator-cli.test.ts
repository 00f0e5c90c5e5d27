/**
 * The operator CLI of issue #15 point 6, run as real processes against a
 * config file and the SQLite file a running test server uses:
 *
 * - `--version` prints package.json's version;
 * - a command that needs a configuration and has none fails with exactly
 *   one line ("no configuration: pass --config FILE or set LATCHKEY_CONFIG"),
 *   exit 1, and creates nothing in the current folder (it used to make a
 *   demo database and master key there and act on them);
 * - `LATCHKEY_CONFIG` is the default `--config`;
 * - `users list` pages through a tenant's users (every connection, or one)
 *   with the columns id, username, email, connection, blocked, created, as
 *   a table or JSON lines, and says on stderr where the page sits;
 * - `users show` finds a user by id, username or email and counts their
 *   second factors and live refresh-token families, and shows their block;
 * - `users delete` asks on a terminal (run under `script`), and refuses to
 *   act off a terminal without `--yes`; with it,
 *   the user's refresh token stops working at once, their factors and the
 *   user are gone, and `latchkey logs` shows `user_deleted` reason `cli`;
 * - `apps list|show` show client_id, name, auth method, grant types and
 *   callbacks, and never the client secret or its stored HMAC.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openDatabase } from '../../src/storage/database.js';
import { createSqlStores } from '../../src/storage/sql/index.js';
import { hasStackTrace, REPO_ROOT, runCli, runProcess, tsxCliArgs, writeYamlConfig, type ProcessResult } from '../helpers/cli-process.js';
import { postForm } from '../helpers/http.js';
import { TEST_MASTER_KEY, startTestServer, type TenantInput, type TestServer } from '../helpers/server.js';

const API = 'https://api.operator-cli.test';
const CLIENT = { client_id: 'ops-web', client_secret: 'ops-web-secret-0123456789' };
const MACHINE = { client_id: 'ops-machine', client_secret: 'ops-machine-secret-0123456789' };
const TENANT: TenantInput = {
  name: 'acme',
  default_directory: 'Username-Password-Authentication',
  connections: [
    { name: 'Username-Password-Authentication', type: 'database' },
    { name: 'partners', type: 'database' },
  ],
  apis: [{ identifier: API, scopes: ['read:x'], token_lifetime: 600, allow_offline_access: true }],
  applications: [
    {
      ...CLIENT,
      name: 'Ops Web',
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['password', 'refresh_token', 'authorization_code'],
      callbacks: ['https://ops.example.test/callback'],
    },
    { ...MACHINE, token_endpoint_auth_method: 'client_secret_basic', grant_types: ['client_credentials'] },
  ],
  client_grants: [{ client_id: MACHINE.client_id, audience: API, scope: ['read:x'] }],
};
const PASSWORD = 'operator cli password 42';
/** util-linux `script` runs a command on a pseudo-terminal: how an operator's shell runs it. */
const scriptMissing = spawnSync('script', ['--version']).error !== undefined;

describe('operator CLI (issue #15 point 6)', () => {
  let dir: string;
  let configFile: string;
  let server: TestServer;
  const env = { LATCHKEY_MASTER_KEY: TEST_MASTER_KEY };
  /** With LATCHKEY_CONFIG, not --config: the variable is the default. */
  const admin = (args: string[], input?: string): Promise<ProcessResult> =>
    runCli(args, { env: { ...env, LATCHKEY_CONFIG: configFile }, ...(input === undefined ? {} : { input }) });

  function assertOk(result: ProcessResult, what: string): void {
    assert.equal(result.code, 0, `${what}: exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }

  function assertOneLine(result: ProcessResult, message: RegExp, what: string): void {
    assert.equal(result.code, 1, `${what}: exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, `${what}: one line on stderr, got:\n${result.stderr}`);
    assert.match(result.stderr, message, what);
    assert.ok(!hasStackTrace(result.stderr + result.stdout), `${what}: stack trace\n${result.stderr}`);
  }

  const jsonLines = (text: string): Array<Record<string, unknown>> =>
    text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-operator-cli-'));
    server = await startTestServer({ dir, tenants: [TENANT] });
    configFile = writeYamlConfig(dir, {
      public_url: 'http://127.0.0.1:3999',
      database: `sqlite:${join(dir, 'latchkey.db')}`,
      log_level: 'warn',
      tenants: [TENANT],
    });
    for (const [username, connection, email] of [
      ['alice', 'Username-Password-Authentication', 'alice@ops.test'],
      ['bob', 'Username-Password-Authentication', undefined],
      ['carol', 'Username-Password-Authentication', 'carol@ops.test'],
      ['dave', 'partners', 'dave@partners.test'],
    ] as const) {
      const args = ['users', 'add', '--username', username, '--connection', connection, '--password-stdin'];
      assertOk(await admin(email === undefined ? args : [...args, '--email', email], `${PASSWORD}\n`), `users add ${username}`);
    }
  });

  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = await runCli(['--version']);
    assertOk(result, '--version');
    assert.equal(result.stdout, `${version}\n`);
  });

  it('no --config and no LATCHKEY_CONFIG: one line saying so, exit 1, and nothing created in the current folder', async () => {
    const cwd = join(dir, 'empty-cwd');
    mkdirSync(cwd);
    for (const args of [
      ['users', 'list'],
      ['users', 'show', 'alice'],
      ['users', 'add', '--username', 'x', '--password', PASSWORD],
      ['apps', 'list'],
      ['logs'],
      ['keys', 'rotate'],
      ['config', 'check'],
    ]) {
      const result = await runCli(args, { cwd, env });
      assertOneLine(result, /^latchkey: no configuration: pass --config FILE or set LATCHKEY_CONFIG\n$/, args.join(' '));
    }
    assert.deepEqual(readdirSync(cwd), [], 'no demo database or master key was created');
  });

  it('users list: every connection by default, one with --connection, as a table or JSON lines, paged with a note', async () => {
    const table = await admin(['users', 'list']);
    assertOk(table, 'users list');
    const [header, ...rows] = table.stdout.trimEnd().split('\n');
    assert.match(header ?? '', /^ID\s+USERNAME\s+EMAIL\s+CONNECTION\s+BLOCKED\s+CREATED$/);
    assert.equal(rows.length, 4, table.stdout);
    assert.ok(
      rows.some((r) => /\balice\s+alice@ops\.test\s+Username-Password-Authentication\s+no\s+\d{4}-/.test(r)),
      table.stdout,
    );
    assert.ok(
      rows.some((r) => /\bdave\s+dave@partners\.test\s+partners\s+no\b/.test(r)),
      table.stdout,
    );
    assert.match(table.stderr, /^users 1-4 of 4 in acme\n$/);

    const partners = await admin(['users', 'list', '--connection', 'partners', '--json']);
    assertOk(partners, 'users list --connection partners');
    const [dave, ...others] = jsonLines(partners.stdout);
    assert.equal(others.length, 0, partners.stdout);
    assert.deepEqual(Object.keys(dave ?? {}).sort(), ['blocked', 'connection', 'created', 'email', 'id', 'username']);
    assert.equal(dave?.username, 'dave');
    assert.equal(dave?.connection, 'partners');
    assert.equal(dave?.blocked, false);

    // Pages neither skip nor repeat: three pages of two cover the four users once.
    const seen: string[] = [];
    for (const page of ['1', '2', '3']) {
      const result = await admin(['users', 'list', '--json', '--limit', '2', '--page', page]);
      assertOk(result, `page ${page}`);
      seen.push(...jsonLines(result.stdout).map((u) => u.username as string));
      if (page === '1') assert.match(result.stderr, /^users 1-2 of 4 in acme; next page: --page 2$/m);
    }
    assert.deepEqual(seen.sort(), ['alice', 'bob', 'carol', 'dave']);
    assertOneLine(await admin(['users', 'list', '--limit', '5000']), /--limit must be a whole number from 1 to 1000/, 'limit too big');
  });

  it('users show: by id, username or email; counts second factors and live refresh-token families; shows a block', async () => {
    const signIn = await postForm(server.at('/oauth/token'), {
      grant_type: 'password',
      username: 'carol',
      password: PASSWORD,
      audience: API,
      scope: 'offline_access read:x',
      ...CLIENT,
    });
    assert.equal(typeof signIn.body.refresh_token, 'string', signIn.text);
    const byName = await admin(['users', 'show', 'carol', '--json']);
    assertOk(byName, 'users show carol');
    const carol = JSON.parse(byName.stdout) as Record<string, unknown>;
    assert.equal(carol.refresh_token_families, 1);
    assert.equal(carol.mfa_factors, 0);
    assert.equal(carol.blocked, false);
    assert.deepEqual(carol.brute_force_locks, []);
    assert.ok(!('password_hash' in carol) && !byName.stdout.includes('$argon2'), 'no password hash shown');

    // A second factor, added as the enrolment would store it (the MFA suites prove enrolment itself).
    const { db } = openDatabase(`sqlite:${join(dir, 'latchkey.db')}`);
    const stores = createSqlStores(db);
    try {
      const tenantRow = await db.selectFrom('tenants').select('id').where('name', '=', 'acme').executeTakeFirstOrThrow();
      await stores.mfa.addAuthenticator({
        id: `email|${randomUUID()}`,
        tenantId: tenantRow.id,
        userId: carol.id as string,
        type: 'email',
        secretSealed: null,
        email: 'carol@ops.test',
        createdAt: new Date(),
      });
    } finally {
      await stores.close();
    }
    assertOk(await admin(['users', 'block', 'carol']), 'users block carol');

    for (const ref of [carol.id as string, 'carol@ops.test']) {
      const text = await admin(['users', 'show', ref]);
      assertOk(text, `users show ${ref}`);
      assert.match(text.stdout, /^username\s+carol$/m);
      assert.match(text.stdout, /^mfa_factors\s+1$/m);
      assert.match(text.stdout, /^refresh_token_families\s+0$/m, 'the block revoked the family');
      assert.match(text.stdout, /^blocked\s+true$/m);
      assert.match(text.stdout, /^blocked_at\s+\d{4}-/m);
    }
    assertOk(await admin(['users', 'unblock', 'carol']), 'users unblock carol');
    assertOneLine(await admin(['users', 'show', 'nobody']), /no user "nobody" in acme/, 'unknown user');
  });

  it('users delete: refused off a terminal without --yes; with it the refresh token stops, factors and user are gone, user_deleted is logged', async () => {
    const signIn = await postForm(server.at('/oauth/token'), {
      grant_type: 'password',
      username: 'alice',
      password: PASSWORD,
      audience: API,
      scope: 'offline_access read:x',
      ...CLIENT,
    });
    assert.equal(typeof signIn.body.refresh_token, 'string', signIn.text);

    assertOneLine(await admin(['users', 'delete', 'alice']), /not deleted: pass --yes/, 'no --yes off a terminal');
    assertOk(await admin(['users', 'show', 'alice']), 'alice still exists after the refusal');

    const deleted = await admin(['users', 'delete', 'alice@ops.test', '--yes']);
    assertOk(deleted, 'users delete --yes');
    assert.match(
      deleted.stdout,
      /^deleted alice \(id [^)]+\) from acme\/Username-Password-Authentication: revoked 1 refresh token family/m,
    );

    const refresh = await postForm(server.at('/oauth/token'), {
      grant_type: 'refresh_token',
      refresh_token: signIn.body.refresh_token as string,
      ...CLIENT,
    });
    assert.equal(refresh.status, 400, `the deleted user's refresh token is refused: ${refresh.text}`);
    assert.equal(refresh.body.error, 'invalid_grant');
    const login = await postForm(server.at('/oauth/token'), {
      grant_type: 'password',
      username: 'alice',
      password: PASSWORD,
      audience: API,
      ...CLIENT,
    });
    assert.equal(login.status, 400, login.text);
    assertOneLine(await admin(['users', 'show', 'alice']), /no user "alice"/, 'alice is gone');

    const logs = await admin(['logs', '--type', 'user_deleted', '--json']);
    assertOk(logs, 'logs --type user_deleted');
    const [event, ...more] = jsonLines(logs.stdout);
    assert.equal(more.length, 0, logs.stdout);
    assert.equal(event?.type, 'user_deleted');
    assert.equal(event?.reason, 'cli');
    assert.equal(event?.connection, 'Username-Password-Authentication');
  });

  it('users delete on a terminal asks first: "n" keeps the user, "y" deletes', {
    skip: scriptMissing ? 'script (util-linux) is not installed' : false,
  }, async () => {
    const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;
    const command = [process.execPath, ...tsxCliArgs(['users', 'delete', 'bob'])].map(quote).join(' ');
    const onTerminal = (answer: string) =>
      runProcess('script', ['-qec', command, '/dev/null'], { env: { ...env, LATCHKEY_CONFIG: configFile }, input: `${answer}\n` });
    const no = await onTerminal('n');
    assert.equal(no.code, 1, no.stdout);
    assert.match(no.stdout, /delete user bob \(id [^)]+\) from acme\/Username-Password-Authentication\? \[y\/N\]/);
    assert.match(no.stdout, /latchkey: not deleted/);
    assertOk(await admin(['users', 'show', 'bob']), 'bob is kept after "n"');
    const yes = await onTerminal('y');
    assert.equal(yes.code, 0, yes.stdout);
    assert.match(yes.stdout, /^deleted bob /m);
    assertOneLine(await admin(['users', 'show', 'bob']), /no user "bob"/, 'bob is gone after "y"');
  });

  it('apps list and show: client_id, name, auth method, grants, callbacks, client grants; never the secret or its HMAC', async () => {
    const db = new Database(join(dir, 'latchkey.db'), { readonly: true, fileMustExist: true });
    const hashes = (db.prepare('SELECT client_secret_hash FROM applications').all() as Array<{ client_secret_hash: string | null }>)
      .map((r) => r.client_secret_hash)
      .filter((h): h is string => h !== null);
    db.close();
    assert.equal(hashes.length, 2, 'both applications have a stored HMAC to look for');

    const list = await admin(['apps', 'list']);
    assertOk(list, 'apps list');
    assert.match(list.stdout, /^CLIENT_ID\s+NAME\s+AUTH METHOD\s+GRANT TYPES\s+CALLBACKS$/m);
    assert.match(list.stdout, /^ops-machine\s+-\s+client_secret_basic\s+client_credentials\s+-$/m);
    assert.match(
      list.stdout,
      /^ops-web\s+Ops Web\s+client_secret_post\s+password,refresh_token,authorization_code\s+https:\/\/ops\.example\.test\/callback$/m,
    );

    const show = await admin(['apps', 'show', 'ops-machine', '--json']);
    assertOk(show, 'apps show --json');
    const app = JSON.parse(show.stdout) as Record<string, unknown>;
    assert.equal(app.client_id, 'ops-machine');
    assert.equal(app.token_endpoint_auth_method, 'client_secret_basic');
    assert.equal(app.has_client_secret, true);
    assert.deepEqual(app.client_grants, [{ audience: API, scope: ['read:x'] }]);
    const text = await admin(['apps', 'show', 'ops-web']);
    assertOk(text, 'apps show');
    assert.match(text.stdout, /^callbacks\s+https:\/\/ops\.example\.test\/callback$/m);

    for (const output of [list.stdout, show.stdout, text.stdout, (await admin(['apps', 'list', '--json'])).stdout]) {
      for (const secret of [CLIENT.client_secret, MACHINE.client_secret, ...hashes])
        assert.ok(!output.includes(secret), 'no secret or HMAC printed');
      assert.ok(!/secret_hash|"client_secret"/.test(output), output);
    }
    assertOneLine(await admin(['apps', 'show', 'nope']), /no application "nope" in tenant acme/, 'unknown app');
  });

  it('--config wins over LATCHKEY_CONFIG', async () => {
    const result = await runCli(['apps', 'list', '--config', configFile], { env: { ...env, LATCHKEY_CONFIG: join(dir, 'missing.yaml') } });
    assertOk(result, 'apps list --config with a wrong LATCHKEY_CONFIG');
    assert.ok(!existsSync(join(dir, 'missing.yaml')));
  });
});
