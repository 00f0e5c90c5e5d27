/**
 * Seed: PingFederate "Get Tokens: Resource Owner Password Credentials"
 * (shared/seeds/001).
 *
 *   POST https://localhost:9031/as/token.oauth2 HTTP/1.1
 *   Content-Type: application/x-www-form-urlencoded
 *   Authorization: Basic cm9fY2xpZW50OjJGZWRlcmF0ZQ==
 *
 *   grant_type=password&username=joe&password=2Federate&scope=edit
 *
 *   "If successful, the client will receive a 200 OK response to this
 *   request and the access token (and optional refresh token) will be
 *   returned in a JSON structure:
 *   HTTP/1.1 200 OK  Content-Type: application/json;charset=UTF-8
 *   {"access_token":"zzz...yyy","token_type":"Bearer","expires_in":14400,
 *    "refresh_token":"123...789"}"
 *   "If a refresh token was returned, it can be used to refresh access token
 *   once it expires."
 *
 * DESIGN.md §3: the PingFederate path has no audience parameter; the API is
 * the application's (or tenant's) default_audience.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { API, JOE, PING, acmeFixture } from '../helpers/fixtures.js';
import { basic, postForm, postRaw } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { scopeList, verifyIssued } from '../helpers/token-checks.js';

/** The seed's header, verbatim: base64("ro_client:2Federate"). */
const SEED_AUTHORIZATION = 'Basic cm9fY2xpZW50OjJGZWRlcmF0ZQ==';
const SEED_BODY = 'grant_type=password&username=joe&password=2Federate&scope=edit';

describe('PingFederate seed: ROPC at /as/token.oauth2', () => {
  let server: TestServer;
  let token: string;
  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
    token = server.at('/as/token.oauth2');
  });
  after(() => server.close());

  it('the seed header is the fixture client, so this suite tests the request the seed shows', () => {
    assert.equal(
      Buffer.from(SEED_AUTHORIZATION.slice('Basic '.length), 'base64').toString('utf8'),
      `${PING.client_id}:${PING.client_secret}`,
    );
    assert.equal(new URLSearchParams(SEED_BODY).get('username'), JOE.username);
    assert.equal(new URLSearchParams(SEED_BODY).get('password'), JOE.password);
  });

  it('the seed request, byte for byte: 200, Bearer, JSON with a charset', async () => {
    const res = await postRaw(token, SEED_BODY, { 'content-type': 'application/x-www-form-urlencoded', authorization: SEED_AUTHORIZATION });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json; ?charset=utf-8$/i);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(res.body.expires_in, 3600, 'the default API token_lifetime');
    assert.equal(res.body.refresh_token, undefined, 'no offline_access: the refresh token is optional and not asked for');
    assert.equal(res.body.scope, undefined, 'edit was granted as asked');
    const { payload } = await verifyIssued(server, res.body.access_token, { audience: API });
    assert.equal(payload.aud, API, "the application's default_audience");
    assert.equal(payload.scope, 'edit');
    assert.equal(payload.client_id, PING.client_id);
  });

  it('offline_access yields a refresh token, and refresh works on the same path with the same Basic header', async () => {
    const first = await postRaw(token, `${SEED_BODY}%20offline_access`, {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: SEED_AUTHORIZATION,
    });
    assert.equal(first.status, 200, first.text);
    const refreshToken = first.body.refresh_token;
    assert.equal(typeof refreshToken, 'string');

    const refreshed = await postRaw(token, `grant_type=refresh_token&refresh_token=${encodeURIComponent(String(refreshToken))}`, {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: SEED_AUTHORIZATION,
    });
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.equal(refreshed.body.token_type, 'Bearer');
    assert.equal(typeof refreshed.body.access_token, 'string');
    assert.equal(typeof refreshed.body.refresh_token, 'string');
    assert.notEqual(refreshed.body.refresh_token, refreshToken, 'rotated');
    const { payload } = await verifyIssued(server, refreshed.body.access_token, { audience: API });
    assert.deepEqual(scopeList(payload.scope), ['edit', 'offline_access']);

    // The rotated token is spent: presenting it again fails.
    const again = await postForm(
      token,
      { grant_type: 'refresh_token', refresh_token: String(refreshToken) },
      basic(PING.client_id, PING.client_secret),
    );
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
  });

  it('a wrong Basic secret is invalid_client with 401 and WWW-Authenticate', async () => {
    const res = await postRaw(token, SEED_BODY, {
      'content-type': 'application/x-www-form-urlencoded',
      ...basic(PING.client_id, '3Federate'),
    });
    assert.equal(res.status, 401);
    assert.equal(res.body.error, 'invalid_client');
    assert.match(res.headers.get('www-authenticate') ?? '', /^Basic /);
  });

  it('a wrong password is invalid_grant with error_description, as JSON', async () => {
    const res = await postRaw(token, 'grant_type=password&username=joe&password=1Federate&scope=edit', {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: SEED_AUTHORIZATION,
    });
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.body.error, 'invalid_grant');
    assert.equal(typeof res.body.error_description, 'string');
  });

  it("no scope at all: the default API's scopes are granted and listed", async () => {
    const res = await postRaw(token, 'grant_type=password&username=joe&password=2Federate', {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: SEED_AUTHORIZATION,
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(scopeList(res.body.scope), ['edit', 'read:sample', 'write:sample']);
  });
});
