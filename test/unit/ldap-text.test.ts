/**
 * Issue #5 §1, the pure parts of the LDAP credential source
 * (src/identity/sources/ldap-text.ts), without a directory: a login name
 * placed in a DN (RFC 4514 §2.4) or a search filter (RFC 4515 §3), group
 * DNs turned into names, the password-policy response control
 * (draft-behera-ldap-password-policy §6.2) and Active Directory's
 * diagnostic sub-codes, and which login names are refused before any LDAP
 * traffic.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FilterParser } from 'ldapts';
import {
  activeDirectoryRefusal,
  decodePasswordPolicyResponse,
  escapeDnValue,
  groupName,
  isPlausibleLdapLoginName,
  searchFilterFor,
  userDnFromTemplate,
} from '../../src/identity/sources/ldap-text.js';

describe('issue #5 §1: a login name inside a DN (RFC 4514 §2.4)', () => {
  it('an ordinary name is left as it is', () => {
    assert.equal(escapeDnValue('alice'), 'alice');
    assert.equal(escapeDnValue('alice@corp.test'), 'alice@corp.test');
    assert.equal(escapeDnValue('Zoë Ünal'), 'Zoë Ünal', 'non-ASCII and inner spaces need no escape');
    assert.equal(escapeDnValue('a#b'), 'a#b', '# only at the start');
  });

  it('each of , + " \\ < > ; = is escaped with a backslash', () => {
    for (const ch of [',', '+', '"', '\\', '<', '>', ';', '=']) {
      assert.equal(escapeDnValue(`a${ch}b`), `a\\${ch}b`, ch);
    }
    assert.equal(escapeDnValue('alice,ou=admins'), 'alice\\,ou\\=admins');
    assert.equal(escapeDnValue('\\'), '\\\\');
  });

  it('a leading # and a leading or trailing space are escaped', () => {
    assert.equal(escapeDnValue('#alice'), '\\#alice');
    assert.equal(escapeDnValue(' alice'), '\\ alice');
    assert.equal(escapeDnValue('alice '), 'alice\\ ');
    assert.equal(escapeDnValue(' '), '\\ ');
    assert.equal(escapeDnValue('  '), '\\ \\ ');
    assert.equal(escapeDnValue('a b'), 'a b');
  });

  it('a trailing space after a backslash is still escaped (the value is not cut short)', () => {
    // `a\` + space: "a\\\\ " would read back as `a\` with the space trimmed off.
    assert.equal(escapeDnValue('a\\ '), 'a\\\\\\ ');
  });

  it('NUL becomes \\00', () => {
    assert.equal(escapeDnValue('a\u0000b'), 'a\\00b');
  });

  it('the template gets the escaped name at each {{username}}', () => {
    assert.equal(userDnFromTemplate('uid={{username}},ou=people,dc=corp,dc=test', 'alice'), 'uid=alice,ou=people,dc=corp,dc=test');
    assert.equal(
      userDnFromTemplate('uid={{username}},ou=people,dc=corp,dc=test', 'x,ou=admins'),
      'uid=x\\,ou\\=admins,ou=people,dc=corp,dc=test',
    );
    assert.equal(userDnFromTemplate('CORP\\{{username}}', 'bob+cn=x'), 'CORP\\bob\\+cn\\=x');
  });
});

describe('issue #5 §1: a login name inside a search filter (RFC 4515 §3)', () => {
  it('* ( ) \\ and NUL are hex-escaped; anything else is left as it is', () => {
    assert.equal(searchFilterFor('(uid={{username}})', 'alice'), '(uid=alice)');
    assert.equal(searchFilterFor('(uid={{username}})', '*'), '(uid=\\2a)');
    assert.equal(searchFilterFor('(uid={{username}})', '('), '(uid=\\28)');
    assert.equal(searchFilterFor('(uid={{username}})', ')'), '(uid=\\29)');
    assert.equal(searchFilterFor('(uid={{username}})', '\\'), '(uid=\\5c)');
    assert.equal(searchFilterFor('(uid={{username}})', 'a\u0000b'), '(uid=a\\00b)');
    assert.equal(searchFilterFor('(uid={{username}})', 'zoë@corp.test'), '(uid=zoë@corp.test)');
  });

  it('every {{username}} is replaced', () => {
    assert.equal(searchFilterFor('(|(uid={{username}})(mail={{username}}))', 'a*'), '(|(uid=a\\2a)(mail=a\\2a))');
  });

  it('an injection attempt stays one equality match on the literal name', () => {
    for (const name of ['*', 'ali*', 'alice)(uid=*', '*)(|(uid=*', 'alice)(|(objectClass=*)', 'x\\2a']) {
      const filter = FilterParser.parseString(searchFilterFor('(|(uid={{username}})(mail={{username}}))', name)) as unknown as {
        filters: Array<{ constructor: { name: string }; attribute: string; value: string }>;
      };
      assert.equal(filter.filters.length, 2, name);
      for (const part of filter.filters) {
        assert.equal(part.constructor.name, 'EqualityFilter', `${name}: not a presence or substring match`);
        assert.equal(part.value, name, `${name}: the literal name`);
      }
    }
  });
});

describe('issue #5 §1: group DNs become group names (the first RDN value)', () => {
  it('a DN gives its first RDN value', () => {
    assert.equal(groupName('cn=engineers,ou=groups,dc=corp,dc=test'), 'engineers');
    assert.equal(groupName('CN=Domain Admins,CN=Users,DC=corp,DC=test'), 'Domain Admins');
    assert.equal(groupName('cn=solo'), 'solo');
    assert.equal(groupName('cn=a+uid=b,ou=groups,dc=corp,dc=test'), 'a', 'a multi-valued RDN: its first value');
  });

  it('escapes in the value are undone: an escaped comma stays in the name', () => {
    assert.equal(groupName('cn=R\\, D,ou=groups,dc=corp,dc=test'), 'R, D');
    assert.equal(groupName('cn=a\\2cb,ou=groups'), 'a,b', 'hex escape');
    assert.equal(groupName('cn=back\\\\slash,ou=groups'), 'back\\slash');
    assert.equal(groupName('cn=a\\\\2c,ou=groups'), 'a\\2c', 'an escaped backslash before hex digits is not a hex escape');
    assert.equal(groupName('cn=\\#hash,ou=groups'), '#hash');
  });

  it('hex escapes are UTF-8 bytes', () => {
    assert.equal(groupName('cn=Z\\C3\\BCrich,ou=groups'), 'Zürich');
    assert.equal(groupName('cn=Zürich,ou=groups'), 'Zürich');
  });

  it('a value that is not a DN is kept as it is', () => {
    for (const value of ['engineers', 'Domain Admins', 'not a dn, really', '=x', 'cn=', '']) {
      assert.equal(groupName(value), value, JSON.stringify(value));
    }
  });
});

describe('issue #5 §1: the password-policy response control (draft-behera §6.2)', () => {
  const decode = (hex: string) => decodePasswordPolicyResponse(Buffer.from(hex, 'hex'));

  it('the three errors that refuse a right password', () => {
    assert.equal(decode('3003810101'), 'account_locked');
    assert.equal(decode('3003810100'), 'password_expired');
    assert.equal(decode('3003810102'), 'password_change_required');
  });

  it('no error (an empty sequence, or a warning only) is no refusal', () => {
    assert.equal(decode('3000'), undefined);
    assert.equal(decode('3005a003800105'), undefined, 'timeBeforeExpiration 5, no error');
    assert.equal(decode(''), undefined);
  });

  it('a warning before the error is skipped', () => {
    assert.equal(decode('3008a003800105810101'), 'account_locked');
    assert.equal(decode('3008a003810102810100'), 'password_expired', 'graceAuthNsRemaining 2, then expired');
  });

  it('errors about changing a password (3-8) are not sign-in refusals', () => {
    for (const code of ['03', '04', '05', '06', '07', '08']) assert.equal(decode(`30038101${code}`), undefined, code);
  });

  it('garbage is no answer, never a throw', () => {
    for (const hex of ['ff', '30', '300381', '04020101', '3003820101', '3003810201', 'a0030101ff']) {
      assert.doesNotThrow(() => decode(hex), hex);
      assert.equal(decode(hex), undefined, hex);
    }
  });
});

describe("issue #5 §1: Active Directory's diagnostic sub-codes of a refused bind", () => {
  const diagnostic = (data: string) => `80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data ${data}, v3839`;

  it('775 (locked), 533 (disabled) and 701 (account expired) are account_locked', () => {
    assert.equal(activeDirectoryRefusal(diagnostic('775')), 'account_locked');
    assert.equal(activeDirectoryRefusal(diagnostic('533')), 'account_locked');
    assert.equal(activeDirectoryRefusal(diagnostic('701')), 'account_locked');
  });

  it('532 is password_expired, 773 password_change_required', () => {
    assert.equal(activeDirectoryRefusal(diagnostic('532')), 'password_expired');
    assert.equal(activeDirectoryRefusal(diagnostic('773')), 'password_change_required');
  });

  it('52e (wrong password), 525 (no such user) and anything else are no refusal', () => {
    for (const data of ['52e', '52E', '525', '530', '7750']) assert.equal(activeDirectoryRefusal(diagnostic(data)), undefined, data);
    assert.equal(activeDirectoryRefusal(''), undefined);
    assert.equal(activeDirectoryRefusal('Invalid credentials'), undefined);
  });
});

describe('issue #5 §1: login names refused before any LDAP traffic', () => {
  it('ordinary names, addresses and names with LDAP metacharacters pass (they are escaped later)', () => {
    for (const name of ['alice', 'alice@corp.test', 'CORP\\alice', 'Zoë Ünal', '*', ')(uid=*', 'a'.repeat(256)]) {
      assert.equal(isPlausibleLdapLoginName(name), true, JSON.stringify(name));
    }
  });

  it('empty, too long, surrounded by spaces, or with control characters: refused', () => {
    for (const name of ['', 'a'.repeat(257), ' alice', 'alice ', '\talice', 'ali\nce', 'a\u0000', 'a\u001f', 'a\u007f']) {
      assert.equal(isPlausibleLdapLoginName(name), false, JSON.stringify(name));
    }
  });
});
