/**
 * The bench's peer model (bench/peer/model.ts) driven through
 * @node-oauth/oauth2-server itself, without HTTP: the tokens carry the
 * claims Latchkey's do, a refresh keeps the first request's audience, and
 * rotation refuses a redeemed refresh token.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import OAuth2Server from '@node-oauth/oauth2-server';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { PeerState, RequestModel } from '../../bench/peer/model.js';

const SETTINGS = { clientId: 'bench-app', clientSecret: 'client-secret', username: 'user@bench.test', password: 'user-password' };
const AUDIENCE = 'https://api.rs256.bench';

let state: PeerState;

/** One token request as the peer's server makes it: a model per request, rotation on. */
async function token(form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const request = new OAuth2Server.Request({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '1' },
    query: {},
    body: form,
  });
  const response = new OAuth2Server.Response();
  const oauth = new OAuth2Server({
    accessTokenLifetime: 3600,
    alwaysIssueNewRefreshToken: true,
    model: new RequestModel(state, form.audience),
  });
  await oauth.token(request, response).catch((error: unknown) => {
    if (!(error instanceof OAuth2Server.OAuthError)) throw error;
  });
  return { status: response.status ?? 0, body: response.body as Record<string, unknown> };
}

const client = { client_id: SETTINGS.clientId, client_secret: SETTINGS.clientSecret };
const passwordForm = { grant_type: 'password', username: SETTINGS.username, password: SETTINGS.password, ...client };

describe('peer model', () => {
  before(async () => {
    state = await PeerState.create(SETTINGS, 'http://127.0.0.1:1/');
  });

  it('password grant: an RS256 at+jwt with the RFC 9068 claims and a refresh token', async () => {
    const { status, body } = await token({ ...passwordForm, audience: AUDIENCE, scope: 'read:data offline_access' });
    assert.equal(status, 200);
    assert.equal(typeof body.refresh_token, 'string');
    const header = decodeProtectedHeader(String(body.access_token));
    assert.equal(header.alg, 'RS256');
    assert.equal(header.typ, 'at+jwt');
    assert.equal(typeof header.kid, 'string');
    const claims = decodeJwt(String(body.access_token));
    assert.deepEqual(Object.keys(claims).sort(), ['aud', 'auth_time', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sub']);
    assert.equal(claims.aud, AUDIENCE);
    assert.equal(claims.scope, 'read:data offline_access');
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 3600);
  });

  it('a wrong password or client secret is refused', async () => {
    assert.equal((await token({ ...passwordForm, password: 'wrong' })).body.error, 'invalid_grant');
    assert.equal((await token({ ...passwordForm, client_secret: 'wrong' })).body.error, 'invalid_client');
  });

  it('refresh rotates: the new access token keeps the audience and auth_time; the redeemed token is refused', async () => {
    const first = await token({ ...passwordForm, audience: AUDIENCE, scope: 'read:data offline_access' });
    const refreshToken = String(first.body.refresh_token);
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: refreshToken, ...client });
    assert.equal(refreshed.status, 200);
    assert.notEqual(refreshed.body.refresh_token, refreshToken);
    const claims = decodeJwt(String(refreshed.body.access_token));
    assert.equal(claims.aud, AUDIENCE);
    assert.equal(claims.auth_time, decodeJwt(String(first.body.access_token)).auth_time);
    const again = await token({ grant_type: 'refresh_token', refresh_token: refreshToken, ...client });
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
  });

  it('of two concurrent redemptions of one refresh token only one succeeds', async () => {
    const first = await token({ ...passwordForm, audience: AUDIENCE, scope: 'read:data offline_access' });
    const form = { grant_type: 'refresh_token', refresh_token: String(first.body.refresh_token), ...client };
    const statuses = (await Promise.all([token(form), token(form)])).map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 400]);
  });

  it('client_credentials: the client is the subject, no refresh token, the client grant scopes by default', async () => {
    const { status, body } = await token({ grant_type: 'client_credentials', ...client, audience: AUDIENCE });
    assert.equal(status, 200);
    assert.equal(body.refresh_token, undefined);
    const claims = decodeJwt(String(body.access_token));
    assert.equal(claims.sub, SETTINGS.clientId);
    assert.equal(claims.scope, 'read:data write:data');
    assert.equal(claims.auth_time, undefined);
  });
});
