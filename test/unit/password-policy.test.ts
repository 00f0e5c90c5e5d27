/**
 * The password policy of a connection, as pure logic and as configuration:
 *
 * - min_length counts Unicode code points (an emoji is one character), with
 *   the boundary exactly at min_length; 1024 code points at most;
 * - the breached list is matched case-insensitively and after NFKC, and
 *   refuse_breached: false lets a listed password through;
 * - the schema takes min_length 1–128 and refuses 0 and 129; a seed user
 *   whose password breaks the connection's policy stops start-up with a
 *   ConfigError naming tenants[i].users[j].password and the rule, and the
 *   same user is accepted once that connection's policy is relaxed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/load.js';
import { DEFAULT_PASSWORD_POLICY, type PasswordPolicyConfig } from '../../src/config/schema.js';
import { isBreachedPassword, MAX_PASSWORD_LENGTH, passwordLength, passwordPolicyRefusal } from '../../src/domain/password-policy.js';
import { checkNewPassword, PasswordPolicyError } from '../../src/identity/user-admin.js';
import { configProblems } from '../helpers/config-problems.js';

const policy = (overrides: Partial<PasswordPolicyConfig> = {}): PasswordPolicyConfig => ({ ...DEFAULT_PASSWORD_POLICY, ...overrides });
const KEY = '\u{1F511}'; // 🔑: one code point, two UTF-16 units

const problems = configProblems;

/** A tenant with a default connection and a stricter `partners` one, and the given seed users. */
function tenantWith(
  users: unknown[],
  connectionPolicies: { default?: Partial<PasswordPolicyConfig>; partners?: Partial<PasswordPolicyConfig> } = {},
) {
  return {
    tenants: [
      {
        name: 'acme',
        default_directory: 'Username-Password-Authentication',
        connections: [
          {
            name: 'Username-Password-Authentication',
            type: 'database',
            ...(connectionPolicies.default ? { password_policy: connectionPolicies.default } : {}),
          },
          { name: 'partners', type: 'database', ...(connectionPolicies.partners ? { password_policy: connectionPolicies.partners } : {}) },
        ],
        users,
      },
    ],
  };
}

describe('password policy: rules', () => {
  it('the default policy is min_length 8, refuse_breached, flag on breached login', () => {
    assert.deepEqual(DEFAULT_PASSWORD_POLICY, { min_length: 8, refuse_breached: true, on_breached_login: 'flag' });
  });

  it('min_length: one character short is refused naming the rule; exactly min_length is accepted', () => {
    assert.deepEqual(passwordPolicyRefusal(policy(), 'abcdxyz'), {
      rule: 'min_length',
      message: 'the password must have at least 8 characters',
    });
    assert.equal(passwordPolicyRefusal(policy(), 'abcdxyzq'), undefined);
    assert.equal(passwordPolicyRefusal(policy({ min_length: 12 }), 'abcdxyzqrst')?.rule, 'min_length');
    assert.equal(passwordPolicyRefusal(policy({ min_length: 12 }), 'abcdxyzqrstu'), undefined);
    assert.equal(passwordPolicyRefusal(policy({ min_length: 1 }), 'z'), undefined);
    assert.equal(passwordPolicyRefusal(policy({ min_length: 1 }), '')?.rule, 'min_length');
  });

  it('lengths count code points, not UTF-16 units', () => {
    assert.equal(KEY.length, 2);
    assert.equal(passwordLength(KEY.repeat(7)), 7);
    // 14 UTF-16 units, but 7 characters: too short for 8.
    assert.equal(passwordPolicyRefusal(policy(), KEY.repeat(7))?.rule, 'min_length');
    assert.equal(passwordPolicyRefusal(policy(), KEY.repeat(8)), undefined);
    assert.equal(passwordLength('é' + 'e\u0301'), 3, 'a combining accent is its own code point');
  });

  it('max_length: 1024 code points are accepted, 1025 refused (also with astral characters)', () => {
    assert.equal(MAX_PASSWORD_LENGTH, 1024);
    assert.equal(passwordPolicyRefusal(policy(), 'x'.repeat(1024)), undefined);
    assert.deepEqual(passwordPolicyRefusal(policy(), 'x'.repeat(1025)), {
      rule: 'max_length',
      message: 'the password must have at most 1024 characters',
    });
    // 1024 emoji are 2048 UTF-16 units and still within the limit.
    assert.equal(passwordPolicyRefusal(policy(), KEY.repeat(1024)), undefined);
    assert.equal(passwordPolicyRefusal(policy(), KEY.repeat(1025))?.rule, 'max_length');
  });

  it('breached: listed passwords are refused whatever their case or width; others pass', () => {
    for (const listed of ['password1', 'iloveyou', 'qwertyuiop', 'trustno1']) {
      assert.equal(passwordPolicyRefusal(policy(), listed)?.rule, 'breached', listed);
    }
    for (const variant of ['PASSWORD1', 'Password1', 'ILoveYou', 'QwErTyUiOp', 'TRUSTNO1']) {
      assert.ok(isBreachedPassword(variant), `${variant} matches case-insensitively`);
      assert.equal(passwordPolicyRefusal(policy(), variant)?.rule, 'breached', variant);
    }
    // Full-width letters become ASCII under NFKC.
    assert.ok(isBreachedPassword('\uFF50\uFF41\uFF53\uFF53\uFF57\uFF4F\uFF52\uFF44\uFF11'), 'ｐａｓｓｗｏｒｄ１ is password1');
    assert.ok(!isBreachedPassword('correct horse battery staple'));
    assert.equal(passwordPolicyRefusal(policy(), 'correct horse battery staple'), undefined);
    assert.match(passwordPolicyRefusal(policy(), 'trustno1')?.message ?? '', /breached/);
  });

  it('refuse_breached: false accepts a listed password, but still enforces the length', () => {
    assert.equal(passwordPolicyRefusal(policy({ refuse_breached: false }), 'password1'), undefined);
    assert.equal(
      passwordPolicyRefusal(policy({ refuse_breached: false }), 'dragon')?.rule,
      'min_length',
      'dragon is listed but also short',
    );
    assert.equal(passwordPolicyRefusal(policy({ refuse_breached: false, min_length: 6 }), 'dragon'), undefined);
  });

  it('length is checked before the list: a short listed password is refused as min_length', () => {
    assert.ok(isBreachedPassword('dragon'));
    assert.equal(passwordPolicyRefusal(policy(), 'dragon')?.rule, 'min_length');
  });

  it('checkNewPassword throws a PasswordPolicyError whose message and rule name the rule', () => {
    const cases: Array<[string, string]> = [
      ['short', 'min_length'],
      ['y'.repeat(1025), 'max_length'],
      ['iloveyou', 'breached'],
    ];
    for (const [password, rule] of cases) {
      assert.throws(
        () => checkNewPassword(policy(), password),
        (err: unknown) => err instanceof PasswordPolicyError && err.rule === rule && err.message.startsWith(`password policy (${rule}): `),
        rule,
      );
    }
    assert.doesNotThrow(() => checkNewPassword(policy(), 'a perfectly fine passphrase'));
  });
});

describe('password policy: configuration', () => {
  it('min_length 1 and 128 are accepted and kept; 0 and 129 are refused naming the key path', () => {
    for (const min of [1, 128]) {
      const config = resolveConfig(tenantWith([], { partners: { min_length: min } }), '/srv/latchkey', {});
      assert.equal(config.tenants[0]?.connections[1]?.password_policy.min_length, min);
    }
    for (const min of [0, 129, 8.5]) {
      const p = problems(tenantWith([], { partners: { min_length: min } }));
      assert.ok(
        p.some((x) => x.startsWith('tenants[0].connections[1].password_policy.min_length:')),
        `${min}:\n${p.join('\n')}`,
      );
    }
  });

  it('an omitted policy gets the defaults; on_breached_login takes only allow, flag, refuse; unknown keys are refused', () => {
    const config = resolveConfig(tenantWith([], { partners: { on_breached_login: 'refuse' } }), '/srv/latchkey', {});
    assert.deepEqual(config.tenants[0]?.connections[0]?.password_policy, DEFAULT_PASSWORD_POLICY);
    assert.deepEqual(config.tenants[0]?.connections[1]?.password_policy, {
      min_length: 8,
      refuse_breached: true,
      on_breached_login: 'refuse',
    });
    const bad = problems(tenantWith([], { partners: { on_breached_login: 'warn' as never } }));
    assert.ok(
      bad.some((x) => x.startsWith('tenants[0].connections[1].password_policy.on_breached_login:')),
      bad.join('\n'),
    );
    const typo = problems(tenantWith([], { partners: { min_lenght: 10 } as never }));
    assert.ok(
      typo.some((x) => x.startsWith('tenants[0].connections[1].password_policy')),
      typo.join('\n'),
    );
  });

  it('a seed user with a breached password stops start-up naming its password key and the rule', () => {
    const p = problems(
      tenantWith([
        { connection: 'Username-Password-Authentication', username: 'fine', password: 'a perfectly fine passphrase' },
        { connection: 'Username-Password-Authentication', username: 'weak', password: 'Qwertyuiop' },
      ]),
    );
    const line = p.find((x) => x.startsWith('tenants[0].users[1].password:'));
    assert.ok(line, p.join('\n'));
    assert.match(line, /breached/);
    assert.match(line, /rule breached/);
    assert.ok(!p.some((x) => x.startsWith('tenants[0].users[0]')), 'the good user is not reported');
    assert.ok(!p.join('\n').includes('Qwertyuiop'), 'the password itself is not echoed');
  });

  it('a seed user with a too-short password stops start-up naming the key path and min_length', () => {
    const p = problems(tenantWith([{ connection: 'Username-Password-Authentication', username: 'short', password: 'kx9!q' }]));
    const line = p.find((x) => x.startsWith('tenants[0].users[0].password:'));
    assert.ok(line, p.join('\n'));
    assert.match(line, /at least 8 characters/);
    assert.match(line, /rule min_length/);
  });

  it("a user is checked against its own connection's policy", () => {
    const strict = { min_length: 16 };
    const p = problems(
      tenantWith(
        [
          { connection: 'Username-Password-Authentication', username: 'a', password: 'twelve chars' },
          { connection: 'partners', username: 'b', password: 'twelve chars' },
        ],
        { partners: strict },
      ),
    );
    assert.ok(
      p.some((x) => x.startsWith('tenants[0].users[1].password:') && /at least 16 characters/.test(x) && /partners/.test(x)),
      p.join('\n'),
    );
    assert.ok(!p.some((x) => x.startsWith('tenants[0].users[0]')), p.join('\n'));
  });

  it('the same seed users are accepted once the policy is relaxed', () => {
    const users = [
      { connection: 'Username-Password-Authentication', username: 'weak', password: 'Qwertyuiop' },
      { connection: 'partners', username: 'short', password: 'kx9!q' },
    ];
    assert.equal(problems(tenantWith(users)).length, 2);
    const config = resolveConfig(
      tenantWith(users, { default: { refuse_breached: false }, partners: { min_length: 5 } }),
      '/srv/latchkey',
      {},
    );
    assert.equal(config.tenants[0]?.users.length, 2);
  });

  it('an imported password_hash is not checked against the policy at start-up', async () => {
    const { hashPassword } = await import('../../src/identity/passwords.js');
    const hash = await hashPassword('trustno1');
    const config = resolveConfig(
      tenantWith([{ connection: 'Username-Password-Authentication', username: 'legacy', password_hash: hash }]),
      '/srv/latchkey',
      {},
    );
    assert.equal(config.tenants[0]?.users[0]?.password_hash, hash);
  });
});
