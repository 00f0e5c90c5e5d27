/**
 * Issue #5 §1: LDAP / Active Directory connections (`type: ldap`), tested
 * black-box over HTTP against a real OpenLDAP (test/helpers/slapd.ts:
 * ppolicy, memberOf, ACLs and TLS are slapd's own). Latchkey checks the
 * password with a bind (search-then-bind as a service account, or a direct
 * bind through a DN template), provisions the user locally at the first
 * login and refreshes the profile at each, maps the directory's password
 * policy to error_reason, and answers 503 directory_unavailable (never
 * invalid_grant, never counted as a failure) when the directory cannot say.
 * Passwords are never logged or stored.
 *
 * One slapd serves the file; tests that change a user's entry use their
 * own user, and tests that stop slapd start it again before they end.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PASSWORD_REALM_GRANT } from '../../src/domain/grant-types.js';
import { DEFAULT_PASSWORD_POLICY } from '../../src/config/schema.js';
import type { LdapDirectory } from '../../src/identity/sources/ldap-directory.js';
import type { ConnectionRecord, UserStore } from '../../src/storage/stores.js';
import { configProblems } from '../helpers/config-problems.js';
import { WEB, acmeFixture } from '../helpers/fixtures.js';
import { decodeJwt, get, postForm, type JsonResponse } from '../helpers/http.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { slapdUnavailableReason, startSlapd, type Slapd, type SlapdUserName } from '../helpers/slapd.js';
import { startTestServer, type StartOptions, type TenantInput, type TestServer } from '../helpers/server.js';

type ConnectionInput = NonNullable<TenantInput['connections']>[number];
type AttackProtectionInput = NonNullable<TenantInput['attack_protection']>;

const WRONG = 'not-the-right-ldap-password-7';
const WRONG_BIND_PASSWORD = 'not-the-reader-secret-3';
const WRONG_CREDENTIALS = 'Wrong email or password.';
/** Search by uid or by mail: both name the same entry, so the same local user. */
const UID_OR_MAIL = '(|(uid={{username}})(mail={{username}}))';

/** Every server this file starts: their logs are searched for passwords at the end. */
const servers: TestServer[] = [];

async function serverWith(
  connections: ConnectionInput[],
  options: { attack?: AttackProtectionInput; dir?: string } = {},
): Promise<TestServer> {
  const { tenant } = await acmeFixture();
  const start: StartOptions = {
    tenants: [
      {
        ...tenant,
        connections: [...(tenant.connections ?? []), ...connections],
        ...(options.attack === undefined ? {} : { attack_protection: options.attack }),
      },
    ],
    ...(options.dir === undefined ? {} : { dir: options.dir }),
  };
  const server = await startTestServer(start);
  servers.push(server);
  return server;
}

/** Search-then-bind as the reader over StartTLS, trusting the harness CA. */
function searchConnection(ldap: Slapd, name = 'corp', extra: Partial<ConnectionInput> = {}): ConnectionInput {
  return {
    name,
    type: 'ldap',
    url: ldap.url,
    start_tls: true,
    tls_ca: ldap.caFile,
    bind_dn: ldap.reader.dn,
    bind_password: ldap.reader.password,
    search_base: ldap.peopleDn,
    search_filter: UID_OR_MAIL,
    ...extra,
  };
}

/** Direct bind as uid={{username}},ou=people,… over ldaps://, trusting the harness CA. */
function directConnection(ldap: Slapd, name = 'corp-direct', extra: Partial<ConnectionInput> = {}): ConnectionInput {
  return { name, type: 'ldap', url: ldap.ldapsUrl, tls_ca: ldap.caFile, user_dn_template: `uid={{username}},${ldap.peopleDn}`, ...extra };
}

function login(
  server: TestServer,
  realm: string,
  username: string,
  password: string,
  extra: Record<string, string> = {},
): Promise<JsonResponse> {
  return postForm(server.at('/oauth/token'), {
    grant_type: 'password',
    username,
    password,
    realm,
    scope: 'openid profile email',
    ...WEB,
    ...extra,
  });
}

function claimsOf(res: JsonResponse): Record<string, unknown> {
  assert.equal(res.status, 200, res.text);
  return decodeJwt(res.body.id_token as string).payload;
}

function assertWrongCredentials(res: JsonResponse, what: string): void {
  assert.equal(res.status, 400, `${what}: ${res.text}`);
  assert.equal(res.body.error, 'invalid_grant', `${what}: ${res.text}`);
  assert.equal(res.body.error_description, WRONG_CREDENTIALS, `${what}: ${res.text}`);
  assert.equal(res.body.error_reason, undefined, `${what}: ${res.text}`);
}

/**
 * RFC 6749 §3.1: a parameter without a value is treated as omitted, so an
 * empty password is 400 invalid_request ("password" is required) before any
 * credential source runs; the LDAP source refuses one too, as a second guard.
 */
function assertEmptyPasswordRefused(res: JsonResponse, what: string): void {
  assert.equal(res.status, 400, `${what}: ${res.text}`);
  assert.ok(res.body.error === 'invalid_request' || res.body.error === 'invalid_grant', `${what}: ${res.text}`);
  assert.equal(res.body.access_token, undefined, what);
  assert.equal(res.body.error_reason, undefined, `${what}: ${res.text}`);
}

function assertRefused(res: JsonResponse, reason: string, what: string): void {
  assert.equal(res.status, 400, `${what}: ${res.text}`);
  assert.equal(res.body.error, 'invalid_grant', `${what}: ${res.text}`);
  assert.equal(res.body.error_reason, reason, `${what}: ${res.text}`);
}

function assertUnavailable(res: JsonResponse, what: string): void {
  assert.equal(res.status, 503, `${what}: ${res.text}`);
  assert.equal(res.body.error, 'temporarily_unavailable', `${what}: ${res.text}`);
  assert.equal(res.body.error_reason, 'directory_unavailable', `${what}: ${res.text}`);
  const retryAfter = res.headers.get('retry-after');
  assert.ok(retryAfter !== null && /^[1-9][0-9]*$/.test(retryAfter), `${what}: Retry-After is a positive integer, got ${retryAfter}`);
}

function securityEvents(server: TestServer, type: string): Array<Record<string, unknown>> {
  return server.logs.flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      return parsed.security_event === type ? [parsed] : [];
    } catch {
      return [];
    }
  });
}

/** The server's SQLite file and its write-ahead log, as one text. */
function databaseBytes(server: TestServer): string {
  const path = join(server.dir, 'latchkey.db');
  const read = (file: string) => {
    try {
      return readFileSync(file);
    } catch {
      return Buffer.alloc(0);
    }
  };
  return Buffer.concat([read(path), read(`${path}-wal`)]).toString('latin1');
}

let guessCounter = 0;
/** A wrong password never sent before (a repeat would count only once for brute-force protection). */
function freshGuess(): string {
  guessCounter++;
  return `wrong ldap guess ${guessCounter} ${Math.random().toString(36).slice(2)}`;
}

const SKIP = slapdUnavailableReason();

describe('issue #5 §1: LDAP connections (type: ldap) against a real OpenLDAP', { skip: SKIP }, () => {
  let ldap: Slapd;
  /** Passwords that must never appear in a log line or the database. */
  let secrets: string[];
  /** corp: search-then-bind over StartTLS; corp-direct: direct bind over ldaps://. */
  let server: TestServer;

  before(async () => {
    ldap = await startSlapd();
    secrets = [...Object.values(ldap.users).map((u) => u.password), ldap.reader.password, ldap.admin.password, WRONG_BIND_PASSWORD, WRONG];
    server = await serverWith([searchConnection(ldap), directConnection(ldap)]);
  });
  after(async () => {
    await server?.close();
    await ldap?.close();
  });

  const password = (name: SlapdUserName) => ldap.users[name].password;

  describe('search-then-bind over StartTLS, trusting tls_ca', () => {
    it('alice signs in (password and password-realm grants); the id_token and userinfo carry her directory profile and groups', async () => {
      const byPassword = await login(server, 'corp', 'alice', password('alice'));
      const claims = claimsOf(byPassword);
      assert.equal(claims.name, 'Alice Liddell');
      assert.equal(claims.given_name, 'Alice');
      assert.equal(claims.family_name, 'Liddell');
      assert.equal(claims.email, 'alice@corp.test');
      assert.equal(claims.email_verified, true, 'the directory vouches for its mail');
      assert.equal(claims.preferred_username, 'alice');
      assert.deepEqual([...(claims.groups as string[])].sort(), ['admins', 'engineers'], 'the first RDN value of each memberOf DN');

      const byRealm = await postForm(server.at('/oauth/token'), {
        grant_type: PASSWORD_REALM_GRANT,
        realm: 'corp',
        username: 'alice',
        password: password('alice'),
        scope: 'openid profile email',
        ...WEB,
      });
      assert.equal(claimsOf(byRealm).sub, claims.sub, 'the same local user');

      const info = await get(server.at('/userinfo'), { authorization: `Bearer ${byPassword.body.access_token as string}` });
      assert.equal(info.status, 200, info.text);
      assert.equal(info.body.sub, claims.sub);
      assert.equal(info.body.name, 'Alice Liddell');
      assert.equal(info.body.given_name, 'Alice');
      assert.equal(info.body.family_name, 'Liddell');
      assert.equal(info.body.email, 'alice@corp.test');
      assert.equal(info.body.email_verified, true);
      assert.deepEqual([...(info.body.groups as string[])].sort(), ['admins', 'engineers']);
    });

    it("signing in by mail gives the same sub as by uid (the local username is the entry's uid)", async () => {
      const byUid = claimsOf(await login(server, 'corp', 'alice', password('alice')));
      const byMail = claimsOf(await login(server, 'corp', 'alice@corp.test', password('alice')));
      assert.equal(byMail.sub, byUid.sub);
      assert.equal(byMail.preferred_username, 'alice');
      // Matching is the directory's: its case-insensitive uid is the same entry too.
      assert.equal(claimsOf(await login(server, 'corp', 'ALICE', password('alice'))).sub, byUid.sub);
    });

    it('a user without groups gets an empty groups claim', async () => {
      const claims = claimsOf(await login(server, 'corp', 'frank', password('frank')));
      assert.equal(claims.name, 'Frank Plain');
      assert.deepEqual(claims.groups, []);
    });

    it('the refresh token of a directory user works', async () => {
      const first = await login(server, 'corp', 'alice', password('alice'), { scope: 'openid profile email offline_access' });
      assert.equal(first.status, 200, first.text);
      assert.equal(typeof first.body.refresh_token, 'string');
      const refreshed = await postForm(server.at('/oauth/token'), {
        grant_type: 'refresh_token',
        refresh_token: first.body.refresh_token as string,
        ...WEB,
      });
      assert.equal(refreshed.status, 200, refreshed.text);
      assert.equal(typeof refreshed.body.access_token, 'string');
      if (typeof refreshed.body.id_token === 'string') assert.equal(decodeJwt(refreshed.body.id_token).payload.sub, claimsOf(first).sub);
    });

    it('the profile is refreshed at each login: a changed cn, mail and group membership show at the next one', async () => {
      const before = claimsOf(await login(server, 'corp', 'bob', password('bob')));
      assert.equal(before.name, 'Bob Builder');
      assert.equal(before.email, 'bob@corp.test');
      assert.deepEqual(before.groups, ['engineers']);

      await ldap.modify(ldap.users.bob.dn, [
        { operation: 'replace', type: 'cn', values: ['Robert Builder'] },
        { operation: 'replace', type: 'mail', values: ['robert@corp.test'] },
      ]);
      // The memberof overlay adds cn=admins to bob's memberOf.
      await ldap.modify(`cn=admins,ou=groups,${ldap.baseDn}`, [{ operation: 'add', type: 'member', values: [ldap.users.bob.dn] }]);

      const afterChange = await login(server, 'corp', 'bob', password('bob'));
      const claims = claimsOf(afterChange);
      assert.equal(claims.sub, before.sub, 'the same local user');
      assert.equal(claims.name, 'Robert Builder');
      assert.equal(claims.email, 'robert@corp.test');
      assert.deepEqual([...(claims.groups as string[])].sort(), ['admins', 'engineers']);
      const info = await get(server.at('/userinfo'), { authorization: `Bearer ${afterChange.body.access_token as string}` });
      assert.equal(info.body.name, 'Robert Builder');
      assert.equal(info.body.email, 'robert@corp.test');

      // The new mail signs in; the old one names no entry any more.
      assert.equal(claimsOf(await login(server, 'corp', 'robert@corp.test', password('bob'))).sub, before.sub);
      assertWrongCredentials(await login(server, 'corp', 'bob@corp.test', password('bob')), 'the old mail');
    });
  });

  describe('direct bind (user_dn_template) over ldaps://, trusting tls_ca', () => {
    it('alice signs in; her profile is read as herself after the bind', async () => {
      const res = await login(server, 'corp-direct', 'alice', password('alice'));
      const claims = claimsOf(res);
      assert.equal(claims.name, 'Alice Liddell');
      assert.equal(claims.given_name, 'Alice');
      assert.equal(claims.family_name, 'Liddell');
      assert.equal(claims.email, 'alice@corp.test');
      assert.equal(claims.email_verified, true);
      assert.deepEqual([...(claims.groups as string[])].sort(), ['admins', 'engineers']);
      assert.equal(
        claimsOf(await login(server, 'corp-direct', 'alice', password('alice'))).sub,
        claims.sub,
        'the same local user at every login',
      );
    });
  });

  describe('wrong passwords, unknown users and login names that try to be filters or DNs', () => {
    it('a wrong password and an unknown user are the same invalid_grant, in both modes', async () => {
      for (const realm of ['corp', 'corp-direct']) {
        const wrong = await login(server, realm, 'alice', WRONG);
        const unknown = await login(server, realm, 'nobody', WRONG);
        const unknownRight = await login(server, realm, 'nobody', password('alice'));
        assertWrongCredentials(wrong, `${realm}: wrong password`);
        assertWrongCredentials(unknown, `${realm}: unknown user`);
        assertWrongCredentials(unknownRight, `${realm}: unknown user, someone's password`);
        assert.deepEqual(wrong.body, unknown.body, `${realm}: nothing tells them apart`);
      }
      assertWrongCredentials(await login(server, 'corp', 'nobody@corp.test', WRONG), 'unknown mail');
    });

    it('an empty password never signs in (an LDAP "unauthenticated bind" would succeed): 400, refused before the directory', async () => {
      for (const realm of ['corp', 'corp-direct'])
        assertEmptyPasswordRefused(await login(server, realm, 'alice', ''), `${realm}: empty password`);
    });

    it('login names with spaces around them or control characters are invalid_grant', async () => {
      for (const name of [' alice', 'alice ', 'ali\nce', 'alice\u0000']) {
        for (const realm of ['corp', 'corp-direct'])
          assertWrongCredentials(await login(server, realm, name, password('alice')), `${realm}: ${JSON.stringify(name)}`);
      }
    });

    it('search_filter: filter metacharacters in the login name never match another entry (RFC 4515 escaping)', async () => {
      // Unescaped, "ali*", "a*e" or "\61lice" (a hex escape for "a") would match alice alone and sign in with her password.
      const names = [
        '*',
        'ali*',
        'a*e',
        '*iddell*',
        '\\61lice',
        '\\61\\6c\\69\\63\\65',
        'alice)(uid=*',
        '*)(uid=alice',
        'alice)(|(uid=*',
        '*@corp.test',
        'alice,ou=x',
        'alice\\',
        '\\2a',
        'alice\\29',
      ];
      for (const name of names) {
        assertWrongCredentials(await login(server, 'corp', name, password('alice')), `corp: ${JSON.stringify(name)}`);
      }
      // The same names with carol's password say nothing about carol either.
      assertWrongCredentials(await login(server, 'corp', 'car*', password('carol')), 'corp: car*');
    });

    it('user_dn_template: DN metacharacters in the login name never reach another entry (RFC 4514 escaping)', async () => {
      // Unescaped, "\61lice" (a hex escape for "a") would be the DN uid=alice,… and sign in with her password.
      const names = [
        '\\61lice',
        '\\61\\6c\\69\\63\\65',
        'alice,ou=x',
        `alice,${ldap.peopleDn}`,
        'alice+cn=x',
        'alice+uid=alice',
        '#alice',
        '#0405616c696365',
        '"alice"',
        'alice;x',
        'alice\\',
        '<alice>',
        'alice=x',
        '*',
        ')(uid=*',
        'ali*',
      ];
      for (const name of names) {
        assertWrongCredentials(await login(server, 'corp-direct', name, password('alice')), `corp-direct: ${JSON.stringify(name)}`);
      }
    });
  });

  describe("the directory's password policy refuses a right password: error_reason says why", () => {
    it('carol (locked) is user_blocked, dave (expired) password_expired, erin (reset) password_change_required, in both modes', async () => {
      for (const realm of ['corp', 'corp-direct']) {
        assertRefused(await login(server, realm, 'carol', password('carol')), 'user_blocked', `${realm}: carol`);
        assertRefused(await login(server, realm, 'dave', password('dave')), 'password_expired', `${realm}: dave`);
        assertRefused(await login(server, realm, 'erin', password('erin')), 'password_change_required', `${realm}: erin`);
        // A wrong password for them says nothing more than any wrong password.
        assertWrongCredentials(await login(server, realm, 'dave', WRONG), `${realm}: dave, wrong password`);
        assertWrongCredentials(await login(server, realm, 'erin', WRONG), `${realm}: erin, wrong password`);
      }
      const expired = securityEvents(server, 'login_failure').filter((e) => e.reason === 'password_expired');
      assert.ok(expired.length >= 2, `a login_failure security event with reason password_expired:\n${server.logs.join('\n')}`);
    });

    it('after an administrator unlocks carol (deletes pwdAccountLockedTime) she signs in', async () => {
      await ldap.modify(ldap.users.carol.dn, [{ operation: 'delete', type: 'pwdAccountLockedTime', values: [] }]);
      try {
        const claims = claimsOf(await login(server, 'corp', 'carol', password('carol')));
        assert.equal(claims.name, 'Carol Locked');
        assert.equal(claimsOf(await login(server, 'corp-direct', 'carol', password('carol'))).name, 'Carol Locked');
      } finally {
        await ldap.modify(ldap.users.carol.dn, [{ operation: 'replace', type: 'pwdAccountLockedTime', values: ['000001010000Z'] }]);
      }
      assertRefused(await login(server, 'corp', 'carol', password('carol')), 'user_blocked', 'locked again');
    });

    it('after an administrator sets a new password for erin and clears pwdReset, she signs in with it', async () => {
      const fresh = 'erin-new-ldap-pass-2';
      secrets.push(fresh);
      await ldap.modify(ldap.users.erin.dn, [{ operation: 'replace', type: 'userPassword', values: [fresh] }]);
      // ppolicy sets pwdReset TRUE on an administrator's change: still "must change".
      assertRefused(await login(server, 'corp', 'erin', fresh), 'password_change_required', 'reset by the admin');
      await ldap.modify(ldap.users.erin.dn, [{ operation: 'delete', type: 'pwdReset', values: [] }]);
      assert.equal(claimsOf(await login(server, 'corp', 'erin', fresh)).name, 'Erin Reset');
      assertWrongCredentials(await login(server, 'corp', 'erin', password('erin')), 'the old password');
    });
  });

  describe('a directory that cannot answer is 503 directory_unavailable, never invalid_grant', () => {
    it('slapd down: 503 with Retry-After even with the right password; up again: the next login signs in, without a restart; the 503s are not counted', async () => {
      const down = await serverWith([searchConnection(ldap), directConnection(ldap)], { attack: { brute_force: { threshold: 2 } } });
      try {
        assert.equal((await login(down, 'corp', 'alice', password('alice'))).status, 200, 'signed in while the directory is up');
        await ldap.stop();
        try {
          for (let i = 1; i <= 4; i++) {
            assertUnavailable(await login(down, 'corp', 'alice', password('alice')), `corp: right password, attempt ${i}`);
            assertUnavailable(
              await login(down, 'corp', 'alice', freshGuess()),
              `corp: a wrong password is not judged either, attempt ${i}`,
            );
          }
          assertUnavailable(await login(down, 'corp-direct', 'alice', password('alice')), 'corp-direct: right password');
          // Refused before any LDAP traffic, so not a 503.
          assertEmptyPasswordRefused(await login(down, 'corp', 'frank', ''), 'an empty password');
          assert.ok(
            down.logs.some((l) => l.includes('LDAP directory of connection corp') && l.includes('ECONNREFUSED')),
            `the log says why:\n${down.logs.join('\n')}`,
          );
        } finally {
          await ldap.start();
        }
        // Eight 503s with a threshold of 2: none counted, nothing cached.
        assert.equal(claimsOf(await login(down, 'corp', 'alice', password('alice'))).name, 'Alice Liddell');
        assert.equal(claimsOf(await login(down, 'corp-direct', 'alice', password('alice'))).name, 'Alice Liddell');
        assert.deepEqual(securityEvents(down, 'user_locked'), []);
      } finally {
        await down.close();
      }
    });

    it('a directory slower than timeout_ms is 503, not invalid_grant; once it is fast again logins succeed', async () => {
      const proxy = await startTcpProxy(ldap.url);
      const via = `ldap://127.0.0.1:${proxy.port}`;
      const slow = await serverWith([
        searchConnection(ldap, 'corp', { url: via, start_tls: false, tls_ca: undefined, timeout_ms: 1000 }),
        directConnection(ldap, 'corp-direct', { url: via, tls_ca: undefined, timeout_ms: 1000 }),
      ]);
      try {
        // Far beyond timeout_ms, so the outcome never depends on the machine's speed.
        proxy.delayMs = 10_000;
        assertUnavailable(await login(slow, 'corp', 'alice', password('alice')), 'corp: slow, right password');
        assertUnavailable(await login(slow, 'corp', 'alice', WRONG), 'corp: slow, wrong password');
        assertUnavailable(await login(slow, 'corp-direct', 'alice', password('alice')), 'corp-direct: slow, right password');
        assert.ok(
          slow.logs.some((l) => l.includes('timeout_ms')),
          `the log names timeout_ms:\n${slow.logs.join('\n')}`,
        );
        proxy.delayMs = 0;
        for (const realm of ['corp', 'corp-direct']) {
          assert.equal(claimsOf(await login(slow, realm, 'alice', password('alice'))).name, 'Alice Liddell', `${realm}: fast again`);
          assertWrongCredentials(await login(slow, realm, 'alice', WRONG), `${realm}: fast again, wrong password`);
        }
      } finally {
        await slow.close();
        await proxy.stop();
      }
    });

    it('a bind_password the directory refuses is 503; the log says to check bind_password and carries no password', async () => {
      const refused = await serverWith([searchConnection(ldap, 'corp', { bind_password: WRONG_BIND_PASSWORD })]);
      try {
        assertUnavailable(await login(refused, 'corp', 'alice', password('alice')), 'right user password');
        assertUnavailable(await login(refused, 'corp', 'alice', WRONG), 'wrong user password');
        assert.ok(
          refused.logs.some((l) => l.includes('check bind_password') && l.includes(ldap.reader.dn)),
          `the log names the service account and what to check:\n${refused.logs.join('\n')}`,
        );
        const text = refused.logs.join('\n');
        assert.ok(!text.includes(WRONG_BIND_PASSWORD), 'the configured bind_password is not logged');
        assert.ok(!text.includes(password('alice')), "the user's password is not logged");
        const db = databaseBytes(refused);
        assert.ok(!db.includes(WRONG_BIND_PASSWORD), 'bind_password is not stored');
      } finally {
        await refused.close();
      }
    });
  });

  describe('TLS: the certificate is verified against tls_ca', () => {
    it('without tls_ca the self-signed harness CA is not trusted: ldaps:// and StartTLS are 503; with it the same logins succeed', async () => {
      const tls = await serverWith([
        directConnection(ldap, 'ldaps-untrusted', { tls_ca: undefined }),
        searchConnection(ldap, 'starttls-untrusted', { tls_ca: undefined }),
        directConnection(ldap, 'ldaps-trusted'),
        searchConnection(ldap, 'starttls-trusted'),
      ]);
      try {
        assertUnavailable(await login(tls, 'ldaps-untrusted', 'alice', password('alice')), 'ldaps:// without tls_ca');
        assertUnavailable(await login(tls, 'starttls-untrusted', 'alice', password('alice')), 'StartTLS without tls_ca');
        const certificateError = /self[- ]signed|unable to (get|verify)|certificate/i;
        for (const connection of ['ldaps-untrusted', 'starttls-untrusted']) {
          assert.ok(
            tls.logs.some((l) => l.includes(`LDAP directory of connection ${connection}`) && certificateError.test(l)),
            `${connection}: the log names the certificate problem:\n${tls.logs.join('\n')}`,
          );
        }
        assert.equal((await login(tls, 'ldaps-trusted', 'alice', password('alice'))).status, 200);
        assert.equal((await login(tls, 'starttls-trusted', 'alice', password('alice'))).status, 200);
      } finally {
        await tls.close();
      }
    });
  });

  describe('attack protection', () => {
    it('with threshold 3, three wrong LDAP passwords lock the name: 429 too_many_attempts even with the right password', async () => {
      const guarded = await serverWith([searchConnection(ldap)], { attack: { brute_force: { threshold: 3 } } });
      try {
        for (let i = 1; i <= 3; i++) assertWrongCredentials(await login(guarded, 'corp', 'frank', freshGuess()), `failure ${i}`);
        const locked = await login(guarded, 'corp', 'frank', password('frank'));
        assert.equal(locked.status, 429, locked.text);
        assert.equal(locked.body.error, 'too_many_attempts');
        assert.equal(locked.body.error_reason, 'user_blocked');
        assert.ok(/^[1-9][0-9]*$/.test(locked.headers.get('retry-after') ?? ''), 'Retry-After');
        assert.equal(securityEvents(guarded, 'user_locked').length, 1, 'one user_locked security event');
        // Another name is not affected.
        assert.equal((await login(guarded, 'corp', 'alice', password('alice'))).status, 200);
      } finally {
        await guarded.close();
      }
    });
  });

  describe('secrets: never logged, never stored', () => {
    it('the SQLite file and its WAL hold no LDAP user password and no bind_password', async () => {
      const db = databaseBytes(server);
      assert.ok(db.length > 0);
      assert.ok(db.includes('alice@corp.test'), 'the provisioned profile is there (the check reads the right file)');
      for (const secret of secrets) {
        assert.ok(!db.includes(secret), 'a password is stored in clear');
        assert.ok(!db.includes(Buffer.from(secret).toString('base64')), 'a password is stored as base64');
      }
    });

    it('no log line of any server in this file carries a password', () => {
      assert.ok(servers.length >= 5);
      for (const s of servers) {
        for (const line of s.logs) {
          for (const secret of secrets) assert.ok(!line.includes(secret), `a password in the log: ${line}`);
        }
      }
    });
  });
});

describe("issue #5 §1: the LDAP source's own guards, before any directory traffic", () => {
  /** A directory that would accept anything (as one allowing unauthenticated binds would), counting its calls. */
  async function sourceWithPermissiveDirectory() {
    const { LdapCredentialSource } = await import('../../src/identity/sources/ldap.js');
    const calls: string[] = [];
    const directory = {
      async authenticate(loginName: string) {
        calls.push(loginName);
        return {
          kind: 'verified',
          profile: {
            username: loginName,
            email: undefined,
            name: undefined,
            givenName: undefined,
            familyName: undefined,
            groups: undefined,
          },
        };
      },
      async close() {},
    };
    const users = {
      async provisionExternal() {
        throw new Error('nothing may be provisioned');
      },
    };
    const source = new LdapCredentialSource(new Map([['c1', directory as unknown as LdapDirectory]]), users as unknown as UserStore);
    const connection: ConnectionRecord = { id: 'c1', tenantId: 't1', name: 'corp', type: 'ldap', passwordPolicy: DEFAULT_PASSWORD_POLICY };
    const verify = (username: string, password: string) =>
      source.verify({ tenantId: 't1', connectionId: 'c1', connection, username, password, clientId: 'acme-web', ip: '127.0.0.1' });
    return { verify, calls };
  }

  it('an empty password is rejected without a bind (HTTP already drops empty parameters: this is the second guard)', async () => {
    const { verify, calls } = await sourceWithPermissiveDirectory();
    assert.deepEqual(await verify('alice', ''), { outcome: 'rejected', reason: 'no_password' });
    assert.deepEqual(calls, []);
  });

  it('a login name no directory entry can have is rejected without a bind', async () => {
    const { verify, calls } = await sourceWithPermissiveDirectory();
    for (const name of ['', ' alice', 'alice ', 'ali\u0000ce', 'a'.repeat(257)]) {
      assert.deepEqual(await verify(name, 'some password'), { outcome: 'rejected', reason: 'unknown_user' }, JSON.stringify(name));
    }
    assert.deepEqual(calls, []);
  });
});

describe('issue #5 §1: LDAP connection configuration', () => {
  const READER_DN = 'cn=reader,ou=services,dc=corp,dc=test';
  const valid = {
    name: 'corp',
    type: 'ldap',
    url: 'ldaps://ldap.corp.example:636',
    bind_dn: READER_DN,
    bind_password: 'reader-secret-1',
    search_base: 'ou=people,dc=corp,dc=test',
    search_filter: '(uid={{username}})',
  };
  const withConnection = (connection: Record<string, unknown>) => ({ tenants: [{ name: 'acme', connections: [connection] }] });
  const problemsOf = (connection: Record<string, unknown>) => configProblems(withConnection(connection));
  const assertProblem = (connection: Record<string, unknown>, key: string, pattern: RegExp) => {
    const problems = problemsOf(connection);
    assert.ok(
      problems.some((p) => p.startsWith(`tenants[0].connections[0].${key}`) && pattern.test(p)),
      `expected a problem at ${key} matching ${pattern}:\n${problems.join('\n')}`,
    );
  };
  const accepts = async (connection: Record<string, unknown>) => {
    const { resolveConfig } = await import('../../src/config/load.js');
    assert.doesNotThrow(() => resolveConfig(withConnection(connection), '/srv/latchkey', {}), JSON.stringify(connection));
  };

  it('a search-then-bind and a direct-bind connection are accepted, with the documented defaults', async () => {
    const { resolveConfig } = await import('../../src/config/load.js');
    const config = resolveConfig(withConnection(valid), '/srv/latchkey', {});
    const connection = config.tenants[0]?.connections[0];
    assert.equal(connection?.timeout_ms, 2000);
    await accepts({
      name: 'corp',
      type: 'ldap',
      url: 'ldaps://ldap.corp.example',
      user_dn_template: 'uid={{username}},ou=people,dc=corp,dc=test',
    });
    await accepts({ ...valid, url: 'ldap://ldap.corp.example:389', start_tls: true });
    await accepts({ ...valid, url: 'ldap://127.0.0.1:389' });
    await accepts({ ...valid, url: 'ldap://localhost:389' });
    await accepts({ ...valid, bind_dn: undefined, bind_password: undefined });
  });

  it('tls_ca is resolved relative to the configuration file', async () => {
    const { resolveConfig } = await import('../../src/config/load.js');
    const config = resolveConfig(withConnection({ ...valid, tls_ca: 'certs/ldap-ca.pem' }), '/srv/latchkey', {});
    assert.equal(config.tenants[0]?.connections[0]?.tls_ca, '/srv/latchkey/certs/ldap-ca.pem');
  });

  it('plain ldap:// to a host that is not loopback, without start_tls, is refused (passwords would cross in clear)', () => {
    assertProblem({ ...valid, url: 'ldap://ldap.corp.example:389' }, 'url', /ldaps:\/\/|start_tls/);
    assertProblem({ ...valid, url: 'ldap://10.0.0.5:389', start_tls: false }, 'url', /ldaps:\/\/|start_tls/);
  });

  it('start_tls on an ldaps:// URL, a non-LDAP URL, and a missing url are refused', () => {
    assertProblem({ ...valid, start_tls: true }, 'start_tls', /ldaps/);
    assertProblem({ ...valid, url: 'https://ldap.corp.example' }, 'url', /ldap/);
    assertProblem({ ...valid, url: undefined }, 'url', /required/);
  });

  it('exactly one of search_filter and user_dn_template', () => {
    assertProblem({ ...valid, user_dn_template: 'uid={{username}},ou=people,dc=corp,dc=test' }, 'search_filter', /exactly one/);
    assertProblem({ ...valid, search_filter: undefined }, 'search_filter', /exactly one/);
  });

  it('search_filter and user_dn_template must contain {{username}}; search_filter needs search_base', () => {
    assertProblem({ ...valid, search_filter: '(uid=alice)' }, 'search_filter', /\{\{username\}\}/);
    assertProblem(
      { ...valid, search_filter: undefined, user_dn_template: 'uid=alice,ou=people,dc=corp,dc=test' },
      'user_dn_template',
      /\{\{username\}\}/,
    );
    assertProblem({ ...valid, search_base: undefined }, 'search_base', /required/);
  });

  it('bind_dn and bind_password go together', () => {
    assertProblem({ ...valid, bind_password: undefined }, 'bind_password', /bind_dn and bind_password/);
    assertProblem({ ...valid, bind_dn: undefined }, 'bind_password', /bind_dn and bind_password/);
  });

  it('LDAP keys on a database (or http) connection are refused', () => {
    const database = {
      name: 'db',
      type: 'database',
      start_tls: true,
      bind_dn: READER_DN,
      bind_password: 'x',
      search_base: 'dc=corp',
      search_filter: '(uid={{username}})',
      user_dn_template: 'uid={{username}}',
      attributes: { username: 'uid' },
      pool_size: 4,
    };
    const problems = problemsOf(database);
    for (const key of [
      'start_tls',
      'bind_dn',
      'bind_password',
      'search_base',
      'search_filter',
      'user_dn_template',
      'attributes',
      'pool_size',
    ]) {
      assert.ok(
        problems.some((p) => p.startsWith(`tenants[0].connections[0].${key}`) && p.includes('only for type: ldap')),
        `${key}:\n${problems.join('\n')}`,
      );
    }
    assertProblem({ name: 'db', type: 'database', url: 'ldaps://ldap.corp.example' }, 'url', /only for type/);
    assertProblem(
      {
        name: 'pins',
        type: 'http',
        url: 'https://validator.example/verify',
        secret: 'a-long-enough-shared-secret',
        search_base: 'dc=corp',
      },
      'search_base',
      /only for type: ldap/,
    );
    assertProblem({ name: 'pins', type: 'http', url: 'ldaps://ldap.corp.example', secret: 'a-long-enough-shared-secret' }, 'url', /https/);
  });

  it('start-up stops, naming the path, when tls_ca does not exist or holds no certificate; and on a search_filter that does not parse', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-ldap-config-'));
    try {
      const startWith = async (connection: Record<string, unknown>) => {
        const { tenant } = await acmeFixture();
        return startTestServer({
          tenants: [{ ...tenant, connections: [...(tenant.connections ?? []), connection as ConnectionInput] }],
          dir,
        });
      };
      const missing = join(dir, 'no-such-dir', 'ldap-ca.pem');
      await assert.rejects(
        startWith({ ...valid, tls_ca: missing }),
        (err: Error) => err.message.includes(missing) && err.message.includes('ENOENT'),
      );
      const notPem = join(dir, 'not-a-cert.pem');
      writeFileSync(notPem, 'hello\n');
      await assert.rejects(
        startWith({ ...valid, tls_ca: notPem }),
        (err: Error) => err.message.includes(notPem) && /no PEM certificate/.test(err.message),
      );
      await assert.rejects(startWith({ ...valid, search_filter: '(uid={{username}}' }), /search_filter: not a valid LDAP filter/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
