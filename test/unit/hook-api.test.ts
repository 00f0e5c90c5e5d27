/**
 * Issue #5 §4: the `api` a post-login hook receives (src/hooks/hook-api.ts),
 * as pure functions: which claim names a hook may set, what each api call
 * records (or refuses by throwing inside the hook), and how the recorded
 * commands fold into what the token service signs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyHookCommands, claimNameProblem, recordingApi, type HookCommand } from '../../src/hooks/hook-api.js';

function recorder(): { commands: HookCommand[]; api: ReturnType<typeof recordingApi> } {
  const commands: HookCommand[] = [];
  return { commands, api: recordingApi(commands) };
}

describe('claimNameProblem', () => {
  it('accepts namespaced names: an http(s) URL, a URN, anything scheme-like with a colon', () => {
    for (const name of [
      'https://example.com/roles',
      'http://example.com/roles',
      'https://example.com/',
      'https://example.com',
      'https://example.com/a/b?c=d',
      'urn:example:roles',
      'app:roles',
      'x-y.z+w:1',
    ]) {
      assert.equal(claimNameProblem(name), undefined, name);
    }
  });

  it('refuses plain names, saying how to namespace them', () => {
    for (const name of ['roles', 'tenant_role', 'https', 'example.com/roles']) {
      const problem = claimNameProblem(name);
      assert.ok(problem?.includes('must be namespaced'), `${name}: ${problem}`);
      assert.ok(problem?.includes('https://example.com/'), problem);
    }
  });

  it('refuses names that are not scheme-like or contain whitespace', () => {
    for (const name of [':roles', '1app:roles', 'my app:roles', 'https://example.com/with space', 'https://exa mple.com/x', 'urn:a b']) {
      assert.notEqual(claimNameProblem(name), undefined, name);
    }
  });

  it('refuses the claims the server sets or that mean something to relying parties, even though some look namespaced-free', () => {
    for (const name of [
      'sub',
      'iss',
      'aud',
      'exp',
      'iat',
      'jti',
      'scope',
      'client_id',
      'amr',
      'acr',
      'azp',
      'nonce',
      'auth_time',
      'permissions',
      'email',
      'email_verified',
      'name',
      'groups',
      'updated_at',
      'cnf',
      'act',
    ]) {
      const problem = claimNameProblem(name);
      assert.ok(problem?.includes('claim the server sets'), `${name}: ${problem}`);
      assert.ok(problem?.includes(`https://example.com/${name}`), problem);
    }
  });

  it('refuses empty, over-long and non-string names', () => {
    assert.notEqual(claimNameProblem(''), undefined);
    const prefix = 'https://example.com/';
    assert.equal(claimNameProblem(prefix + 'a'.repeat(256 - prefix.length)), undefined, '256 characters is the limit');
    assert.match(claimNameProblem(prefix + 'a'.repeat(257 - prefix.length)) ?? '', /1 to 256 characters/);
    for (const name of [undefined, null, 42, ['https://example.com/x'], { toString: () => 'https://example.com/x' }]) {
      assert.match(claimNameProblem(name) ?? '', /1 to 256 characters/, String(name));
    }
  });
});

describe('recordingApi', () => {
  describe('setCustomClaim', () => {
    it('records access-token and id_token claims, in call order', () => {
      const { api, commands } = recorder();
      api.accessToken.setCustomClaim('https://example.com/roles', ['admin']);
      api.idToken.setCustomClaim('urn:example:team', { name: 'blue' });
      api.accessToken.setCustomClaim('https://example.com/n', 0);
      api.accessToken.setCustomClaim('https://example.com/nothing', null);
      assert.deepEqual(commands, [
        { op: 'access_token_claim', name: 'https://example.com/roles', value: ['admin'] },
        { op: 'id_token_claim', name: 'urn:example:team', value: { name: 'blue' } },
        { op: 'access_token_claim', name: 'https://example.com/n', value: 0 },
        { op: 'access_token_claim', name: 'https://example.com/nothing', value: null },
      ]);
    });

    it('records a JSON copy: later changes to the value do not leak in, and values become what JSON makes of them', () => {
      const { api, commands } = recorder();
      const roles = ['reader'];
      api.accessToken.setCustomClaim('https://example.com/roles', roles);
      roles.push('admin');
      api.accessToken.setCustomClaim('https://example.com/when', new Date('2024-01-02T03:04:05.000Z'));
      api.accessToken.setCustomClaim('https://example.com/obj', { keep: 1, drop: undefined });
      assert.deepEqual(
        commands.map((c) => (c.op === 'access_token_claim' ? c.value : undefined)),
        [['reader'], '2024-01-02T03:04:05.000Z', { keep: 1 }],
      );
    });

    it('throws a TypeError inside the hook for a bad name, and records nothing', () => {
      const { api, commands } = recorder();
      assert.throws(
        () => api.accessToken.setCustomClaim('roles', ['admin']),
        (err: Error) => err instanceof TypeError && /^setCustomClaim: .*must be namespaced/.test(err.message),
      );
      assert.throws(
        () => api.accessToken.setCustomClaim('sub', 'someone-else'),
        (err: Error) => err instanceof TypeError && /claim the server sets/.test(err.message),
      );
      assert.throws(() => api.idToken.setCustomClaim('email', 'x@evil.test'), TypeError);
      assert.deepEqual(commands, []);
    });

    it('throws a TypeError for a value that is not JSON', () => {
      const { api, commands } = recorder();
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      for (const value of [undefined, () => 1, Symbol('s'), 10n, cyclic]) {
        assert.throws(
          () => api.accessToken.setCustomClaim('https://example.com/v', value),
          (err: Error) => err instanceof TypeError && /must be JSON/.test(err.message),
          String(typeof value),
        );
        assert.throws(() => api.idToken.setCustomClaim('https://example.com/v', value), TypeError);
      }
      assert.deepEqual(commands, []);
    });

    it('takes a value up to 8 KiB as JSON, counted in bytes, and throws above', () => {
      const { api, commands } = recorder();
      // JSON adds the two quotes.
      api.accessToken.setCustomClaim('https://example.com/v', 'a'.repeat(8192 - 2));
      assert.equal(commands.length, 1);
      assert.throws(
        () => api.accessToken.setCustomClaim('https://example.com/v', 'a'.repeat(8192 - 1)),
        (err: Error) => err instanceof TypeError && /8192 bytes/.test(err.message),
      );
      // 'é' is two bytes in UTF-8: 4096 of them are 8194 bytes with the quotes.
      assert.throws(() => api.idToken.setCustomClaim('https://example.com/v', 'é'.repeat(4096)), TypeError);
      assert.throws(
        () => api.accessToken.setCustomClaim('https://example.com/v', { list: Array.from({ length: 3000 }, () => 'x') }),
        TypeError,
      );
      assert.equal(commands.length, 1);
    });
  });

  describe('addScope / removeScope', () => {
    it('record one scope token each', () => {
      const { api, commands } = recorder();
      api.accessToken.addScope('read:reports');
      api.accessToken.removeScope('edit');
      api.accessToken.addScope('https://api.example.com/write');
      assert.deepEqual(commands, [
        { op: 'add_scope', scope: 'read:reports' },
        { op: 'remove_scope', scope: 'edit' },
        { op: 'add_scope', scope: 'https://api.example.com/write' },
      ]);
    });

    it('throw a TypeError for anything but one RFC 6749 §3.3 scope token', () => {
      const { api, commands } = recorder();
      for (const bad of ['', 'read write', ' read', 'a"b', 'a\\b', 'tab\there', 'é', 'x'.repeat(201), undefined, 42, ['read']]) {
        assert.throws(
          () => api.accessToken.addScope(bad),
          (err: Error) => err instanceof TypeError && /^addScope: one scope token/.test(err.message),
          JSON.stringify(bad),
        );
        assert.throws(
          () => api.accessToken.removeScope(bad),
          (err: Error) => err instanceof TypeError && /^removeScope: /.test(err.message),
          JSON.stringify(bad),
        );
      }
      api.accessToken.addScope('x'.repeat(200));
      assert.equal(commands.length, 1);
    });
  });

  describe('access.deny', () => {
    it('records the reason, sanitised: control characters, quotes and backslashes become spaces, trimmed, at most 256 characters', () => {
      const { api, commands } = recorder();
      api.access.deny('Not allowed');
      api.access.deny('  line one\nline "two"\\three\u0000\u007f  ');
      api.access.deny('r'.repeat(300));
      assert.deepEqual(commands, [
        { op: 'deny', reason: 'Not allowed' },
        { op: 'deny', reason: 'line one line  two  three' },
        { op: 'deny', reason: 'r'.repeat(256) },
      ]);
    });

    it('without a usable reason says "Access denied."', () => {
      const { api, commands } = recorder();
      for (const reason of [undefined, '', '   \n\t', 42, { reason: 'x' }]) api.access.deny(reason);
      assert.deepEqual(
        commands.map((c) => (c.op === 'deny' ? c.reason : c.op)),
        Array(5).fill('Access denied.'),
      );
    });
  });

  describe('multifactor.enable', () => {
    it('records the requirement, whatever the provider', () => {
      const { api, commands } = recorder();
      api.multifactor.enable();
      api.multifactor.enable('any');
      api.multifactor.enable('guardian');
      assert.deepEqual(commands, [{ op: 'multifactor' }, { op: 'multifactor' }, { op: 'multifactor' }]);
    });

    it('refuses "none" with a TypeError: the tenant policy was already applied', () => {
      const { api, commands } = recorder();
      assert.throws(
        () => api.multifactor.enable('none'),
        (err: Error) => err instanceof TypeError && /not supported/.test(err.message),
      );
      assert.deepEqual(commands, []);
    });
  });
});

describe('applyHookCommands', () => {
  const granted = ['openid', 'read:sample', 'edit'];

  it('no commands: the grant as decided', () => {
    assert.deepEqual(applyHookCommands([], granted), {
      denied: undefined,
      multifactor: false,
      accessTokenClaims: {},
      idTokenClaims: {},
      accessTokenScopes: granted,
    });
  });

  it('claims: each token its own; the same name set twice keeps the later value', () => {
    const effect = applyHookCommands(
      [
        { op: 'access_token_claim', name: 'https://x/a', value: 1 },
        { op: 'id_token_claim', name: 'https://x/a', value: 'id' },
        { op: 'access_token_claim', name: 'https://x/b', value: [1] },
        { op: 'access_token_claim', name: 'https://x/a', value: 2 },
      ],
      granted,
    );
    assert.deepEqual(effect.accessTokenClaims, { 'https://x/a': 2, 'https://x/b': [1] });
    assert.deepEqual(effect.idTokenClaims, { 'https://x/a': 'id' });
  });

  it('scopes fold in order: add appends once, remove drops, add-then-remove is gone, remove-then-add is back', () => {
    const effect = applyHookCommands(
      [
        { op: 'add_scope', scope: 'write:sample' },
        { op: 'add_scope', scope: 'write:sample' },
        { op: 'add_scope', scope: 'read:sample' },
        { op: 'remove_scope', scope: 'edit' },
        { op: 'add_scope', scope: 'temp' },
        { op: 'remove_scope', scope: 'temp' },
        { op: 'remove_scope', scope: 'openid' },
        { op: 'add_scope', scope: 'openid' },
        { op: 'remove_scope', scope: 'never-granted' },
      ],
      granted,
    );
    assert.deepEqual(effect.accessTokenScopes, ['read:sample', 'write:sample', 'openid']);
  });

  it('does not change the granted scopes it is given', () => {
    const input = [...granted];
    applyHookCommands(
      [
        { op: 'remove_scope', scope: 'edit' },
        { op: 'add_scope', scope: 'x' },
      ],
      input,
    );
    assert.deepEqual(input, granted);
  });

  it('the first deny wins', () => {
    const effect = applyHookCommands(
      [
        { op: 'access_token_claim', name: 'https://x/a', value: 1 },
        { op: 'deny', reason: 'first' },
        { op: 'deny', reason: 'second' },
      ],
      granted,
    );
    assert.equal(effect.denied, 'first');
  });

  it('multifactor sets the flag, whatever else was recorded', () => {
    assert.equal(applyHookCommands([{ op: 'add_scope', scope: 'x' }], granted).multifactor, false);
    assert.equal(applyHookCommands([{ op: 'add_scope', scope: 'x' }, { op: 'multifactor' }], granted).multifactor, true);
  });

  it('what recordingApi records is what applyHookCommands applies', () => {
    const { api, commands } = recorder();
    api.accessToken.setCustomClaim('https://example.com/roles', ['admin']);
    api.idToken.setCustomClaim('https://example.com/team', 'blue');
    api.accessToken.addScope('write:sample');
    api.accessToken.removeScope('edit');
    api.multifactor.enable();
    const effect = applyHookCommands(commands, granted);
    assert.deepEqual(effect, {
      denied: undefined,
      multifactor: true,
      accessTokenClaims: { 'https://example.com/roles': ['admin'] },
      idTokenClaims: { 'https://example.com/team': 'blue' },
      accessTokenScopes: ['openid', 'read:sample', 'write:sample'],
    });
  });
});
