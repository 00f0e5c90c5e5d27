/**
 * Seeds, last step: "Call API" (shared/seeds/004) / "Use the Access Token"
 * (shared/seeds/002).
 *
 *   "Once the access_token has been obtained it can be used to make calls
 *   to the Resource Server by passing it as a Bearer Token in the
 *   Authorization header of the HTTP request"
 *   curl --request GET --url https://myapi.com/api \
 *     --header 'authorization: Bearer {accessToken}' \
 *     --header 'content-type: application/json'
 *
 * The resource server is examples/api (createApi), run in-process against
 * this suite's real Latchkey server: it fetches the tenant's JWKS over HTTP
 * and checks iss, aud, typ at+jwt and scope (RFC 9068 §4, RFC 6750 §3).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createApi, type ApiLogEntry } from '../../examples/api/server.mjs';
import { API, API_EDDSA, SEED_API, SEED_USER, WEB, acmeFixture } from '../helpers/fixtures.js';
import { get, postJson } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

async function close(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('Seed "Call API": the example resource server accepts Latchkey tokens', () => {
  let latchkey: TestServer;
  let api: { server: Server; url: string } | undefined;
  let eddsaApi: { server: Server; url: string } | undefined;
  const apiLog: ApiLogEntry[] = [];

  before(async () => {
    latchkey = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
    // SEED_API has exactly the example's scopes: read:sample and write:sample.
    api = await listen(createApi({ issuer: latchkey.issuer(), audience: SEED_API, log: (entry) => apiLog.push(entry) }));
    eddsaApi = await listen(createApi({ issuer: latchkey.issuer(), audience: API_EDDSA }));
  });
  after(async () => {
    await close(api?.server);
    await close(eddsaApi?.server);
    await latchkey.close();
  });

  const apiUrl = (path: string): string => `${api?.url ?? assert.fail('api not started')}${path}`;

  /** Step "Request tokens": the password grant, as the seed sends it. */
  async function accessToken(scope: string | undefined, audience = SEED_API): Promise<string> {
    const res = await postJson(latchkey.at('/oauth/token'), {
      grant_type: 'password',
      username: SEED_USER.username,
      password: SEED_USER.password,
      audience,
      ...(scope === undefined ? {} : { scope }),
      ...WEB,
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(typeof res.body.access_token, 'string');
    return res.body.access_token as string;
  }

  /** Step "Call API", with the seed's headers. */
  const call = (path: string, token?: string) =>
    get(apiUrl(path), { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) });

  it("GET /api/private with the password-grant token → 200, for the token's subject and client", async () => {
    const token = await accessToken('read:sample');
    const res = await call('/api/private', token);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.client_id, WEB.client_id);
    assert.equal(typeof res.body.sub, 'string');
    assert.equal(res.body.scope, 'read:sample');
  });

  it('/api/private-scoped with read:sample → 200', async () => {
    const res = await call('/api/private-scoped', await accessToken('read:sample'));
    assert.equal(res.status, 200, res.text);
  });

  it('/api/private-scoped without read:sample → 403 insufficient_scope naming the scope', async () => {
    const res = await call('/api/private-scoped', await accessToken('write:sample'));
    assert.equal(res.status, 403, res.text);
    assert.equal(res.body.error, 'insufficient_scope');
    const challenge = res.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer /);
    assert.match(challenge, /error="insufficient_scope"/);
    assert.match(challenge, /scope="read:sample"/);
  });

  it('/api/write without write:sample → 403; with it → 200', async () => {
    const readOnly = await call('/api/write', await accessToken('read:sample'));
    assert.equal(readOnly.status, 403, readOnly.text);
    assert.equal(readOnly.body.error, 'insufficient_scope');
    const writer = await call('/api/write', await accessToken('write:sample'));
    assert.equal(writer.status, 200, writer.text);
  });

  it('no API scope asked: the password grant gives every API scope, so both scoped routes answer', async () => {
    const token = await accessToken(undefined);
    assert.equal((await call('/api/private-scoped', token)).status, 200);
    assert.equal((await call('/api/write', token)).status, 200);
  });

  it('an openid token (aud = [API, userinfo]) is accepted too', async () => {
    const res = await call('/api/private-scoped', await accessToken('openid read:sample'));
    assert.equal(res.status, 200, res.text);
  });

  it('no token → 401 with a bare Bearer challenge (RFC 6750 §3.1)', async () => {
    const res = await call('/api/private');
    assert.equal(res.status, 401, res.text);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="api"$/);
    const publicRoute = await call('/api/public');
    assert.equal(publicRoute.status, 200, 'the public route needs nothing');
  });

  it('a token for another audience → 401 invalid_token', async () => {
    // API also defines read:sample, so only the audience is wrong.
    const res = await call('/api/private-scoped', await accessToken('read:sample', API));
    assert.equal(res.status, 401, res.text);
    assert.equal(res.body.error, 'invalid_token');
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });

  it('a userinfo-only token (no audience) → 401', async () => {
    const res = await postJson(latchkey.at('/oauth/token'), {
      grant_type: 'password',
      username: SEED_USER.username,
      password: SEED_USER.password,
      scope: 'openid',
      ...WEB,
    });
    assert.equal(res.status, 200, res.text);
    const call1 = await call('/api/private', String(res.body.access_token));
    assert.equal(call1.status, 401, call1.text);
  });

  it('a tampered token → 401: changed claims with the old signature, or a changed signature', async () => {
    const token = await accessToken('read:sample');
    const [header, payload, signature] = token.split('.');
    assert.ok(header !== undefined && payload !== undefined && signature !== undefined);
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const widened = Buffer.from(JSON.stringify({ ...claims, scope: 'read:sample write:sample' })).toString('base64url');
    const forged = await call('/api/write', `${header}.${widened}.${signature}`);
    assert.equal(forged.status, 401, forged.text);
    assert.equal(forged.body.error, 'invalid_token');

    const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
    const badSignature = await call('/api/private', `${header}.${payload}.${flipped}`);
    assert.equal(badSignature.status, 401, badSignature.text);

    const unsigned = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url');
    const algNone = await call('/api/private', `${unsigned}.${payload}.`);
    assert.equal(algNone.status, 401, algNone.text);
  });

  it('an id_token, signed by the same tenant key, is not an access token → 401', async () => {
    const res = await postJson(latchkey.at('/oauth/token'), {
      grant_type: 'password',
      username: SEED_USER.username,
      password: SEED_USER.password,
      audience: SEED_API,
      scope: 'openid read:sample',
      ...WEB,
    });
    assert.equal(res.status, 200, res.text);
    const call1 = await call('/api/private', String(res.body.id_token));
    assert.equal(call1.status, 401, call1.text);
  });

  it('an EdDSA-signed token for an EdDSA API is accepted by an API configured for it', async () => {
    const token = await accessToken(undefined, API_EDDSA);
    const res = await get(`${eddsaApi?.url ?? assert.fail('api not started')}/api/private`, { authorization: `Bearer ${token}` });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.scope, 'read:ed');
  });

  it('the example API never logs the token', () => {
    assert.ok(apiLog.length > 0);
    for (const entry of apiLog) assert.ok(!JSON.stringify(entry).includes('eyJ'), JSON.stringify(entry));
  });
});
