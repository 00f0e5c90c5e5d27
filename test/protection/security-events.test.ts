/**
 * Security events, black box: logins against the real server, read back
 * from its log lines and with the real `latchkey logs` on the same SQLite
 * file.
 *
 * - every login outcome (success, success with a breached password, and
 *   failures unknown_user, wrong_password, no_password, user_blocked,
 *   password_breached) is one event with the tenant, client_id, user id when
 *   known, end-user IP 127.0.0.1 (or the IP a trusted backend forwards) and
 *   the reason, both as a server log line and as a stored row;
 * - `latchkey logs` filters by --type, --user (username, user id, and a
 *   login name that matches no user), --ip, --client, --since/--until
 *   (durations and ISO instants), -n; newest first; an unknown --type is
 *   exit 1 with one clear line; --help prints usage;
 * - no password or client secret appears in any server log line or in the
 *   output of `latchkey logs` (JSON or text).
 *
 * Events are spread in time with the server's injectable clock (no sleeps):
 * Alice's two attempts happen three hours "ago", everything else now.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ALICE, BASIC, BLOCKED, JOE, NO_REFRESH, WEB } from '../helpers/fixtures.js';
import {
  BACKEND,
  DEFAULT_CONNECTION,
  FLAGGED,
  policyTenant,
  PolicyHarness,
  REFUSE_CONNECTION,
  REFUSED,
  assertExit,
  type LoggedEvent,
} from '../helpers/policy.js';
import type { TenantInput } from '../helpers/server.js';

const TAG = randomBytes(5).toString('hex');
const WRONG = `WrongPw${TAG}alice`;
const UNKNOWN = { username: 'nobody@acme.test', password: `UnknownPw${TAG}x` };
const NO_PASSWORD = { username: 'nopass@acme.test', password: `NoPassPw${TAG}x` };
const FORWARDED_IP = '203.0.113.7';
const HOUR = 3600;

/** An expected event: what both the log line and the stored row must say. */
interface Expected {
  name: string;
  type: 'login_success' | 'login_failure';
  reason: string | undefined;
  clientId: string;
  identifier: string;
  userId: string | undefined;
  ip: string;
  connection: string;
  early: boolean;
}

describe('security events and latchkey logs', () => {
  let h: PolicyHarness;
  let tenant: TenantInput;
  let expected: Expected[];
  /** Between Alice's early attempts and the rest. */
  let midpoint: Date;
  let earlyStart: Date;
  /** Every `latchkey logs` output, for the no-secrets check. */
  const outputs: string[] = [];

  const logs = async (args: string[] = []): Promise<LoggedEvent[]> => {
    const events = await h.logs(args);
    outputs.push(JSON.stringify(events));
    return events;
  };
  const key = (e: { type: string; reason?: string | undefined; identifier?: string | undefined }) =>
    `${e.type}/${e.reason ?? '-'}/${e.identifier ?? '-'}`;
  const keysOf = (events: LoggedEvent[]) => events.map(key).sort();
  const expectedKeys = (pick: (e: Expected) => boolean) =>
    expected
      .filter(pick)
      .map((e) => key({ type: e.type, reason: e.reason, identifier: e.identifier }))
      .sort();
  /** Only the login events this suite drove (the CLI may add others, e.g. none today). */
  const logins = (events: LoggedEvent[]) => events.filter((e) => e.type === 'login_success' || e.type === 'login_failure');

  before(async () => {
    const base = await policyTenant();
    tenant = {
      ...base,
      users: [
        ...(base.users ?? []),
        { connection: DEFAULT_CONNECTION, username: NO_PASSWORD.username, password: 'nopass initial passphrase' },
      ],
    };
    h = await PolicyHarness.start(tenant, 'latchkey-events-');

    // A user with no password at all (as after an import without one): cleared in the database.
    const db = new Database(join(h.dir, 'latchkey.db'));
    try {
      assert.equal(db.prepare('UPDATE users SET password_hash = NULL WHERE username = ?').run(NO_PASSWORD.username).changes, 1);
    } finally {
      db.close();
    }

    const ok = (status: number, what: string, want: number) => assert.equal(status, want, what);
    earlyStart = new Date(h.server.clock.now().getTime() - 3 * HOUR * 1000 - 60_000);
    h.server.clock.advance(-3 * HOUR);
    ok((await h.login(ALICE.username, ALICE.password)).status, 'alice signs in', 200);
    ok((await h.login(ALICE.username, WRONG)).status, 'alice, wrong password', 400);
    h.server.clock.advance(3 * HOUR);
    midpoint = new Date(h.server.clock.now().getTime() - 1.5 * HOUR * 1000);

    ok((await h.login(UNKNOWN.username, UNKNOWN.password)).status, 'unknown user', 400);
    ok((await h.login(NO_PASSWORD.username, NO_PASSWORD.password)).status, 'no password', 400);
    ok((await h.login(BLOCKED.username, BLOCKED.password, {}, NO_REFRESH)).status, 'blocked user', 400);
    ok((await h.login(FLAGGED.username, FLAGGED.password)).status, 'breached, flagged', 200);
    ok((await h.login(REFUSED.username, REFUSED.password, { realm: REFUSE_CONNECTION })).status, 'breached, refused', 400);
    ok(
      (await h.login(JOE.username, JOE.password, {}, BACKEND, { 'auth0-forwarded-for': FORWARDED_IP })).status,
      'joe through the backend',
      200,
    );

    const local = '127.0.0.1';
    expected = [
      {
        name: 'alice success',
        type: 'login_success',
        reason: undefined,
        clientId: WEB.client_id,
        identifier: ALICE.username,
        userId: h.userId(ALICE.username),
        ip: local,
        connection: DEFAULT_CONNECTION,
        early: true,
      },
      {
        name: 'alice wrong password',
        type: 'login_failure',
        reason: 'wrong_password',
        clientId: WEB.client_id,
        identifier: ALICE.username,
        userId: h.userId(ALICE.username),
        ip: local,
        connection: DEFAULT_CONNECTION,
        early: true,
      },
      {
        name: 'unknown user',
        type: 'login_failure',
        reason: 'unknown_user',
        clientId: WEB.client_id,
        identifier: UNKNOWN.username,
        userId: undefined,
        ip: local,
        connection: DEFAULT_CONNECTION,
        early: false,
      },
      {
        name: 'no password',
        type: 'login_failure',
        reason: 'no_password',
        clientId: WEB.client_id,
        identifier: NO_PASSWORD.username,
        userId: h.userId(NO_PASSWORD.username),
        ip: local,
        connection: DEFAULT_CONNECTION,
        early: false,
      },
      {
        name: 'blocked user',
        type: 'login_failure',
        reason: 'user_blocked',
        clientId: NO_REFRESH.client_id,
        identifier: BLOCKED.username,
        userId: h.userId(BLOCKED.username),
        ip: local,
        connection: DEFAULT_CONNECTION,
        early: false,
      },
      {
        name: 'breached flagged',
        type: 'login_success',
        reason: 'password_breached',
        clientId: WEB.client_id,
        identifier: FLAGGED.username,
        userId: h.userId(FLAGGED.username),
        ip: local,
        connection: DEFAULT_CONNECTION,
        early: false,
      },
      {
        name: 'breached refused',
        type: 'login_failure',
        reason: 'password_breached',
        clientId: WEB.client_id,
        identifier: REFUSED.username,
        userId: h.userId(REFUSED.username, REFUSE_CONNECTION),
        ip: local,
        connection: REFUSE_CONNECTION,
        early: false,
      },
      {
        name: 'forwarded',
        type: 'login_success',
        reason: undefined,
        clientId: BACKEND.client_id,
        identifier: JOE.username,
        userId: h.userId(JOE.username),
        ip: FORWARDED_IP,
        connection: DEFAULT_CONNECTION,
        early: false,
      },
    ];
  });

  after(async () => {
    await h?.close();
  });

  it('each login outcome is a log line with tenant id, client_id, user id, ip and reason', () => {
    const lines = h.serverEvents();
    const tenantId = h.tenantId();
    for (const e of expected) {
      const matching = lines.filter(
        (l) =>
          l.security_event === e.type && l.reason === e.reason && l.client_id === e.clientId && l.user_id === e.userId && l.ip === e.ip,
      );
      assert.equal(matching.length, 1, `${e.name}: one line, in\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
      const [line] = matching;
      assert.equal(line?.tenant_id, tenantId, e.name);
      assert.equal(line?.connection, e.connection, e.name);
    }
    const loginLines = lines.filter((l) => l.security_event === 'login_success' || l.security_event === 'login_failure');
    assert.equal(loginLines.length, expected.length, 'one line per login, no other');
    assert.ok(
      lines.every((l) => typeof l.msg === 'string' && l.msg !== ''),
      'every event line says what happened in words',
    );
  });

  it('latchkey logs --json shows the same events with tenant, client, user, login name, ip and reason, newest first', async () => {
    const events = logins(await logs());
    assert.equal(events.length, expected.length, JSON.stringify(events, null, 1));
    for (const e of expected) {
      const found = events.filter((x) => x.type === e.type && x.reason === e.reason && x.identifier === e.identifier);
      assert.equal(found.length, 1, `${e.name} in ${JSON.stringify(events, null, 1)}`);
      const [row] = found;
      assert.equal(row?.tenant, 'acme', e.name);
      assert.equal(row?.client_id, e.clientId, e.name);
      assert.equal(row?.user_id, e.userId, e.name);
      assert.equal(row?.ip, e.ip, e.name);
      assert.equal(row?.connection, e.connection, e.name);
    }
    const times = events.map((e) => Date.parse(e.at));
    assert.ok(
      times.every((t, i) => i === 0 || t <= times[i - 1]!),
      `newest first: ${events.map((e) => e.at).join(' ')}`,
    );
    // Oldest last: alice's success, then her wrong password (three hours ago); newest first: joe through the backend.
    assert.deepEqual(events.slice(-2).map(key), [`login_failure/wrong_password/${ALICE.username}`, `login_success/-/${ALICE.username}`]);
    assert.equal(key(events[0]!), `login_success/-/${JOE.username}`);
  });

  it('--type selects event types, one or several', async () => {
    const [failures, successes, both] = await Promise.all([
      logs(['--type', 'login_failure']),
      logs(['--type', 'login_success']),
      logs(['--type', 'login_success, login_failure']),
    ]);
    assert.deepEqual(
      keysOf(failures),
      expectedKeys((e) => e.type === 'login_failure'),
    );
    assert.deepEqual(
      keysOf(successes),
      expectedKeys((e) => e.type === 'login_success'),
    );
    assert.deepEqual(
      keysOf(both),
      expectedKeys(() => true),
    );
  });

  it('--user finds a user by username or id, and an unknown login name as typed', async () => {
    const aliceId = h.userId(ALICE.username);
    const [byName, byId, unknown, nothing] = await Promise.all([
      logs(['--user', ALICE.username]),
      logs(['--user', aliceId]),
      logs(['--user', UNKNOWN.username]),
      logs(['--user', 'never-seen@acme.test']),
    ]);
    assert.deepEqual(
      keysOf(byName),
      expectedKeys((e) => e.identifier === ALICE.username),
    );
    assert.deepEqual(
      keysOf(byId),
      expectedKeys((e) => e.userId === aliceId),
      'every event carrying alice’s id, the wrong password included',
    );
    assert.deepEqual(keysOf(unknown), [`login_failure/unknown_user/${UNKNOWN.username}`]);
    assert.equal(unknown[0]?.user_id, undefined);
    assert.deepEqual(nothing, []);
  });

  it('--ip and --client select by end-user IP and application', async () => {
    const [forwarded, local, backend, noRefresh, basic] = await Promise.all([
      logs(['--ip', FORWARDED_IP]),
      logs(['--ip', '127.0.0.1']),
      logs(['--client', BACKEND.client_id]),
      logs(['--client', NO_REFRESH.client_id]),
      logs(['--client', BASIC.client_id]),
    ]);
    assert.deepEqual(keysOf(forwarded), [`login_success/-/${JOE.username}`]);
    assert.deepEqual(
      keysOf(logins(local)),
      expectedKeys((e) => e.ip === '127.0.0.1'),
    );
    assert.deepEqual(keysOf(backend), [`login_success/-/${JOE.username}`]);
    assert.deepEqual(keysOf(noRefresh), [`login_failure/user_blocked/${BLOCKED.username}`]);
    assert.deepEqual(basic, [], 'a client that made no request');
  });

  it('--since and --until take durations and ISO instants', async () => {
    const [recent, old, isoRecent, isoOld, window] = await Promise.all([
      logs(['--since', '1h']),
      logs(['--until', '2h']),
      logs(['--since', midpoint.toISOString()]),
      logs(['--until', midpoint.toISOString()]),
      logs(['--since', earlyStart.toISOString(), '--until', midpoint.toISOString(), '--user', ALICE.username]),
    ]);
    const late = expectedKeys((e) => !e.early);
    const early = expectedKeys((e) => e.early);
    assert.ok(early.length === 2 && late.length === 6);
    assert.deepEqual(keysOf(logins(recent)), late);
    assert.deepEqual(keysOf(logins(isoRecent)), late);
    assert.deepEqual(keysOf(old), early);
    assert.deepEqual(keysOf(isoOld), early);
    assert.deepEqual(keysOf(window), early);
  });

  it('-n keeps the newest events', async () => {
    const [all, two, one] = await Promise.all([logs(), logs(['-n', '2']), logs(['--type', 'login_failure', '-n', '1'])]);
    assert.ok(all.length > 2);
    assert.deepEqual(two, all.slice(0, 2));
    const newestFailure = all.find((e) => e.type === 'login_failure');
    assert.deepEqual(one, [newestFailure]);
  });

  it('an unknown --type, a bad --since or -n is exit 1 with one clear line', async () => {
    const [type, since, limit] = await Promise.all([
      h.admin(['logs', '--type', 'login_success,login_explosion']),
      h.admin(['logs', '--since', 'yesterday-ish']),
      h.admin(['logs', '-n', '0']),
    ]);
    for (const [result, what] of [
      [type, 'unknown type'],
      [since, 'bad --since'],
      [limit, 'bad -n'],
    ] as const) {
      assertExit(result, 1, what);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, `${what}: one line\n${result.stderr}`);
      assert.equal(result.stdout, '', `${what}: nothing on stdout`);
    }
    assert.match(type.stderr, /unknown event type login_explosion/);
    assert.match(type.stderr, /known: .*login_success.*password_policy_refused/);
    assert.doesNotMatch(type.stderr.split('(known')[0] ?? '', /login_success/, 'only the unknown one is named');
    assert.match(since.stderr, /--since/);
    assert.match(limit.stderr, /--limit/);
  });

  it('the text output names each event on one line; an empty result says so', async () => {
    const [text, empty] = await Promise.all([h.admin(['logs', '--user', UNKNOWN.username]), h.admin(['logs', '--ip', '198.51.100.99'])]);
    assertExit(text, 0, 'logs (text)');
    outputs.push(text.stdout + text.stderr);
    const lines = text.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1, text.stdout);
    assert.match(
      lines[0] ?? '',
      /^\d{4}-\d\d-\d\dT\S+Z login_failure\s+reason=unknown_user client=acme-web connection=Username-Password-Authentication login="nobody@acme\.test" ip=127\.0\.0\.1$/,
    );
    assertExit(empty, 0, 'logs (no match)');
    assert.equal(empty.stdout, '');
    assert.match(empty.stderr, /no security events match/);
  });

  it('no password or client secret appears in any log line or in latchkey logs output', async () => {
    const full = await h.admin(['logs', '-n', '100000']);
    assertExit(full, 0, 'logs (text)');
    const json = await h.admin(['logs', '--json']);
    assertExit(json, 0, 'logs --json');
    outputs.push(full.stdout, full.stderr, json.stdout, json.stderr);
    const secrets = [
      ALICE.password,
      WRONG,
      UNKNOWN.password,
      NO_PASSWORD.password,
      BLOCKED.password,
      FLAGGED.password,
      REFUSED.password,
      JOE.password,
      WEB.client_secret,
      NO_REFRESH.client_secret,
      BACKEND.client_secret,
    ];
    const haystacks: Array<[string, string]> = [
      ['server log', h.server.logs.join('\n')],
      ['latchkey logs', outputs.join('\n')],
    ];
    for (const [where, text] of haystacks) {
      assert.ok(text.length > 0, `${where} is not empty`);
      for (const secret of secrets) assert.ok(!text.includes(secret), `${where} contains ${secret.slice(0, 4)}…`);
    }
    // The stored rows hold no secret either (the CLI prints what is stored; check the table itself too).
    const db = new Database(join(h.dir, 'latchkey.db'), { readonly: true });
    try {
      const rows = JSON.stringify(db.prepare('SELECT * FROM security_events').all());
      for (const secret of secrets) assert.ok(!rows.includes(secret), `security_events contains ${secret.slice(0, 4)}…`);
    } finally {
      db.close();
    }
  });

  it('latchkey logs --help prints usage and the filters', async () => {
    const help = await h.cli(['logs', '--help']);
    assertExit(help, 0, 'logs --help');
    assert.match(help.stdout, /^Usage: latchkey logs \[options\]$/m);
    for (const flag of ['--type', '--user', '--ip', '--client', '--since', '--until', '--limit', '--json'])
      assert.ok(help.stdout.includes(flag), flag);
    // Commander wraps long descriptions: compare with whitespace collapsed.
    assert.match(
      help.stdout.replace(/\s+/g, ' '),
      /login_success, login_failure, login_blocked, user_locked, user_unblocked, ip_throttled, rate_limited, password_policy_refused/,
    );
  });
});
