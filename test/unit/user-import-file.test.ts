/**
 * Auth0's user-import file, checked without I/O (identity/user-import-file.ts):
 * Auth0's keys map to a user, unknown keys are refused with their path, every
 * error names the row and the key, and imported hashes are bounded in cost.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hash as argon2Hash } from '@node-rs/argon2';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import {
  checkImportRow,
  ImportFileError,
  importedHashRefusal,
  readImportFile,
  rowPath,
  rowWithoutSecrets,
  type ImportRowError,
} from '../../src/identity/user-import-file.js';

function errorsOf(value: unknown, index = 0): ImportRowError[] {
  const check = checkImportRow(value, index);
  assert.equal(check.ok, false, `expected a refusal of ${JSON.stringify(value)}`);
  return check.ok ? [] : check.errors;
}

describe('user-import file', () => {
  it('maps every Auth0 key to the user it describes; the email is the login name when there is no username', async () => {
    const bcrypt = await bcryptHash('imported', 4);
    const check = checkImportRow(
      {
        email: 'ada@example.com',
        email_verified: true,
        user_id: 'legacy-42',
        given_name: 'Ada',
        family_name: 'Lovelace',
        name: 'Ada Lovelace',
        nickname: 'ada',
        picture: 'https://example.com/ada.png',
        blocked: false,
        user_metadata: { theme: 'dark' },
        app_metadata: { plan: 'gold' },
        custom_password_hash: { algorithm: 'bcrypt', hash: { value: bcrypt, encoding: 'utf8' } },
      },
      3,
    );
    assert.ok(check.ok, JSON.stringify(check));
    assert.deepEqual(check.row, {
      index: 3,
      id: 'legacy-42',
      username: 'ada@example.com',
      email: 'ada@example.com',
      emailVerified: true,
      name: 'Ada Lovelace',
      givenName: 'Ada',
      familyName: 'Lovelace',
      blocked: false,
      password: undefined,
      passwordHash: bcrypt,
      userMetadata: { theme: 'dark' },
      appMetadata: { plan: 'gold' },
    });
  });

  it('takes an argon2 PHC hash in custom_password_hash and in password_hash, and a plain password', async () => {
    const argon2 = await argon2Hash('pw', { memoryCost: 4096, timeCost: 1, parallelism: 1 });
    const custom = checkImportRow({ username: 'a', custom_password_hash: { algorithm: 'argon2', hash: { value: argon2 } } }, 0);
    assert.ok(custom.ok && custom.row.passwordHash === argon2);
    const legacy = checkImportRow({ username: 'b', password_hash: argon2 }, 0);
    assert.ok(legacy.ok && legacy.row.passwordHash === argon2);
    const plain = checkImportRow({ username: 'c', password: 'a long passphrase' }, 0);
    assert.ok(plain.ok && plain.row.password === 'a long passphrase' && plain.row.passwordHash === undefined);
  });

  it('refuses an unknown key anywhere with its full path, row included', () => {
    const errors = errorsOf({ email: 'x@example.com', custom_password_hash: { algorithm: 'bcrypt', hash: { valu: 'x' } } }, 12);
    const paths = errors.map((e) => e.path);
    assert.ok(paths.includes('[12].custom_password_hash.hash.valu'), JSON.stringify(errors));
    const unknown = errors.find((e) => e.path === '[12].custom_password_hash.hash.valu');
    assert.equal(unknown?.code, 'OBJECT_ADDITIONAL_PROPERTIES');
    assert.match(unknown?.message ?? '', /^unknown key/);
    // The missing value is named too.
    assert.ok(paths.includes('[12].custom_password_hash.hash.value'), JSON.stringify(errors));

    const topLevel = errorsOf({ email: 'x@example.com', pasword: 'typo' }, 4);
    assert.deepEqual(
      topLevel.map((e) => e.path),
      ['[4].pasword'],
    );
  });

  it("says why Auth0's MFA and phone keys are not imported", () => {
    const [error] = errorsOf({ email: 'x@example.com', mfa_factors: [] }, 0);
    assert.equal(error?.path, '[0].mfa_factors');
    assert.match(error?.message ?? '', /not imported: MFA enrolments/);
  });

  it('names the row and key of every kind of error, with Auth0 job-error codes', () => {
    const cases: Array<[unknown, string, string]> = [
      [{ email: 'not-an-email' }, '[0].email', 'INVALID_FORMAT'],
      [{ email: 'a@example.com', email_verified: 'yes' }, '[0].email_verified', 'INVALID_TYPE'],
      [{ username: 'has space' }, '[0].username', 'PATTERN'],
      [{ username: 'u'.repeat(129) }, '[0].username', 'MAX_LENGTH'],
      [{ email: 'a@example.com', picture: 'javascript:alert(1)' }, '[0].picture', 'INVALID_FORMAT'],
      [
        { email: 'a@example.com', custom_password_hash: { algorithm: 'md5', hash: { value: 'x' } } },
        '[0].custom_password_hash.algorithm',
        'ENUM_MISMATCH',
      ],
      [{ email: 'a@example.com', password_hash: 'plain text' }, '[0].password_hash', 'INVALID_FORMAT'],
      [{ email: 'a@example.com', app_metadata: { email: 'x' } }, '[0].app_metadata', 'INVALID_FORMAT'],
      [{ email: 'a@example.com', user_metadata: { big: 'x'.repeat(20_000) } }, '[0].user_metadata', 'MAX_LENGTH'],
      [{ email: 'a@example.com', user_metadata: [] }, '[0].user_metadata', 'INVALID_TYPE'],
      [{ name: 'No login' }, '[0].email', 'OBJECT_MISSING_REQUIRED_PROPERTY'],
      [{ email: 'a@example.com', password: 'x', password_hash: '$2b$10$x' }, '[0].password_hash', 'CONFLICTING_PROPERTIES'],
    ];
    for (const [value, path, code] of cases) {
      const errors = errorsOf(value);
      const match = errors.find((e) => e.path === path);
      assert.ok(match, `${JSON.stringify(value)}: expected an error at ${path}, got ${JSON.stringify(errors)}`);
      assert.equal(match.code, code, `${path}: ${JSON.stringify(match)}`);
    }
    assert.deepEqual(errorsOf('a string', 7), [{ code: 'INVALID_TYPE', message: 'expected a user object', path: '[7]' }]);
    assert.equal(errorsOf({ name: 'No login' })[0]?.message, 'give an email or a username (the login name)');
  });

  it('bounds the cost of imported hashes: every sign-in attempt on the user pays it', async () => {
    assert.equal(importedHashRefusal(await bcryptHash('x', 4), 'bcrypt'), undefined);
    const costly = `$2b$15$${'a'.repeat(53)}`;
    assert.match(importedHashRefusal(costly, 'bcrypt') ?? '', /cost 15 is outside 4–14/);
    const heavy = '$argon2id$v=19$m=1048576,t=3,p=4$c29tZXNhbHRzb21l$aGFzaGhhc2hoYXNoaGFzaGhhc2g';
    assert.match(importedHashRefusal(heavy, 'argon2') ?? '', /exceed m=65536/);
    assert.match(importedHashRefusal(await bcryptHash('x', 4), 'argon2') ?? '', /not an argon2 hash in PHC/);
  });

  it('formats paths for keys that are no identifiers', () => {
    assert.equal(rowPath(3, ['user_metadata', 'a b', 0]), '[3].user_metadata["a b"][0]');
  });

  it('reports a row without its password, hashes or mistyped keys', () => {
    assert.deepEqual(rowWithoutSecrets({ email: 'a@example.com', password: 'secret', custom_password_hash: {}, pasword: 'typo' }), {
      email: 'a@example.com',
    });
  });

  it('refuses a file that is not a JSON array, or holds too many rows', () => {
    assert.throws(() => readImportFile('{"email": "x"}'), ImportFileError);
    assert.throws(() => readImportFile('[{'), /not valid JSON/);
    assert.throws(() => readImportFile('[{}, {}, {}]', 2), /holds 3 users; at most 2/);
    assert.equal(readImportFile('[{}, 1]').length, 2);
  });
});
