/**
 * RFC 6749 §6 Refreshing an Access Token, with rotation (RFC 9700 §4.14.2).
 *
 * §6: "grant_type REQUIRED. Value MUST be set to "refresh_token".
 * refresh_token REQUIRED. The refresh token issued to the client. scope
 * OPTIONAL. […] The requested scope MUST NOT include any scope not
 * originally granted by the resource owner, and if omitted is treated as
 * equal to the scope originally granted by the resource owner." […] "the
 * authorization server MUST: require client authentication for
 * confidential clients […] ensure that the refresh token was issued to the
 * authenticated client, and validate the refresh token." […] "The
 * authorization server MAY issue a new refresh token, in which case the
 * client MUST discard the old refresh token and replace it with the new
 * refresh token. […] If a new refresh token is issued, the refresh token
 * scope MUST be identical to that of the refresh token included by the
 * client in the request."
 * §5.2: "invalid_grant: The provided authorization grant […] or refresh
 * token is invalid, expired, revoked […] or was issued to another client."
 * "invalid_scope: The requested scope is invalid, unknown, malformed, or
 * exceeds the scope granted by the resource owner."
 * RFC 9700 §4.14.2: "If a refresh token is compromised and subsequently
 * used by both the attacker and the legitimate client, one of them will
 * present an invalidated refresh token, which will inform the authorization
 * server of the breach. The authorization server cannot determine which
 * party submitted the invalid refresh token, but it will revoke the active
 * refresh token."
 * DESIGN.md §4: of concurrent uses of one token exactly one succeeds; idle
 * and absolute lifetimes; `reuse_interval` returns the same child to an
 * idempotent retry.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jwtVerify } from 'jose';
import { ALICE, API, API_ES256, BASIC, NATIVE, REUSE, WEB, acmeFixture } from '../helpers/fixtures.js';
import { basic, decodeJwt, postForm } from '../helpers/http.js';
import { startTestServer, type TenantInput, type TestServer } from '../helpers/server.js';
import { assertOAuthError, member, passwordTokens, refresh, tenantKeys, type ClientCredentials } from '../helpers/token-requests.js';

const CONCURRENCY = 20;
const ROUNDS = 10;

describe('RFC 6749 §6 refresh token grant', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
  });
  after(() => server.close());

  async function refreshTokenFor(client: ClientCredentials, scope = 'offline_access read:sample', audience = API): Promise<string> {
    return member(await passwordTokens(server, client, ALICE, { audience, scope }), 'refresh_token');
  }

  it('§6: each use returns a new access token and a new refresh token, and the new one works', async () => {
    const first = await refreshTokenFor(WEB);
    const res = await refresh(server, WEB, first);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.body.token_type, 'Bearer');
    const second = member(res, 'refresh_token');
    assert.notEqual(second, first, 'rotated');
    const { payload } = await jwtVerify(member(res, 'access_token'), await tenantKeys(server), {
      issuer: server.issuer(),
      audience: API,
      typ: 'at+jwt',
    });
    assert.equal(payload.client_id, WEB.client_id);
    assert.equal(payload.scope, 'offline_access read:sample');

    const third = await refresh(server, WEB, second);
    assert.equal(third.status, 200, third.text);
    assert.notEqual(member(third, 'refresh_token'), second);
  });

  it('a rotated token presented again is invalid_grant and revokes the whole family, newest child included', async () => {
    const first = await refreshTokenFor(WEB);
    const second = member(await refresh(server, WEB, first), 'refresh_token');
    const third = member(await refresh(server, WEB, second), 'refresh_token');

    assertOAuthError(await refresh(server, WEB, first), 400, 'invalid_grant', 'reuse of the first token');
    assertOAuthError(await refresh(server, WEB, third), 400, 'invalid_grant', 'the newest child after reuse was detected');
    assertOAuthError(await refresh(server, WEB, second), 400, 'invalid_grant');
  });

  it("reuse detection revokes only that family, not the user's other sessions", async () => {
    const victim = await refreshTokenFor(WEB);
    const other = await refreshTokenFor(WEB);
    await refresh(server, WEB, victim);
    assertOAuthError(await refresh(server, WEB, victim), 400, 'invalid_grant');
    const res = await refresh(server, WEB, other);
    assert.equal(res.status, 200, res.text);
  });

  it(`${CONCURRENCY} concurrent refreshes of one token: exactly one succeeds (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const parent = await refreshTokenFor(WEB);
      const results = await Promise.all(Array.from({ length: CONCURRENCY }, () => refresh(server, WEB, parent)));
      const winners = results.filter((r) => r.status === 200);
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} successes`);
      for (const loser of results.filter((r) => r.status !== 200)) assertOAuthError(loser, 400, 'invalid_grant', `round ${round}`);
      // From the server's side the losers presented a rotated token: reuse, so the
      // family (the winner's child too) is revoked. reuse_interval exists for clients that race.
      const child = member(winners[0] ?? assert.fail('no winner'), 'refresh_token');
      assertOAuthError(await refresh(server, WEB, child), 400, 'invalid_grant', `round ${round}: the winner's child after the race`);
    }
  });

  it('idle lifetime: unused for longer than idle_lifetime (3600 s) the token is invalid_grant', async () => {
    const token = await refreshTokenFor(REUSE);
    server.clock.advance(3598);
    const fresh = await refreshTokenFor(REUSE);
    // 3 s more: past the idle lifetime whatever the real time the requests took.
    server.clock.advance(3);
    assertOAuthError(await refresh(server, REUSE, token), 400, 'invalid_grant', 'idle for 3601 s');
    const res = await refresh(server, REUSE, fresh);
    assert.equal(res.status, 200, `idle for only 3 s: ${res.text}`);
  });

  it('absolute lifetime: a family refreshed every 3000 s still ends 7200 s after sign-in', async () => {
    let token = await refreshTokenFor(REUSE);
    for (const step of [3000, 3000, 1199]) {
      server.clock.advance(step);
      const res = await refresh(server, REUSE, token);
      assert.equal(res.status, 200, `inside the absolute lifetime: ${res.text}`);
      token = member(res, 'refresh_token');
    }
    // 7201 s after sign-in, 2 s after the last refresh: only the absolute lifetime can end it.
    server.clock.advance(2);
    assertOAuthError(await refresh(server, REUSE, token), 400, 'invalid_grant', 'past the absolute lifetime');
  });

  it('§6: a narrower scope is granted for that access token; the new refresh token keeps the original scope', async () => {
    const token = await refreshTokenFor(WEB, 'offline_access read:sample write:sample edit');
    const narrowed = await refresh(server, WEB, token, { scope: 'offline_access read:sample' });
    assert.equal(narrowed.status, 200, narrowed.text);
    assert.equal(decodeJwt(member(narrowed, 'access_token')).payload.scope, 'offline_access read:sample');
    assert.equal(narrowed.body.scope, undefined, 'granted exactly as asked: scope may be omitted (§5.1)');

    // "the refresh token scope MUST be identical to that of the refresh token included by the client".
    const next = await refresh(server, WEB, member(narrowed, 'refresh_token'));
    assert.equal(next.status, 200, next.text);
    assert.equal(decodeJwt(member(next, 'access_token')).payload.scope, 'offline_access read:sample write:sample edit');
    assert.equal(next.body.scope, 'offline_access read:sample write:sample edit');

    // Narrowing again from the child is allowed within the original grant, down to one scope.
    const again = await refresh(server, WEB, member(next, 'refresh_token'), { scope: 'edit' });
    assert.equal(again.status, 200, again.text);
    assert.equal(decodeJwt(member(again, 'access_token')).payload.scope, 'edit');
  });

  it('§6: a scope beyond the original grant is invalid_scope, and the refused request uses nothing up', async () => {
    const token = await refreshTokenFor(WEB, 'offline_access read:sample');
    const widened = await refresh(server, WEB, token, { scope: 'offline_access read:sample write:sample' });
    assertOAuthError(widened, 400, 'invalid_scope');
    assert.equal(widened.headers.get('cache-control'), 'no-store');
    const res = await refresh(server, WEB, token);
    assert.equal(res.status, 200, `the token survives a refused widening: ${res.text}`);
    assert.equal(decodeJwt(member(res, 'access_token')).payload.scope, 'offline_access read:sample');
  });

  it('§6: a refresh token presented by another client is invalid_grant, and stays usable by its own client', async () => {
    const token = await refreshTokenFor(WEB);
    const other = await postForm(
      server.at('/oauth/token'),
      { grant_type: 'refresh_token', refresh_token: token },
      basic(BASIC.client_id, BASIC.client_secret),
    );
    assertOAuthError(other, 400, 'invalid_grant', 'refresh by another client');
    const native = await refresh(server, NATIVE, token);
    assertOAuthError(native, 400, 'invalid_grant', 'refresh by a public client');
    const res = await refresh(server, WEB, token);
    assert.equal(res.status, 200, `the owner can still refresh: ${res.text}`);
  });

  it('§6: a confidential client must authenticate to refresh', async () => {
    const token = await refreshTokenFor(WEB);
    const noSecret = await postForm(server.at('/oauth/token'), {
      grant_type: 'refresh_token',
      refresh_token: token,
      client_id: WEB.client_id,
    });
    assertOAuthError(noSecret, 401, 'invalid_client');
    const wrongSecret = await refresh(server, { client_id: WEB.client_id, client_secret: 'not-the-secret' }, token);
    assertOAuthError(wrongSecret, 401, 'invalid_client');
    const res = await refresh(server, WEB, token);
    assert.equal(res.status, 200, `failed client authentication uses nothing up: ${res.text}`);
  });

  it('a public client refreshes with only its client_id', async () => {
    const token = await refreshTokenFor(NATIVE);
    const res = await refresh(server, NATIVE, token);
    assert.equal(res.status, 200, res.text);
    assert.equal(typeof res.body.refresh_token, 'string');
  });

  it('OIDC Core §12.2: a refresh with openid in scope returns a new id_token', async () => {
    const signIn = await passwordTokens(server, WEB, ALICE, { audience: API, scope: 'openid profile email offline_access read:sample' });
    const firstIdToken = member(signIn, 'id_token');
    server.clock.advance(60);
    const res = await refresh(server, WEB, member(signIn, 'refresh_token'));
    assert.equal(res.status, 200, res.text);
    const idToken = member(res, 'id_token');
    assert.notEqual(idToken, firstIdToken);
    const { payload, protectedHeader } = await jwtVerify(idToken, await tenantKeys(server), {
      issuer: server.issuer(),
      audience: WEB.client_id,
      currentDate: server.clock.now(),
    });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.sub, decodeJwt(firstIdToken).payload.sub, 'same subject');
    assert.equal(payload.iat, Number(decodeJwt(firstIdToken).payload.iat) + 60, 'issued at the refresh');
    assert.equal(payload.auth_time, decodeJwt(firstIdToken).payload.auth_time, 'auth_time is the original sign-in');
    assert.equal(payload.email, ALICE.username);
    assert.equal(payload.name, 'Alice Liddell');

    const withoutOpenid = await refresh(server, WEB, member(res, 'refresh_token'), { scope: 'offline_access read:sample' });
    assert.equal(withoutOpenid.status, 200, withoutOpenid.text);
    assert.equal(withoutOpenid.body.id_token, undefined, 'no id_token when the narrowed scope leaves out openid');
  });

  it('a refresh token for an ES256 API yields access tokens signed ES256', async () => {
    const token = await refreshTokenFor(WEB, 'offline_access read:es', API_ES256);
    const res = await refresh(server, WEB, token);
    assert.equal(res.status, 200, res.text);
    const { protectedHeader, payload } = await jwtVerify(member(res, 'access_token'), await tenantKeys(server), {
      issuer: server.issuer(),
      audience: API_ES256,
      typ: 'at+jwt',
      currentDate: server.clock.now(),
    });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.scope, 'offline_access read:es');
  });

  it('reuse_interval (30 s): the parent presented again inside it returns the same child and a fresh access token', async () => {
    const parent = await refreshTokenFor(REUSE);
    const first = await refresh(server, REUSE, parent);
    assert.equal(first.status, 200, first.text);
    server.clock.advance(20);
    const retry = await refresh(server, REUSE, parent);
    assert.equal(retry.status, 200, retry.text);
    assert.equal(retry.body.refresh_token, first.body.refresh_token, 'the same child, not a new family member');
    assert.notEqual(retry.body.access_token, first.body.access_token, 'a fresh access token');
    assert.notEqual(decodeJwt(member(retry, 'access_token')).payload.jti, decodeJwt(member(first, 'access_token')).payload.jti);

    const child = await refresh(server, REUSE, member(first, 'refresh_token'));
    assert.equal(child.status, 200, `the child works: ${child.text}`);
  });

  it('reuse_interval (30 s): the parent presented again after 31 s is reuse, and the family is revoked', async () => {
    const parent = await refreshTokenFor(REUSE);
    const first = await refresh(server, REUSE, parent);
    assert.equal(first.status, 200, first.text);
    server.clock.advance(31);
    assertOAuthError(await refresh(server, REUSE, parent), 400, 'invalid_grant', 'outside the reuse interval');
    assertOAuthError(await refresh(server, REUSE, member(first, 'refresh_token')), 400, 'invalid_grant', 'the child after reuse');
  });

  it(`reuse_interval: ${CONCURRENCY} concurrent refreshes of one token all succeed with the same child`, async () => {
    for (let round = 0; round < 3; round++) {
      const parent = await refreshTokenFor(REUSE);
      const results = await Promise.all(Array.from({ length: CONCURRENCY }, () => refresh(server, REUSE, parent)));
      for (const r of results) assert.equal(r.status, 200, `round ${round}: ${r.text}`);
      const children = new Set(results.map((r) => member(r, 'refresh_token')));
      assert.equal(children.size, 1, `round ${round}: ${children.size} different children`);
      const [child] = [...children];
      assert.notEqual(child, parent);
      assert.equal(new Set(results.map((r) => member(r, 'access_token'))).size, CONCURRENCY, 'every caller gets its own access token');
      const next = await refresh(server, REUSE, child ?? assert.fail('no child'));
      assert.equal(next.status, 200, `round ${round}: the shared child works: ${next.text}`);
    }
  });

  it('an unknown or malformed refresh token is invalid_grant', async () => {
    for (const garbage of [
      'x',
      'A'.repeat(43),
      'A'.repeat(65),
      'A'.repeat(88),
      'not a token at all',
      'eyJhbGciOiJub25lIn0.e30.',
      '%00%ff',
    ]) {
      assertOAuthError(await refresh(server, WEB, garbage), 400, 'invalid_grant', JSON.stringify(garbage));
    }
  });

  it('§6: a missing refresh_token is invalid_request', async () => {
    const res = await postForm(server.at('/oauth/token'), { grant_type: 'refresh_token', ...WEB });
    assertOAuthError(res, 400, 'invalid_request');
    assert.match(String(res.body.error_description), /refresh_token/);
    const empty = await postForm(server.at('/oauth/token'), { grant_type: 'refresh_token', refresh_token: '', ...WEB });
    assertOAuthError(empty, 400, 'invalid_request', 'an empty value is absent (§3.1)');
  });
});

describe('RFC 6749 §6 refresh tokens across server restarts', () => {
  let dir: string;
  let server: TestServer | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-refresh-'));
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(tenant: TenantInput): Promise<TestServer> {
    await server?.close();
    server = await startTestServer({ dir, tenants: [tenant] });
    return server;
  }

  it('refresh tokens (rotation state and reuse-interval children included) survive a restart on the same data directory', async () => {
    const tenant = (await acmeFixture()).tenant;
    let s = await start(tenant);
    const token = member(await passwordTokens(s, WEB, ALICE, { audience: API, scope: 'offline_access read:sample' }), 'refresh_token');
    const rotatedAway = member(
      await passwordTokens(s, WEB, ALICE, { audience: API, scope: 'offline_access read:sample' }),
      'refresh_token',
    );
    const successor = member(await refresh(s, WEB, rotatedAway), 'refresh_token');
    const reuseParent = member(
      await passwordTokens(s, REUSE, ALICE, { audience: API, scope: 'offline_access read:sample' }),
      'refresh_token',
    );
    const reuseChild = member(await refresh(s, REUSE, reuseParent), 'refresh_token');

    s = await start(tenant);
    const res = await refresh(s, WEB, token);
    assert.equal(res.status, 200, `after restart: ${res.text}`);
    const next = await refresh(s, WEB, member(res, 'refresh_token'));
    assert.equal(next.status, 200, next.text);
    // The sealed child is opened with the same master key after the restart.
    const replay = await refresh(s, REUSE, reuseParent);
    assert.equal(replay.status, 200, replay.text);
    assert.equal(replay.body.refresh_token, reuseChild);
    // Rotation state survives too: the used token is still reuse.
    assertOAuthError(await refresh(s, WEB, rotatedAway), 400, 'invalid_grant', 'a used token after restart');
    assertOAuthError(await refresh(s, WEB, successor), 400, 'invalid_grant', 'its family was revoked');
  });

  it('a blocked user cannot refresh (user declared blocked: true at the next start)', async () => {
    const tenant = (await acmeFixture()).tenant;
    let s = await start(tenant);
    const token = member(await passwordTokens(s, WEB, ALICE, { audience: API, scope: 'offline_access read:sample' }), 'refresh_token');
    const users = (tenant.users ?? []).map((u) => (u.username === ALICE.username ? { ...u, blocked: true } : u));
    s = await start({ ...tenant, users });
    const res = await refresh(s, WEB, token);
    assertOAuthError(res, 400, 'invalid_grant', 'blocked user');
    assert.equal(res.body.error_reason, 'user_blocked');
  });
});
