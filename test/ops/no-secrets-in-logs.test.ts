/**
 * Credentials never reach the log (STYLE.md §11, DESIGN.md §4), while the
 * log still tells the operator what happened.
 *
 * Drives successful and failing requests of every kind — password grant
 * (right and wrong password, form and JSON, client_secret_post and Basic),
 * refresh (rotation, reuse), client_credentials with a bad secret,
 * private_key_jwt (valid, replayed, wrong audience, garbage), userinfo,
 * revocation, introspection, and malformed bodies that carry secrets — with
 * distinctive secret values, at the most verbose log level. Then proves that
 * no password, client secret, Basic credential, refresh token, access token,
 * id_token or client assertion (nor a JWT's signature alone) appears in any
 * log line, and that the failures are logged with their route, HTTP status
 * and OAuth error code.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { clientGrantsForEveryApi } from '../helpers/fixtures.js';
import { basic, get, postForm, postJson, postRaw, type JsonResponse } from '../helpers/http.js';
import { startTestServer, type TenantInput, type TestServer } from '../helpers/server.js';

// Letters and digits only: the same string whether logged raw, form-encoded or JSON-escaped.
const TAG = randomBytes(6).toString('hex');
const API = 'https://api.logs.test';
const POST_CLIENT = { client_id: 'logs-post', client_secret: `SECRETpost${TAG}client` };
const BASIC_CLIENT = { client_id: 'logs-basic', client_secret: `SECRETbasic${TAG}client` };
const JWT_CLIENT_ID = 'logs-jwt';
const PUBLIC_CLIENT_ID = 'logs-public';
const USER = { username: 'carol@logs.test', password: `PWcarol${TAG}right` };

describe('no secrets in logs', () => {
  let server: TestServer;
  let jwtKey: CryptoKey;
  let token: string;
  /** Every credential a request carried or a response returned. */
  const secrets = new Set<string>([POST_CLIENT.client_secret, BASIC_CLIENT.client_secret, USER.password]);
  const remember = (...values: unknown[]) => {
    for (const value of values) {
      if (typeof value !== 'string' || value.length < 8) continue;
      secrets.add(value);
      // A JWT's signature or payload alone is still a leak of that token.
      for (const part of value.split('.')) if (part.length >= 16) secrets.add(part);
    }
  };
  const secret = (name: string) => {
    const value = `SECRET${name}${TAG}x`;
    secrets.add(value);
    return value;
  };
  const rememberTokens = (res: JsonResponse) => remember(res.body.access_token, res.body.refresh_token, res.body.id_token);
  const basicHeader = (clientId: string, clientSecret: string) => {
    const header = basic(clientId, clientSecret);
    remember(header.authorization?.slice('Basic '.length));
    return header;
  };

  before(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    jwtKey = privateKey;
    const jwk = { ...(await exportJWK(publicKey)), kty: 'EC', kid: 'logs-key', alg: 'ES256', use: 'sig' };
    const tenant: TenantInput = {
      name: 'acme',
      default_directory: 'Username-Password-Authentication',
      apis: [{ identifier: API, scopes: ['read:x'], token_lifetime: 600, allow_offline_access: true }],
      applications: [
        {
          ...POST_CLIENT,
          token_endpoint_auth_method: 'client_secret_post',
          grant_types: ['password', 'refresh_token', 'client_credentials'],
        },
        {
          ...BASIC_CLIENT,
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: ['password', 'refresh_token', 'client_credentials'],
        },
        {
          client_id: JWT_CLIENT_ID,
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [jwk] },
          grant_types: ['password', 'client_credentials'],
        },
        { client_id: PUBLIC_CLIENT_ID, token_endpoint_auth_method: 'none', grant_types: ['password', 'refresh_token'] },
      ],
      users: [
        {
          connection: 'Username-Password-Authentication',
          username: USER.username,
          email: USER.username,
          name: 'Carol',
          password: USER.password,
        },
      ],
    };
    tenant.client_grants = clientGrantsForEveryApi(tenant);
    server = await startTestServer({ tenants: [tenant], logLevel: 'trace' });
    token = server.at('/oauth/token');
    await driveTraffic();
  });
  after(() => server.close());

  async function assertion(aud: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', kid: 'logs-key' })
      .setIssuer(JWT_CLIENT_ID)
      .setSubject(JWT_CLIENT_ID)
      .setAudience(aud)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(jwtKey);
    remember(jwt);
    return jwt;
  }

  async function driveTraffic(): Promise<void> {
    const expect = (res: JsonResponse, status: number, what: string) => assert.equal(res.status, status, `${what}: ${res.text}`);
    const login = {
      grant_type: 'password',
      username: USER.username,
      password: USER.password,
      audience: API,
      scope: 'openid profile email offline_access read:x',
    };

    // Password grant: form + client_secret_post, JSON, Basic, public client; wrong passwords.
    const first = await postForm(token, { ...login, ...POST_CLIENT });
    expect(first, 200, 'password (form)');
    rememberTokens(first);
    const json = await postJson(token, { ...login, ...POST_CLIENT });
    expect(json, 200, 'password (JSON)');
    rememberTokens(json);
    const viaBasic = await postForm(token, login, basicHeader(BASIC_CLIENT.client_id, BASIC_CLIENT.client_secret));
    expect(viaBasic, 200, 'password (Basic)');
    rememberTokens(viaBasic);
    const publicLogin = await postForm(token, { ...login, client_id: PUBLIC_CLIENT_ID });
    expect(publicLogin, 200, 'password (public client)');
    rememberTokens(publicLogin);
    expect(await postForm(token, { ...login, password: secret('wrongpw'), ...POST_CLIENT }), 400, 'wrong password (form)');
    expect(await postJson(token, { ...login, password: secret('wrongpwjson'), ...POST_CLIENT }), 400, 'wrong password (JSON)');
    expect(
      await postForm(token, { ...login, username: 'nobody@logs.test', password: secret('unknownuser'), ...POST_CLIENT }),
      400,
      'unknown user',
    );

    // Client authentication failures.
    expect(
      await postForm(token, { ...login, client_id: POST_CLIENT.client_id, client_secret: secret('wrongpost') }),
      401,
      'wrong post secret',
    );
    expect(await postForm(token, login, basicHeader(BASIC_CLIENT.client_id, secret('wrongbasic'))), 401, 'wrong Basic secret');
    expect(
      await postForm(token, {
        grant_type: 'client_credentials',
        audience: API,
        client_id: POST_CLIENT.client_id,
        client_secret: secret('ccwrong'),
      }),
      401,
      'client_credentials bad secret',
    );
    expect(
      await postForm(
        token,
        { grant_type: 'client_credentials', audience: API },
        basicHeader(BASIC_CLIENT.client_id, secret('ccwrongbasic')),
      ),
      401,
      'client_credentials bad Basic secret',
    );
    const cc = await postForm(token, { grant_type: 'client_credentials', audience: API, ...POST_CLIENT });
    expect(cc, 200, 'client_credentials');
    rememberTokens(cc);

    // private_key_jwt: valid, replayed, wrong audience, not a JWT.
    const jwtType = { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' };
    const good = await assertion(token);
    const viaJwt = await postForm(token, { grant_type: 'client_credentials', audience: API, client_assertion: good, ...jwtType });
    expect(viaJwt, 200, 'private_key_jwt');
    rememberTokens(viaJwt);
    expect(
      await postForm(token, { grant_type: 'client_credentials', audience: API, client_assertion: good, ...jwtType }),
      401,
      'replayed assertion',
    );
    expect(
      await postForm(token, {
        grant_type: 'client_credentials',
        audience: API,
        client_assertion: await assertion('https://elsewhere.example/token'),
        ...jwtType,
      }),
      401,
      'wrong aud',
    );
    expect(
      await postForm(token, { grant_type: 'client_credentials', audience: API, client_assertion: secret('notajwt'), ...jwtType }),
      401,
      'garbage assertion',
    );

    // Refresh: rotation, then reuse of the rotated token (revokes the family), then the revoked child.
    const rotated = await postForm(token, {
      grant_type: 'refresh_token',
      refresh_token: first.body.refresh_token as string,
      ...POST_CLIENT,
    });
    expect(rotated, 200, 'refresh');
    rememberTokens(rotated);
    expect(
      await postForm(token, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string, ...POST_CLIENT }),
      400,
      'refresh reuse',
    );
    expect(
      await postForm(token, { grant_type: 'refresh_token', refresh_token: rotated.body.refresh_token as string, ...POST_CLIENT }),
      400,
      'revoked child',
    );
    expect(
      await postJson(token, { grant_type: 'refresh_token', refresh_token: secret('unknownrefresh'), ...POST_CLIENT }),
      400,
      'unknown refresh token',
    );
    const basicRefresh = await postForm(
      token,
      { grant_type: 'refresh_token', refresh_token: viaBasic.body.refresh_token as string },
      basicHeader(BASIC_CLIENT.client_id, BASIC_CLIENT.client_secret),
    );
    expect(basicRefresh, 200, 'refresh (Basic)');
    rememberTokens(basicRefresh);

    // Userinfo: header, body, tampered token, wrong scheme.
    const access = json.body.access_token as string;
    expect(await get(server.at('/userinfo'), { authorization: `Bearer ${access}` }), 200, 'userinfo');
    expect(await postForm(server.at('/userinfo'), { access_token: access }), 200, 'userinfo (body)');
    const tampered = `${access.slice(0, -6)}AAAAAA`;
    remember(tampered);
    expect(await get(server.at('/userinfo'), { authorization: `Bearer ${tampered}` }), 401, 'userinfo tampered');
    expect(await get(server.at('/userinfo'), { authorization: `Bearer ${secret('opaqueaccess')}` }), 401, 'userinfo opaque');

    // Introspection and revocation, good and bad client credentials.
    expect(await postForm(server.at('/oauth/introspect'), { token: access, ...POST_CLIENT }), 200, 'introspect access');
    expect(
      await postJson(
        server.at('/oauth/introspect'),
        { token: basicRefresh.body.refresh_token as string },
        basicHeader(BASIC_CLIENT.client_id, BASIC_CLIENT.client_secret),
      ),
      200,
      'introspect refresh',
    );
    expect(
      await postForm(server.at('/oauth/introspect'), {
        token: access,
        client_id: POST_CLIENT.client_id,
        client_secret: secret('introspectwrong'),
      }),
      401,
      'introspect bad secret',
    );
    expect(await postForm(server.at('/oauth/revoke'), { token: access, ...POST_CLIENT }), 200, 'revoke access');
    expect(
      await postForm(
        server.at('/oauth/revoke'),
        { token: basicRefresh.body.refresh_token as string, token_type_hint: 'refresh_token' },
        basicHeader(BASIC_CLIENT.client_id, BASIC_CLIENT.client_secret),
      ),
      200,
      'revoke refresh',
    );
    expect(
      await postForm(server.at('/oauth/revoke'), { token: publicLogin.body.refresh_token as string, client_id: PUBLIC_CLIENT_ID }),
      200,
      'revoke (public client)',
    );
    expect(
      await postForm(server.at('/oauth/revoke'), { token: access, client_id: POST_CLIENT.client_id, client_secret: secret('revokewrong') }),
      401,
      'revoke bad secret',
    );
    expect(await get(server.at('/userinfo'), { authorization: `Bearer ${access}` }), 401, 'userinfo after revocation');

    // Malformed bodies that carry secrets.
    const malformed: Array<[string, string, string, number]> = [
      ['invalid JSON', `{"grant_type":"password","password":"${secret('badjson')}",`, 'application/json', 400],
      ['JSON array', `["${secret('jsonarray')}"]`, 'application/json', 400],
      ['non-string JSON', `{"grant_type":"password","password":["${secret('nonstring')}"]}`, 'application/json', 400],
      ['text/plain', `grant_type=password&password=${secret('textplain')}`, 'text/plain', 400],
      [
        'multipart',
        `--b\r\nContent-Disposition: form-data; name="password"\r\n\r\n${secret('multipart')}\r\n--b--\r\n`,
        'multipart/form-data; boundary=b',
        400,
      ],
      [
        'repeated',
        `grant_type=password&username=${USER.username}&password=${secret('repeat1')}&password=${secret('repeat2')}&client_id=${POST_CLIENT.client_id}&client_secret=${POST_CLIENT.client_secret}`,
        'application/x-www-form-urlencoded',
        400,
      ],
      [
        'too long',
        `grant_type=password&username=${USER.username}&password=${secret('toolong')}${'y'.repeat(4100)}&client_id=${POST_CLIENT.client_id}`,
        'application/x-www-form-urlencoded',
        400,
      ],
      [
        'too large',
        `grant_type=password&password=${secret('toolarge')}&pad=${'z'.repeat(70 * 1024)}`,
        'application/x-www-form-urlencoded',
        413,
      ],
      [
        'two auth methods',
        `grant_type=password&username=${USER.username}&password=${USER.password}&client_id=${BASIC_CLIENT.client_id}&client_secret=${secret('twomethods')}`,
        'application/x-www-form-urlencoded',
        400,
      ],
    ];
    for (const [what, body, contentType, status] of malformed) {
      const headers: Record<string, string> = { 'content-type': contentType };
      if (what === 'two auth methods') Object.assign(headers, basicHeader(BASIC_CLIENT.client_id, BASIC_CLIENT.client_secret));
      expect(await postRaw(token, body, headers), status, what);
    }
    expect(
      await postRaw(server.at('/oauth/token').replace('/acme/', '/no-such-tenant/'), `password=${secret('unknowntenant')}`, {
        'content-type': 'application/x-www-form-urlencoded',
      }),
      404,
      'unknown tenant',
    );
    expect(
      await postRaw(`${server.url}/oauth/token?client_secret=${secret('wrongurl')}`, `password=${secret('wrongurlbody')}`, {
        'content-type': 'application/x-www-form-urlencoded',
      }),
      404,
      'no tenant in the URL',
    );
    expect(
      await postForm(`${token}?password=${secret('inquery')}&client_secret=${secret('secretinquery')}`, { ...login, ...POST_CLIENT }),
      200,
      'secrets in the query string',
    );
  }

  it('the traffic produced log lines, each one JSON', () => {
    assert.ok(server.logs.length > 40, `only ${server.logs.length} lines`);
    for (const line of server.logs) assert.doesNotThrow(() => JSON.parse(line), line);
  });

  it('no password, client secret, token or assertion appears in any log line', () => {
    assert.ok(secrets.size > 40, `collected ${secrets.size} secrets`);
    const leaks: string[] = [];
    for (const value of secrets) {
      for (const line of server.logs) {
        if (line.includes(value)) leaks.push(`${value.slice(0, 24)}… in ${line.slice(0, 300)}`);
      }
    }
    assert.deepEqual(leaks, []);
    // Not even the distinctive tag that every secret carries.
    assert.deepEqual(
      server.logs.filter((line) => line.includes(TAG)),
      [],
    );
  });

  function entries(): Array<Record<string, unknown>> {
    return server.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  function assertLogged(fields: Record<string, unknown>, what: string): void {
    const found = entries().some((entry) => Object.entries(fields).every(([k, v]) => entry[k] === v));
    assert.ok(found, `${what}: no log line with ${JSON.stringify(fields)}`);
  }

  it('failures are logged with route, status and OAuth error code', () => {
    const tokenRoute = '/:tenant/oauth/token';
    assertLogged(
      { route: tokenRoute, status: 400, error: 'invalid_grant', grant_type: 'password', client_id: POST_CLIENT.client_id },
      'wrong password',
    );
    assertLogged({ route: tokenRoute, status: 400, error: 'invalid_grant', grant_type: 'refresh_token' }, 'refresh reuse');
    assertLogged({ route: tokenRoute, status: 401, error: 'invalid_client', grant_type: 'client_credentials' }, 'bad client secret');
    assertLogged({ route: tokenRoute, status: 400, error: 'invalid_request' }, 'malformed body');
    assertLogged({ route: tokenRoute, status: 413, error: 'invalid_request' }, 'body too large');
    assertLogged({ route: '/:tenant/userinfo', status: 401, error: 'invalid_token' }, 'userinfo');
    assertLogged({ route: '/:tenant/oauth/revoke', status: 401, error: 'invalid_client' }, 'revoke');
    assertLogged({ route: '/:tenant/oauth/introspect', status: 401, error: 'invalid_client' }, 'introspect');
    assertLogged({ route: tokenRoute, status: 404, error: 'not_found' }, 'unknown tenant');
    assertLogged(
      { route: 'unmatched', path: '/oauth/token', status: 404, error: 'not_found' },
      'a token request sent to a URL without a tenant',
    );
  });

  it('the operator can tell why a request failed from a log-only detail the client never sees', () => {
    const reuse = entries().find((e) => e.error === 'invalid_grant' && typeof e.detail === 'string' && /reuse/.test(e.detail));
    assert.ok(reuse, 'refresh token reuse is explained in the log');
    const wrongSecret = entries().find(
      (e) => e.error === 'invalid_client' && typeof e.detail === 'string' && e.detail.includes(POST_CLIENT.client_id),
    );
    assert.ok(wrongSecret, 'the failing client is named in the log');
  });

  it('successful requests are logged with route, status, grant type and client', () => {
    assertLogged(
      { route: '/:tenant/oauth/token', status: 200, grant_type: 'password', client_id: BASIC_CLIENT.client_id },
      'password via Basic',
    );
    assertLogged(
      { route: '/:tenant/oauth/token', status: 200, grant_type: 'client_credentials', client_id: JWT_CLIENT_ID },
      'private_key_jwt',
    );
    assertLogged({ route: '/:tenant/userinfo', status: 200 }, 'userinfo');
  });
});
