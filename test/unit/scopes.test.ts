/**
 * Scope and audience rules (DESIGN.md §4 and the Auth0 seed's "Password
 * grant and standard scopes"), as pure functions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApiConfig } from '../../src/config/schema.js';
import { RequestParameters } from '../../src/oauth/request-parameters.js';
import {
  grantClientScopes,
  grantUserScopes,
  narrowScopes,
  optionalScopes,
  parseScope,
  selectResource,
  unprefixRefreshScopes,
} from '../../src/oauth/scopes.js';

const api = (identifier: string, scopes: string[]): ApiConfig => ({
  identifier,
  scopes,
  token_lifetime: 60,
  allow_offline_access: true,
  signing_alg: 'RS256',
});
const A = api('https://a.test', ['read', 'write']);
const B = api('https://a.test/b', ['admin']);
const apis = new Map([A, B].map((x) => [x.identifier, x]));

describe('parseScope', () => {
  it('splits on spaces, drops empties and repeats', () => {
    assert.deepEqual(parseScope('  a b  a c '), ['a', 'b', 'c']);
    assert.deepEqual(parseScope(undefined), []);
  });
});

describe('optionalScopes (the scope parameter every grant may send)', () => {
  it('absent is undefined, not an empty request; present is parsed; a character RFC 6749 §3.3 forbids is invalid_request', () => {
    assert.equal(optionalScopes(RequestParameters.fromForm('grant_type=password')), undefined);
    assert.deepEqual(optionalScopes(RequestParameters.fromForm('scope=openid%20read%20openid')), ['openid', 'read']);
    assert.throws(() => optionalScopes(RequestParameters.fromForm('scope=a%22b')), { error: 'invalid_request' });
  });
});

describe('selectResource', () => {
  it('takes the audience parameter first', () => {
    assert.equal(selectResource({ audience: A.identifier, requestedScopes: [], apis, defaultAudiences: [B.identifier] }).api, A);
  });
  it('an unknown audience is invalid_target', () => {
    assert.throws(() => selectResource({ audience: 'https://x', requestedScopes: [], apis, defaultAudiences: [] }), {
      error: 'invalid_target',
    });
  });
  it('reads Entra-style {identifier}/{scope}, longest identifier winning', () => {
    const r = selectResource({ audience: undefined, requestedScopes: ['https://a.test/b/admin', 'openid'], apis, defaultAudiences: [] });
    assert.equal(r.api, B);
    assert.deepEqual(r.scopes, ['admin', 'openid']);
  });
  it('reads {identifier}/.default as the whole API', () => {
    const r = selectResource({ audience: undefined, requestedScopes: ['https://a.test/.default'], apis, defaultAudiences: [] });
    assert.equal(r.api, A);
    assert.equal(r.wholeApi, true);
  });
  it('two APIs in one request is invalid_target', () => {
    assert.throws(
      () =>
        selectResource({
          audience: undefined,
          requestedScopes: ['https://a.test/read', 'https://a.test/b/admin'],
          apis,
          defaultAudiences: [],
        }),
      { error: 'invalid_target' },
    );
    assert.throws(
      () => selectResource({ audience: A.identifier, requestedScopes: ['https://a.test/b/admin'], apis, defaultAudiences: [] }),
      { error: 'invalid_target' },
    );
  });
  it('falls back to the first default that names an API, else none', () => {
    assert.equal(selectResource({ audience: undefined, requestedScopes: [], apis, defaultAudiences: [undefined, B.identifier] }).api, B);
    assert.equal(selectResource({ audience: undefined, requestedScopes: [], apis, defaultAudiences: [undefined] }).api, undefined);
  });
});

describe('grantUserScopes (password grant)', () => {
  const sel = (scopes: string[], wholeApi = false) => ({ api: A, scopes, wholeApi });
  it('no API scope asked: every API scope', () => {
    assert.deepEqual(grantUserScopes({ selection: sel([]), offlineAllowed: true }), ['read', 'write']);
  });
  it('openid alone: every standard claim scope too', () => {
    assert.deepEqual(grantUserScopes({ selection: sel(['openid']), offlineAllowed: true }), [
      'openid',
      'profile',
      'email',
      'address',
      'phone',
      'read',
      'write',
    ]);
  });
  it('openid with profile: only what was asked', () => {
    assert.deepEqual(grantUserScopes({ selection: sel(['openid', 'profile', 'read']), offlineAllowed: true }), [
      'openid',
      'profile',
      'read',
    ]);
  });
  it('unknown scopes are dropped; offline_access only when allowed', () => {
    assert.deepEqual(grantUserScopes({ selection: sel(['read', 'nope', 'offline_access']), offlineAllowed: false }), ['read']);
    assert.deepEqual(grantUserScopes({ selection: sel(['read', 'offline_access']), offlineAllowed: true }), ['offline_access', 'read']);
  });
  it('no API: only OIDC scopes', () => {
    assert.deepEqual(
      grantUserScopes({ selection: { api: undefined, scopes: ['openid', 'email', 'read'], wholeApi: false }, offlineAllowed: false }),
      ['openid', 'email'],
    );
  });
});

describe('grantClientScopes (client_credentials)', () => {
  it('asked subset, or all when none or .default', () => {
    assert.deepEqual(grantClientScopes({ api: A, scopes: ['write', 'openid'], wholeApi: false }, ['read', 'write']), ['write']);
    assert.deepEqual(grantClientScopes({ api: A, scopes: ['openid'], wholeApi: false }, ['read', 'write']), ['read', 'write']);
    assert.deepEqual(grantClientScopes({ api: A, scopes: ['read'], wholeApi: true }, ['read', 'write']), ['read', 'write']);
  });
  it('never more than the client grant gives: asked scopes beyond it are dropped; none asked, or none granted among them, is every granted scope', () => {
    assert.deepEqual(grantClientScopes({ api: A, scopes: ['read', 'write'], wholeApi: false }, ['read']), ['read']);
    assert.deepEqual(grantClientScopes({ api: A, scopes: ['write'], wholeApi: false }, ['read']), ['read']);
    assert.deepEqual(grantClientScopes({ api: A, scopes: [], wholeApi: false }, ['read']), ['read']);
    assert.deepEqual(grantClientScopes({ api: A, scopes: ['write'], wholeApi: true }, ['read']), ['read']);
    assert.deepEqual(
      grantClientScopes({ api: A, scopes: ['read'], wholeApi: false }, []),
      [],
      'a grant with no scope gives a token with none',
    );
  });
  it('a granted scope the API no longer defines is not granted', () => {
    assert.deepEqual(grantClientScopes({ api: A, scopes: [], wholeApi: false }, ['read', 'admin']), ['read']);
  });
});

describe('narrowScopes (refresh)', () => {
  it('keeps the original without a request, narrows, refuses widening', () => {
    assert.deepEqual(narrowScopes(['a', 'b'], undefined), ['a', 'b']);
    assert.deepEqual(narrowScopes(['a', 'b'], ['b']), ['b']);
    assert.throws(() => narrowScopes(['a'], ['a', 'c']), { error: 'invalid_scope' });
  });
});

describe('unprefixRefreshScopes (refresh with Entra-style scopes, as MSAL sends them)', () => {
  const original = ['openid', 'profile', 'offline_access', 'read', 'write'];
  it('strips the token API prefix; {identifier}/.default is every API scope the grant holds', () => {
    assert.deepEqual(unprefixRefreshScopes(['https://a.test/read', 'openid', 'offline_access'], A, original), [
      'read',
      'openid',
      'offline_access',
    ]);
    assert.deepEqual(unprefixRefreshScopes(['https://a.test/.default', 'openid'], A, original), ['read', 'write', 'openid']);
    assert.deepEqual(unprefixRefreshScopes(['read'], A, original), ['read']);
  });
  it('a prefix of another API, or no API at all, is left for narrowing to refuse', () => {
    const other = unprefixRefreshScopes(['https://a.test/b/admin'], B, ['admin']);
    assert.deepEqual(other, ['admin']);
    assert.throws(() => narrowScopes(original, unprefixRefreshScopes(['https://other.test/read'], A, original)), {
      error: 'invalid_scope',
    });
    assert.deepEqual(unprefixRefreshScopes(['https://a.test/read'], undefined, ['openid']), ['https://a.test/read']);
  });
});
