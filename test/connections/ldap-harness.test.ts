/**
 * The OpenLDAP harness (test/helpers/slapd.ts) is what the LDAP
 * credential-source suites stand on: this proves, with ldapts alone, that
 * the directory it starts is the one they assume — the reader's view
 * (mail, cn, memberOf, never userPassword), the users' binds and ppolicy
 * refusals (with the bind response control), TLS both ways, and a real
 * outage and recovery.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Client, Control, InvalidCredentialsError, type BerReader } from 'ldapts';
import { slapdUnavailableReason, startSlapd, type Slapd } from '../helpers/slapd.js';

/** Sends the password policy request control (no value) and keeps the raw response control value. */
class PasswordPolicyProbe extends Control {
  raw: Buffer | undefined;
  constructor() {
    super('1.3.6.1.4.1.42.2.27.8.5.1');
  }
  protected override parseControl(reader: BerReader): void {
    this.raw = Buffer.from(reader.buffer);
  }
}

/** An attribute's values as a list (ldapts gives a string for one value, [] for a requested attribute the entry lacks or hides). */
const values = (value: unknown): unknown[] => [value ?? []].flat();

describe('OpenLDAP test harness (slapd)', { skip: slapdUnavailableReason() }, () => {
  let ldap: Slapd;
  const clients: Client[] = [];
  const client = (url = ldap.url, options: Partial<ConstructorParameters<typeof Client>[0]> = {}) => {
    const c = new Client({ url, connectTimeout: 2000, timeout: 5000, ...options });
    clients.push(c);
    return c;
  };

  /** Binds with the password policy control: the result ('ok' or the error's class) and the response control value in hex. */
  async function bindWithPolicy(dn: string, password: string): Promise<{ result: string; control: string | undefined }> {
    const probe = new PasswordPolicyProbe();
    const c = client();
    try {
      await c.bind(dn, password, [probe]);
      return { result: 'ok', control: probe.raw?.toString('hex') };
    } catch (err) {
      return { result: (err as Error).constructor.name, control: probe.raw?.toString('hex') };
    }
  }

  before(async () => {
    ldap = await startSlapd();
  });
  // Each test's connections are closed before the next test (which may stop slapd).
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.unbind().catch(() => undefined)));
  });
  after(async () => {
    await ldap?.close();
  });

  it('the reader finds alice with mail, cn and both groups in memberOf, but never a userPassword', async () => {
    const c = client();
    await c.bind(ldap.reader.dn, ldap.reader.password);
    const { searchEntries } = await c.search(ldap.peopleDn, { filter: '(uid=alice)', attributes: ['*', '+', 'userPassword'] });
    assert.equal(searchEntries.length, 1);
    const alice = searchEntries[0]!;
    assert.equal(alice.dn, ldap.users.alice.dn);
    assert.equal(alice.mail, 'alice@corp.test');
    assert.equal(alice.cn, 'Alice Liddell');
    assert.deepEqual([alice.memberOf].flat().sort(), ['cn=admins,ou=groups,dc=corp,dc=test', 'cn=engineers,ou=groups,dc=corp,dc=test']);
    assert.deepEqual(values(alice.userPassword), []);

    const carol = await c.search(ldap.users.carol.dn, { scope: 'base', attributes: ['pwdAccountLockedTime', 'userPassword'] });
    assert.equal(carol.searchEntries[0]?.pwdAccountLockedTime, '000001010000Z');
    assert.deepEqual(values(carol.searchEntries[0]?.userPassword), []);
  });

  it('alice, bob, frank and erin bind with their passwords; a wrong password is InvalidCredentials', async () => {
    for (const name of ['alice', 'bob', 'frank', 'erin'] as const) {
      await client().bind(ldap.users[name].dn, ldap.users[name].password);
    }
    await assert.rejects(client().bind(ldap.users.alice.dn, 'not-alices-password'), InvalidCredentialsError);
  });

  it('ppolicy: carol (locked) and dave (expired) are refused with the right password; the response control says why', async () => {
    assert.deepEqual(await bindWithPolicy(ldap.users.carol.dn, ldap.users.carol.password), {
      result: 'InvalidCredentialsError',
      control: '3003810101',
    }); // accountLocked
    assert.deepEqual(await bindWithPolicy(ldap.users.dave.dn, ldap.users.dave.password), {
      result: 'InvalidCredentialsError',
      control: '3003810100',
    }); // passwordExpired
    assert.deepEqual(await bindWithPolicy(ldap.users.erin.dn, ldap.users.erin.password), { result: 'ok', control: '3003810102' }); // changeAfterReset
    assert.deepEqual(await bindWithPolicy(ldap.users.alice.dn, ldap.users.alice.password), { result: 'ok', control: '3000' });
  });

  it('ldaps trusts the harness CA only; StartTLS works on the plain port', async () => {
    const secure = client(ldap.ldapsUrl, { tlsOptions: { ca: [ldap.caPem] } });
    await secure.bind(ldap.users.bob.dn, ldap.users.bob.password);
    await assert.rejects(client(ldap.ldapsUrl).bind(ldap.users.bob.dn, ldap.users.bob.password), /self[- ]signed|unable to (get|verify)/i);

    const upgraded = client();
    await upgraded.startTLS({ ca: [ldap.caPem] });
    await upgraded.bind(ldap.users.frank.dn, ldap.users.frank.password);
  });

  it('stop() takes the directory down (connection refused) and start() brings it back on the same ports', async () => {
    await ldap.stop();
    await assert.rejects(client().bind(ldap.reader.dn, ldap.reader.password), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
    await ldap.start();
    await client().bind(ldap.reader.dn, ldap.reader.password);
    await client(ldap.ldapsUrl, { tlsOptions: { ca: [ldap.caPem] } }).bind(ldap.users.alice.dn, ldap.users.alice.password);
  });

  it('modify() as admin: a new mail is visible to the reader', async () => {
    await ldap.modify(ldap.users.frank.dn, [{ operation: 'replace', type: 'mail', values: ['frank.new@corp.test'] }]);
    const c = client();
    await c.bind(ldap.reader.dn, ldap.reader.password);
    const { searchEntries } = await c.search(ldap.peopleDn, { filter: '(mail=frank.new@corp.test)', attributes: ['uid'] });
    assert.equal(searchEntries[0]?.uid, 'frank');
  });
});
