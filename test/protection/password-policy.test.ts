/**
 * Password policy, black box: the real server and the real `latchkey` CLI
 * on one SQLite file.
 *
 * - `users add`, `users import` and `users set-password` refuse a password
 *   that breaks the connection's policy with a message naming the rule
 *   (min_length, max_length, breached) and exit 1; the user is really not
 *   created (import: only the good entries are) and the password really not
 *   changed, as a login shows; each refusal is a password_policy_refused
 *   security event naming the rule, never the password;
 * - a connection with a stricter min_length applies it to its own users only;
 * - an imported hash of a breached password is accepted at import;
 * - a correct password on the breached list, at login: `flag` issues tokens
 *   and writes login_success with reason password_breached; `refuse`
 *   answers 400 invalid_grant with error_reason password_breached and writes
 *   login_failure password_breached (a wrong password there still gets the
 *   generic answer); `allow` issues tokens with no flag.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../../src/identity/passwords.js';
import { ALICE, WEB } from '../helpers/fixtures.js';
import { decodeJwt, type JsonResponse } from '../helpers/http.js';
import {
  ALLOW_CONNECTION,
  ALLOWED,
  assertExit,
  DEFAULT_CONNECTION,
  FLAGGED,
  policyTenant,
  PolicyHarness,
  REFUSE_CONNECTION,
  REFUSED,
  STRICT_LENGTH,
  type LoggedEvent,
} from '../helpers/policy.js';

describe('password policy (server and CLI)', () => {
  let h: PolicyHarness;

  before(async () => {
    h = await PolicyHarness.start(await policyTenant());
  });

  after(async () => {
    await h?.close();
  });

  async function assertSignsIn(
    username: string,
    password: string,
    what: string,
    extra: Record<string, string> = {},
  ): Promise<JsonResponse> {
    const res = await h.login(username, password, extra);
    assert.equal(res.status, 200, `${what}: ${res.text}`);
    assert.equal(typeof res.body.access_token, 'string', what);
    return res;
  }

  async function assertWrongCredentials(
    username: string,
    password: string,
    what: string,
    extra: Record<string, string> = {},
  ): Promise<void> {
    const res = await h.login(username, password, extra);
    assert.equal(res.status, 400, `${what}: ${res.text}`);
    assert.equal(res.body.error, 'invalid_grant', what);
    assert.equal(res.body.error_reason, undefined, `${what}: the generic refusal`);
  }

  /** The newest password_policy_refused events for a login name. */
  async function refusalsFor(identifier: string): Promise<LoggedEvent[]> {
    return (await h.logs(['--type', 'password_policy_refused'])).filter((e) => e.identifier === identifier);
  }

  it('users add: a breached password is refused naming the rule, exit 1; the user does not exist', async () => {
    const username = 'breached-add@acme.test';
    const result = await h.admin(['users', 'add', '--username', username, '--password-stdin'], 'Password1\n');
    assertExit(result, 1, 'users add with a breached password');
    assert.match(result.stderr, /password policy \(breached\): /);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, `one line on stderr:\n${result.stderr}`);
    assert.ok(!(result.stdout + result.stderr).includes('Password1'), 'the password is not echoed');
    assert.doesNotMatch(result.stdout, /created user/);

    assert.equal(h.userExists(username), false, 'no row was written');
    await assertWrongCredentials(username, 'Password1', 'the refused user cannot sign in');

    const [event] = await refusalsFor(username);
    assert.ok(event, 'a password_policy_refused event');
    assert.equal(event.reason, 'breached');
    assert.equal(event.connection, DEFAULT_CONNECTION);
    assert.equal(event.tenant, 'acme');
    assert.deepEqual(event.details, { operation: 'create' });
  });

  it('users add: a short password is refused as min_length, an over-long one as max_length', async () => {
    const [short, long] = await Promise.all([
      h.admin(['users', 'add', '--username', 'short-add@acme.test', '--password-stdin'], 'kx9!qZ7\n'),
      h.admin(['users', 'add', '--username', 'long-add@acme.test', '--password-stdin'], `${'L'.repeat(1025)}\n`),
    ]);
    assertExit(short, 1, 'users add with 7 characters');
    assert.match(short.stderr, /password policy \(min_length\): the password must have at least 8 characters/);
    assertExit(long, 1, 'users add with 1025 characters');
    assert.match(long.stderr, /password policy \(max_length\): the password must have at most 1024 characters/);
    assert.equal(h.userExists('short-add@acme.test'), false);
    assert.equal(h.userExists('long-add@acme.test'), false);
    assert.equal((await refusalsFor('short-add@acme.test'))[0]?.reason, 'min_length');
    assert.equal((await refusalsFor('long-add@acme.test'))[0]?.reason, 'max_length');
  });

  it('a stricter min_length applies to its connection only', async () => {
    const twelve = 'kx9!qZ7-tree'; // 12 characters, not on the list
    const sixteen = 'kx9!qZ7-tree-bud'; // 16
    const strict = await h.admin(
      ['users', 'add', '--connection', STRICT_LENGTH.name, '--username', 'pat@partner.test', '--password-stdin'],
      `${twelve}\n`,
    );
    assertExit(strict, 1, 'users add into the strict connection');
    assert.match(strict.stderr, /password policy \(min_length\): the password must have at least 16 characters/);
    assert.equal(h.userExists('pat@partner.test', STRICT_LENGTH.name), false);

    // The same password is fine on the default connection.
    const relaxed = await h.admin(['users', 'add', '--username', 'pat@partner.test', '--password-stdin'], `${twelve}\n`);
    assertExit(relaxed, 0, 'users add into the default connection');
    await assertSignsIn('pat@partner.test', twelve, 'default-connection user');
    await assertWrongCredentials('pat@partner.test', twelve, 'not in the strict connection', { realm: STRICT_LENGTH.name });

    const ok = await h.admin(
      ['users', 'add', '--connection', STRICT_LENGTH.name, '--username', 'pat@partner.test', '--password-stdin'],
      `${sixteen}\n`,
    );
    assertExit(ok, 0, 'users add with 16 characters into the strict connection');
    await assertSignsIn('pat@partner.test', sixteen, 'strict-connection user', { realm: STRICT_LENGTH.name });
  });

  it('users import: refused entries are listed with their rule, exit 1; only the good ones exist; an imported breached hash is kept', async () => {
    const file = join(h.dir, 'import.json');
    const legacyHash = await hashPassword('password1');
    writeFileSync(
      file,
      JSON.stringify([
        { username: 'good-import@acme.test', password: 'a perfectly fine passphrase' },
        { username: 'breached-import@acme.test', password: 'trustno1' },
        { username: 'short-import@acme.test', password: 'kx9!q' },
        { username: 'legacy-import@acme.test', password_hash: legacyHash },
      ]),
    );
    const result = await h.admin(['users', 'import', '--file', file]);
    assertExit(result, 1, 'users import with refused entries');
    assert.match(result.stdout, /imported 2 of 4 users/);
    assert.match(result.stdout, /skipped 2:/);
    assert.match(result.stdout, /\[1\] breached-import@acme\.test: password policy \(breached\): /);
    assert.match(result.stdout, /\[2\] short-import@acme\.test: password policy \(min_length\): /);
    assert.doesNotMatch(result.stdout, /good-import|legacy-import/, 'accepted entries are not listed as skipped');
    assert.ok(!(result.stdout + result.stderr).includes('trustno1'), 'no password echoed');

    assert.equal(h.userExists('breached-import@acme.test'), false);
    assert.equal(h.userExists('short-import@acme.test'), false);
    await assertWrongCredentials('breached-import@acme.test', 'trustno1', 'refused breached entry');
    await assertSignsIn('good-import@acme.test', 'a perfectly fine passphrase', 'accepted entry');
    // Not checked at import; flagged at login (the default connection's on_breached_login is flag).
    await assertSignsIn('legacy-import@acme.test', 'password1', 'imported breached hash');

    const events = await h.logs(['--type', 'password_policy_refused']);
    const byName = (name: string) => events.find((e) => e.identifier === name);
    assert.equal(byName('breached-import@acme.test')?.reason, 'breached');
    assert.equal(byName('short-import@acme.test')?.reason, 'min_length');
    assert.deepEqual(byName('short-import@acme.test')?.details, { operation: 'import' });
    assert.equal(byName('legacy-import@acme.test'), undefined, 'an imported hash is not refused');
  });

  it('users set-password: a breached or short new password is refused, exit 1; the old password still works', async () => {
    const [breached, short] = await Promise.all([
      h.admin(['users', 'set-password', ALICE.username, '--password-stdin'], 'ILOVEYOU\n'),
      h.admin(['users', 'set-password', ALICE.username, '--password-stdin'], 'kx9!q\n'),
    ]);
    assertExit(breached, 1, 'set-password breached');
    assert.match(breached.stderr, /password policy \(breached\): /);
    assert.doesNotMatch(breached.stdout, /password changed/);
    assertExit(short, 1, 'set-password short');
    assert.match(short.stderr, /password policy \(min_length\): /);

    await assertSignsIn(ALICE.username, ALICE.password, 'the old password');
    await assertWrongCredentials(ALICE.username, 'ILOVEYOU', 'the refused password');
    await assertWrongCredentials(ALICE.username, 'kx9!q', 'the refused short password');

    const refusals = await refusalsFor(ALICE.username);
    assert.deepEqual(new Set(refusals.map((e) => e.reason)), new Set(['breached', 'min_length']));
    assert.ok(
      refusals.every((e) => e.details?.operation === 'change'),
      JSON.stringify(refusals),
    );

    // A compliant change still goes through (the refusals above were the policy, not the command).
    const changed = await h.admin(['users', 'set-password', ALICE.username, '--password-stdin'], 'alice second passphrase\n');
    assertExit(changed, 0, 'set-password compliant');
    await assertSignsIn(ALICE.username, 'alice second passphrase', 'the new password');
    await assertWrongCredentials(ALICE.username, ALICE.password, 'the old password after the change');
  });

  it('login with a breached password under flag: tokens, and login_success with reason password_breached', async () => {
    const before = h.serverEvents().length;
    const res = await assertSignsIn(FLAGGED.username, FLAGGED.password, 'flagged login');
    const userId = h.userId(FLAGGED.username);
    assert.equal(decodeJwt(res.body.access_token as string).payload.sub, userId);

    const events = h.serverEvents().slice(before);
    const success = events.filter((e) => e.security_event === 'login_success');
    assert.equal(success.length, 1, JSON.stringify(events));
    assert.equal(success[0]?.reason, 'password_breached');
    assert.equal(success[0]?.user_id, userId);
    assert.equal(success[0]?.client_id, WEB.client_id);
    assert.ok(!events.some((e) => e.security_event === 'login_failure'), 'no failure recorded');

    const [stored] = await h.logs(['--type', 'login_success', '--user', FLAGGED.username, '-n', '1']);
    assert.equal(stored?.reason, 'password_breached');
    assert.equal(stored?.user_id, userId);

    // A password not on the list is not flagged.
    const beforeClean = h.serverEvents().length;
    await assertSignsIn('good-import@acme.test', 'a perfectly fine passphrase', 'clean login');
    const clean = h
      .serverEvents()
      .slice(beforeClean)
      .find((e) => e.security_event === 'login_success');
    assert.ok(clean, 'a login_success event');
    assert.equal(clean.reason, undefined, 'no flag for a password off the list');
  });

  it('login with a breached password under refuse: 400 invalid_grant, error_reason password_breached, login_failure event', async () => {
    const before = h.serverEvents().length;
    const res = await h.login(REFUSED.username, REFUSED.password, { realm: REFUSE_CONNECTION });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.error, 'invalid_grant');
    assert.equal(res.body.error_reason, 'password_breached');
    assert.equal(res.body.access_token, undefined);

    const userId = h.userId(REFUSED.username, REFUSE_CONNECTION);
    const events = h.serverEvents().slice(before);
    assert.ok(!events.some((e) => e.security_event === 'login_success'), JSON.stringify(events));
    const failure = events.find((e) => e.security_event === 'login_failure');
    assert.equal(failure?.reason, 'password_breached');
    assert.equal(failure?.user_id, userId);
    assert.equal(failure?.connection, REFUSE_CONNECTION);

    const stored = await h.logs(['--type', 'login_failure']);
    assert.ok(
      stored.some((e) => e.reason === 'password_breached' && e.user_id === userId),
      JSON.stringify(stored),
    );

    // Only someone who knows the password learns it is breached.
    await assertWrongCredentials(REFUSED.username, 'qwertyuiop-not', 'a wrong password', { realm: REFUSE_CONNECTION });
  });

  it('login with a breached password under allow: tokens, and no flag', async () => {
    const before = h.serverEvents().length;
    await assertSignsIn(ALLOWED.username, ALLOWED.password, 'allowed login', { realm: ALLOW_CONNECTION });
    const events = h.serverEvents().slice(before);
    const success = events.filter((e) => e.security_event === 'login_success');
    assert.equal(success.length, 1, JSON.stringify(events));
    assert.equal(success[0]?.reason, undefined);
    assert.equal(success[0]?.user_id, h.userId(ALLOWED.username, ALLOW_CONNECTION));
    assert.ok(
      !h.server.logs.slice(-20).some((l) => l.includes('password_breached') && l.includes(ALLOW_CONNECTION)),
      'nothing mentions the list',
    );
  });
});
