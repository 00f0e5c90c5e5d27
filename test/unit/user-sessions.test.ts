/**
 * Whether a session still stands (src/identity/user-sessions.ts): the rule
 * the refresh grant, introspection, userinfo and the MFA API share.
 *
 * The boundary (issue #11 point 5): an access token's `auth_time`/`iat` are
 * whole seconds (RFC 7519 §2 NumericDate) while `password_changed_at` and
 * `blocked_at` are milliseconds. A token whose second is earlier than the
 * change's second is refused; a token from the change's own second is
 * accepted (a sign-in right after a change must work). A refresh-token
 * family's auth_time is milliseconds and is compared exactly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activeUserOfAccessToken, sessionRefusal, signedInBefore } from '../../src/identity/user-sessions.js';
import type { UserRecord } from '../../src/storage/stores.js';

/** 2031-03-04T05:06:07.250Z: a change a quarter of a second into its second. */
const CHANGE_MS = Date.parse('2031-03-04T05:06:07.250Z');
const CHANGE_SECOND = Math.floor(CHANGE_MS / 1000);

function user(overrides: Partial<UserRecord> = {}): UserRecord {
  return {
    id: 'u1',
    tenantId: 't1',
    connectionId: 'c1',
    username: 'dave',
    email: null,
    emailVerified: false,
    name: null,
    givenName: null,
    familyName: null,
    groups: null,
    passwordHash: 'h',
    blocked: false,
    passwordChangedAt: null,
    blockedAt: null,
    createdAt: new Date(0),
    updatedAt: new Date(0),
    lastLoginAt: null,
    loginsCount: 0,
    userMetadata: {},
    appMetadata: {},
    ...overrides,
  };
}

const storeOf = (found: UserRecord | undefined) => ({ findById: async () => found });

describe('signedInBefore', () => {
  it("whole seconds: the second before the change is before it; the change's own second and later are not", () => {
    const change = new Date(CHANGE_MS);
    assert.equal(signedInBefore(change, CHANGE_SECOND - 1), true);
    assert.equal(signedInBefore(change, CHANGE_SECOND), false, 'same second: accepted, so a sign-in right after a change works');
    assert.equal(signedInBefore(change, CHANGE_SECOND + 1), false);
  });

  it('a change exactly on a second boundary: a token of the second before is refused, of that second accepted', () => {
    const onBoundary = new Date(CHANGE_SECOND * 1000);
    assert.equal(signedInBefore(onBoundary, CHANGE_SECOND - 1), true);
    assert.equal(signedInBefore(onBoundary, CHANGE_SECOND), false);
  });

  it('milliseconds (a refresh-token family): compared exactly', () => {
    const change = new Date(CHANGE_MS);
    assert.equal(signedInBefore(change, new Date(CHANGE_MS - 1)), true);
    assert.equal(signedInBefore(change, new Date(CHANGE_MS)), false);
    assert.equal(signedInBefore(change, new Date(CHANGE_MS + 1)), false);
  });

  it('no recorded instant: nothing is before it', () => {
    assert.equal(signedInBefore(null, 0), false);
    assert.equal(signedInBefore(null, new Date(0)), false);
  });
});

describe('sessionRefusal', () => {
  const after = new Date(CHANGE_MS + 1000);
  const before = new Date(CHANGE_MS - 1000);

  it('a user gone, blocked, changed password since, or blocked since (even if unblocked): refused, with the reason', () => {
    assert.equal(sessionRefusal(undefined, after), 'user_gone');
    assert.equal(
      sessionRefusal(user({ blocked: true, blockedAt: before }), after),
      'user_blocked',
      'a block refuses every session, old or new',
    );
    assert.equal(sessionRefusal(user({ passwordChangedAt: new Date(CHANGE_MS) }), before), 'password_changed');
    assert.equal(
      sessionRefusal(user({ blockedAt: new Date(CHANGE_MS) }), before),
      'blocked_since_sign_in',
      'unblocked since, but the session predates the block',
    );
  });

  it('a session signed in after the last change and the last block stands', () => {
    assert.equal(sessionRefusal(user(), before), undefined);
    assert.equal(sessionRefusal(user({ passwordChangedAt: new Date(CHANGE_MS), blockedAt: new Date(CHANGE_MS) }), after), undefined);
    assert.equal(
      sessionRefusal(user({ passwordChangedAt: new Date(CHANGE_MS) }), CHANGE_SECOND),
      undefined,
      'an access token of the same second',
    );
  });
});

describe('activeUserOfAccessToken', () => {
  const changed = user({ passwordChangedAt: new Date(CHANGE_MS) });

  it('a client_credentials token (sub = client_id, no auth_time) names no user and is not looked up', async () => {
    const holder = await activeUserOfAccessToken({ findById: async () => assert.fail('no user lookup for a client token') }, 't1', {
      sub: 'backend',
      client_id: 'backend',
      iat: CHANGE_SECOND,
    });
    assert.deepEqual(holder, { kind: 'client' });
  });

  it('auth_time decides when present: a token issued after the change from a sign-in before it is refused', async () => {
    const holder = await activeUserOfAccessToken(storeOf(changed), 't1', {
      sub: 'u1',
      client_id: 'web',
      iat: CHANGE_SECOND + 600,
      auth_time: CHANGE_SECOND - 1,
    });
    assert.deepEqual(holder, { kind: 'inactive', reason: 'password_changed' });
  });

  it('iat when auth_time is absent; with neither, the sign-in counts as before any change (fail closed)', async () => {
    assert.deepEqual(await activeUserOfAccessToken(storeOf(changed), 't1', { sub: 'u1', client_id: 'web', iat: CHANGE_SECOND - 1 }), {
      kind: 'inactive',
      reason: 'password_changed',
    });
    assert.equal((await activeUserOfAccessToken(storeOf(changed), 't1', { sub: 'u1', client_id: 'web', iat: CHANGE_SECOND })).kind, 'user');
    assert.deepEqual(await activeUserOfAccessToken(storeOf(changed), 't1', { sub: 'u1', client_id: 'web' }), {
      kind: 'inactive',
      reason: 'password_changed',
    });
  });

  it('a user token whose user is gone or blocked is inactive; an active one returns the user', async () => {
    const claims = { sub: 'u1', client_id: 'web', iat: CHANGE_SECOND + 5, auth_time: CHANGE_SECOND + 5 };
    assert.deepEqual(await activeUserOfAccessToken(storeOf(undefined), 't1', claims), { kind: 'inactive', reason: 'user_gone' });
    assert.deepEqual(await activeUserOfAccessToken(storeOf(user({ blocked: true })), 't1', claims), {
      kind: 'inactive',
      reason: 'user_blocked',
    });
    assert.deepEqual(await activeUserOfAccessToken(storeOf(changed), 't1', claims), { kind: 'user', user: changed });
  });

  it('a user token whose sub happens to equal its client_id is still checked as a user token (it carries auth_time)', async () => {
    const holder = await activeUserOfAccessToken(storeOf(undefined), 't1', {
      sub: 'web',
      client_id: 'web',
      iat: CHANGE_SECOND,
      auth_time: CHANGE_SECOND,
    });
    assert.deepEqual(holder, { kind: 'inactive', reason: 'user_gone' });
  });
});
