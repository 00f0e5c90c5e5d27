/**
 * The `latchkey` admin CLI, run as a real process against a config file and
 * a data directory, with the server stopped and with it running on the same
 * SQLite file (WAL lets both work at once). What an operator does with it
 * must show at the token endpoint:
 *
 * - `users add --password-stdin` creates a user who can sign in;
 * - `users import` takes bcrypt and argon2id hashes; both users sign in, and
 *   a bcrypt hash is replaced by argon2id after the first successful login;
 *   a bcrypt user's password longer than 72 bytes is refused even when its
 *   first 72 bytes match (no silent truncation);
 * - `users block` refuses sign-in and refresh with error_reason
 *   user_blocked, `users unblock` restores sign-in; the refresh tokens the
 *   block revoked stay revoked (issue #11 point 5);
 * - `users set-password` makes the old password fail and the new one work;
 * - `keys rotate` publishes the new key next to the old one, tokens issued
 *   after a restart carry the new kid, and tokens issued before still verify
 *   against the published JWKS;
 * - `config check` exits 0 on a valid file and 1 naming the bad key path;
 *   subcommands print a usage line with --help; unknown tenants, connections
 *   and users are one clear line on stderr and exit 1, never a stack trace.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hash as argon2Hash } from '@node-rs/argon2';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import Database from 'better-sqlite3';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { hasStackTrace, runCli, writeYamlConfig, type ProcessResult } from '../helpers/cli-process.js';
import { decodeJwt, get, postForm, type JsonResponse } from '../helpers/http.js';
import { TEST_MASTER_KEY, startTestServer, type TenantInput, type TestServer } from '../helpers/server.js';

const API = 'https://api.cli.test';
const CLIENT = { client_id: 'cli-web', client_secret: 'cli-web-secret-0123456789' };
const TENANT: TenantInput = {
  name: 'acme',
  default_directory: 'Username-Password-Authentication',
  connections: [
    { name: 'Username-Password-Authentication', type: 'database' },
    { name: 'partners', type: 'database' },
  ],
  apis: [{ identifier: API, scopes: ['read:x'], token_lifetime: 600, allow_offline_access: true }],
  applications: [{ ...CLIENT, token_endpoint_auth_method: 'client_secret_post', grant_types: ['password', 'refresh_token'] }],
};

const ERIN = { username: 'erin@cli.test', password: 'erin first password' };
const BCRYPT_USER = { username: 'bcrypt-user', password: 'bcrypt imported password' };
const ARGON_USER = { email: 'argon@cli.test', password: 'argon imported password' };
/** Exactly 72 bytes: everything bcrypt reads. */
const LONG_BCRYPT = { username: 'long-bcrypt', password: `${'L'.repeat(60)}0123456789ab` };

describe('latchkey CLI', () => {
  let dir: string;
  let configFile: string;
  let server: TestServer | undefined;
  const env = { LATCHKEY_MASTER_KEY: TEST_MASTER_KEY };

  const cli = (args: string[], input?: string): Promise<ProcessResult> => runCli(args, { env, ...(input === undefined ? {} : { input }) });
  const admin = (args: string[], input?: string) => cli([...args, '--config', configFile], input);

  function assertOk(result: ProcessResult, what: string): void {
    assert.equal(result.code, 0, `${what}: exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }

  /** Exit 1 with exactly one line on stderr, matching `message`, and no stack trace. */
  function assertOperatorError(result: ProcessResult, message: RegExp, what: string): void {
    assert.equal(result.code, 1, `${what}: exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, `${what}: one line on stderr, got:\n${result.stderr}`);
    assert.match(result.stderr, message, what);
    assert.ok(!hasStackTrace(result.stderr + result.stdout), `${what}: stack trace\n${result.stderr}`);
  }

  function running(): TestServer {
    assert.ok(server, 'the server is running');
    return server;
  }

  const login = (username: string, password: string, extra: Record<string, string> = {}): Promise<JsonResponse> =>
    postForm(running().at('/oauth/token'), { grant_type: 'password', username, password, audience: API, ...CLIENT, ...extra });

  async function assertSignsIn(username: string, password: string, what: string): Promise<JsonResponse> {
    const res = await login(username, password);
    assert.equal(res.status, 200, `${what}: ${res.text}`);
    return res;
  }

  async function assertRefused(username: string, password: string, what: string): Promise<JsonResponse> {
    const res = await login(username, password);
    assert.equal(res.status, 400, `${what}: ${res.text}`);
    assert.equal(res.body.error, 'invalid_grant', what);
    return res;
  }

  function storedHash(username: string): string {
    const db = new Database(join(dir, 'latchkey.db'), { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare('SELECT password_hash FROM users WHERE username = ?').get(username) as
        | { password_hash: string | null }
        | undefined;
      assert.ok(row?.password_hash, `user ${username} has a stored hash`);
      return row.password_hash;
    } finally {
      db.close();
    }
  }

  async function restartServer(): Promise<TestServer> {
    await server?.close();
    server = await startTestServer({ dir, tenants: [TENANT] });
    return server;
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-cli-'));
    // The same tenant the test server is given, as an operator's YAML file, on the same database.
    configFile = writeYamlConfig(dir, {
      public_url: 'http://127.0.0.1:3999',
      database: `sqlite:${join(dir, 'latchkey.db')}`,
      log_level: 'warn',
      tenants: [TENANT],
    });
  });

  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('users add (server stopped) with --password-stdin: the user can then sign in', async () => {
    const added = await admin(
      ['users', 'add', '--username', ERIN.username, '--email', ERIN.username, '--name', 'Erin', '--password-stdin'],
      `${ERIN.password}\n`,
    );
    assertOk(added, 'users add');
    assert.match(added.stdout, /created user erin@cli\.test/);
    assert.ok(!added.stdout.includes(ERIN.password) && !added.stderr.includes(ERIN.password), 'the password is not echoed');

    await restartServer();
    const res = await assertSignsIn(ERIN.username, ERIN.password, 'the added user');
    assert.equal(decodeJwt(res.body.access_token as string).payload.aud, API);
  });

  it('users add refuses a duplicate and a too-short password with one clear line', async () => {
    const [duplicate, short] = await Promise.all([
      admin(['users', 'add', '--username', ERIN.username, '--password-stdin'], 'another password\n'),
      admin(['users', 'add', '--username', 'short@cli.test', '--password-stdin'], 'short\n'),
    ]);
    assertOperatorError(duplicate, /already exists/, 'duplicate');
    assertOperatorError(short, /at least 8 characters/, 'short password');
  });

  it('users add (server running) into another connection: visible at once, only in that realm', async () => {
    const added = await admin(
      ['users', 'add', '--connection', 'partners', '--username', 'pat@partner.test', '--password-stdin'],
      'partner password 1\n',
    );
    assertOk(added, 'users add --connection partners');
    const withRealm = await login('pat@partner.test', 'partner password 1', { realm: 'partners' });
    assert.equal(withRealm.status, 200, withRealm.text);
    await assertRefused('pat@partner.test', 'partner password 1', 'not in the default connection');
  });

  it('users import: bcrypt and argon2id hashes sign in; bcrypt is upgraded to argon2id after login', async () => {
    const file = join(dir, 'import.json');
    writeFileSync(
      file,
      JSON.stringify([
        { username: BCRYPT_USER.username, password_hash: await bcryptHash(BCRYPT_USER.password, 5), name: 'Bea Crypt' },
        { email: ARGON_USER.email, password_hash: await argon2Hash(ARGON_USER.password), email_verified: true },
        { username: LONG_BCRYPT.username, password_hash: await bcryptHash(LONG_BCRYPT.password, 5) },
      ]),
    );
    const imported = await admin(['users', 'import', '--file', file]);
    assertOk(imported, 'users import');
    assert.match(imported.stdout, /imported 3 of 3/);
    assert.match(storedHash(BCRYPT_USER.username), /^\$2b\$/, 'stored as imported until the first login');

    await assertSignsIn(ARGON_USER.email, ARGON_USER.password, 'argon2id-imported user');
    await assertSignsIn(BCRYPT_USER.username, BCRYPT_USER.password, 'bcrypt-imported user');

    // The upgrade runs after the response; poll the database file with a bounded deadline.
    const deadline = Date.now() + 10_000;
    let hash = storedHash(BCRYPT_USER.username);
    while (!hash.startsWith('$argon2id$') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      hash = storedHash(BCRYPT_USER.username);
    }
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/, 'rehashed with the current argon2id parameters');
    await assertSignsIn(BCRYPT_USER.username, BCRYPT_USER.password, 'after the upgrade');
    await assertRefused(BCRYPT_USER.username, `${BCRYPT_USER.password}x`, 'the upgraded hash still checks the password');
  });

  it('users import again: existing users are skipped and reported, exit 1', async () => {
    const file = join(dir, 'import-again.json');
    writeFileSync(
      file,
      JSON.stringify([
        { username: BCRYPT_USER.username, password: 'whatever password' },
        { username: 'new-one', password: 'brand new password' },
      ]),
    );
    const result = await admin(['users', 'import', '--file', file]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /imported 1 of 2/);
    assert.match(result.stdout, /bcrypt-user: .*already exists/);
    assert.ok(!hasStackTrace(result.stdout + result.stderr));
  });

  it('a bcrypt-imported password longer than 72 bytes is refused even though its first 72 bytes match', async () => {
    assert.equal(Buffer.byteLength(LONG_BCRYPT.password), 72);
    await assertRefused(LONG_BCRYPT.username, `${LONG_BCRYPT.password}-and-more`, 'no truncation to 72 bytes');
    await assertSignsIn(LONG_BCRYPT.username, LONG_BCRYPT.password, 'the exact 72-byte password');
  });

  it('users block refuses sign-in and refresh with user_blocked; users unblock restores sign-in, not the revoked refresh token', async () => {
    const before = await assertSignsIn(ERIN.username, ERIN.password, 'before the block');
    const withRefresh = await login(ERIN.username, ERIN.password, { scope: 'offline_access read:x' });
    assert.equal(typeof withRefresh.body.refresh_token, 'string', withRefresh.text);
    assert.ok(before.body.access_token);

    const blocked = await admin(['users', 'block', ERIN.username]);
    assertOk(blocked, 'users block');
    assert.match(blocked.stdout, /blocked erin@cli\.test/);
    const refused = await assertRefused(ERIN.username, ERIN.password, 'blocked user');
    assert.equal(refused.body.error_reason, 'user_blocked');
    const refresh = await postForm(running().at('/oauth/token'), {
      grant_type: 'refresh_token',
      refresh_token: withRefresh.body.refresh_token as string,
      ...CLIENT,
    });
    assert.equal(refresh.body.error, 'invalid_grant', refresh.text);
    assert.equal(refresh.body.error_reason, 'user_blocked');

    assertOk(await admin(['users', 'unblock', ERIN.username]), 'users unblock');
    await assertSignsIn(ERIN.username, ERIN.password, 'unblocked user');
    // Issue #11 point 5: the block revoked the user's refresh tokens, and unblocking revives none.
    const refreshAgain = await postForm(running().at('/oauth/token'), {
      grant_type: 'refresh_token',
      refresh_token: withRefresh.body.refresh_token as string,
      ...CLIENT,
    });
    assert.equal(refreshAgain.status, 400, `the pre-block refresh token stays revoked: ${refreshAgain.text}`);
    assert.equal(refreshAgain.body.error, 'invalid_grant', refreshAgain.text);
    const fresh = await login(ERIN.username, ERIN.password, { scope: 'offline_access read:x' });
    const refreshFresh = await postForm(running().at('/oauth/token'), {
      grant_type: 'refresh_token',
      refresh_token: fresh.body.refresh_token as string,
      ...CLIENT,
    });
    assert.equal(refreshFresh.status, 200, `a refresh token from a sign-in after the unblock works: ${refreshFresh.text}`);
  });

  it('users set-password: the old password is refused, the new one accepted', async () => {
    const newPassword = 'erin second password';
    const changed = await admin(['users', 'set-password', ERIN.username, '--password-stdin'], `${newPassword}\n`);
    assertOk(changed, 'users set-password');
    await assertRefused(ERIN.username, ERIN.password, 'old password');
    await assertSignsIn(ERIN.username, newPassword, 'new password');
    ERIN.password = newPassword;
  });

  it('keys rotate: the JWKS lists old and new kid; new tokens carry the new kid after a restart; old tokens still verify', async () => {
    const beforeRotation = await assertSignsIn(ERIN.username, ERIN.password, 'token before rotation');
    const oldToken = beforeRotation.body.access_token as string;
    const oldKid = decodeJwt(oldToken).header.kid as string;
    const jwksBefore = (await get(`${running().issuer()}.well-known/jwks.json`)).body as unknown as JSONWebKeySet;
    assert.deepEqual(
      jwksBefore.keys.map((k) => k.kid),
      [oldKid],
    );

    const rotated = await admin(['keys', 'rotate']);
    assertOk(rotated, 'keys rotate');
    const newKid = /new RS256 signing key ([A-Za-z0-9_-]+)/.exec(rotated.stdout)?.[1];
    assert.ok(newKid && newKid !== oldKid, rotated.stdout);

    // Published at once, by the running server, from the shared database.
    const jwksRunning = (await get(`${running().issuer()}.well-known/jwks.json`)).body as unknown as JSONWebKeySet;
    assert.deepEqual(new Set(jwksRunning.keys.map((k) => k.kid)), new Set([oldKid, newKid]));

    await restartServer();
    const afterRestart = await assertSignsIn(ERIN.username, ERIN.password, 'token after restart');
    assert.equal(decodeJwt(afterRestart.body.access_token as string).header.kid, newKid);

    const jwks = (await get(`${running().issuer()}.well-known/jwks.json`)).body as unknown as JSONWebKeySet;
    assert.deepEqual(new Set(jwks.keys.map((k) => k.kid)), new Set([oldKid, newKid]));
    const keySet = createLocalJWKSet(jwks);
    const verifiedOld = await jwtVerify(oldToken, keySet, { audience: API, typ: 'at+jwt' });
    assert.equal(verifiedOld.protectedHeader.kid, oldKid);
    const verifiedNew = await jwtVerify(afterRestart.body.access_token as string, keySet, {
      issuer: running().issuer(),
      audience: API,
      typ: 'at+jwt',
    });
    assert.equal(verifiedNew.protectedHeader.kid, newKid);
  });

  it('config check: exit 0 on a valid file, 1 naming the key path on an invalid one', async () => {
    const invalid = writeYamlConfig(
      dir,
      {
        tenants: [
          {
            ...TENANT,
            applications: [{ ...CLIENT, grant_types: ['password', 'implicit'] }],
            apis: [{ identifier: API, token_lifetime: -5 }],
          },
        ],
      },
      'invalid.yaml',
    );
    const [valid, result] = await Promise.all([
      cli(['config', 'check', '--config', configFile]),
      cli(['config', 'check', '--config', invalid]),
    ]);
    assertOk(valid, 'config check');
    assert.match(valid.stdout, /valid/);
    assert.match(valid.stdout, /acme/);

    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /tenants\[0\]\.applications\[0\]\.grant_types\[1\]/);
    assert.match(result.stderr, /tenants\[0\]\.apis\[0\]\.token_lifetime/);
    assert.ok(!hasStackTrace(result.stderr + result.stdout), result.stderr);
  });

  it('config check refuses what start-up would refuse: a seeded password below the policy, a truncated hash', async () => {
    const file = writeYamlConfig(
      dir,
      {
        tenants: [
          {
            name: 'acme',
            users: [
              { connection: 'Username-Password-Authentication', username: 'short', password: 'pwd' },
              { connection: 'Username-Password-Authentication', username: 'truncated', password_hash: '$2b$10$tooshort' },
            ],
          },
        ],
      },
      'seeds.yaml',
    );
    const result = await cli(['config', 'check', '--config', file]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /tenants\[0\]\.users\[0\]\.password: .*8 characters/);
    assert.match(result.stderr, /tenants\[0\]\.users\[1\]\.password_hash/);
    assert.ok(!hasStackTrace(result.stderr + result.stdout), result.stderr);
  });

  it('subcommands print a usage line with --help', async () => {
    const [help, rotate] = await Promise.all([cli(['users', 'unblock', '--help']), cli(['keys', 'rotate', '--help'])]);
    assertOk(help, 'users unblock --help');
    assert.match(help.stdout, /^Usage: latchkey users unblock \[options\] <username>$/m);
    assertOk(rotate, 'keys rotate --help');
    assert.match(rotate.stdout, /^Usage: latchkey keys rotate \[options\]$/m);
  });

  it('unknown tenant, connection or user: exit 1 with one clear line, no stack trace', async () => {
    const [tenant, connection, user, password, rotate] = await Promise.all([
      admin(['users', 'block', ERIN.username, '--tenant', 'nope']),
      admin(['users', 'unblock', ERIN.username, '--connection', 'nope']),
      admin(['users', 'block', 'nobody@cli.test']),
      admin(['users', 'set-password', 'nobody@cli.test', '--password-stdin'], 'some new password\n'),
      admin(['keys', 'rotate', '--tenant', 'nope']),
    ]);
    assertOperatorError(tenant, /^latchkey: no tenant "nope"/, 'unknown tenant');
    assertOperatorError(connection, /^latchkey: no connection "nope"/, 'unknown connection');
    assertOperatorError(user, /^latchkey: no user "nobody@cli\.test"/, 'unknown user');
    assertOperatorError(password, /^latchkey: no user "nobody@cli\.test"/, 'unknown user (set-password)');
    assertOperatorError(rotate, /^latchkey: no tenant "nope"/, 'unknown tenant (keys rotate)');
    // Nothing was changed by the failed commands.
    await assertSignsIn(ERIN.username, ERIN.password, 'still signs in');
  });
});
