/**
 * RFC 6749 §5.2 error responses, and robustness of every endpoint that
 * parses a client's body.
 *
 * §5.2: "The authorization server responds with an HTTP 400 (Bad Request)
 * status code (unless specified otherwise) and includes the following
 * parameters with the response: error REQUIRED […] invalid_request: The
 * request is missing a required parameter, includes an unsupported
 * parameter value (other than grant type), repeats a parameter, includes
 * multiple credentials, […] or is otherwise malformed." The parameters are
 * in an application/json body (§5.1), with `Cache-Control: no-store`.
 * §3.1/§3.2: "Request and response parameters MUST NOT be included more than
 * once"; "The authorization server MUST ignore unrecognized request
 * parameters."
 *
 * What this file proves (DESIGN.md §3–§4): every error is JSON with `error`
 * and `error_description` and `Cache-Control: no-store`; malformed input of
 * any kind (oversized, deeply nested, wrongly typed, wrongly labelled,
 * random) is `invalid_request` or another 4xx, never a 5xx; the query string
 * is not part of the request; `;charset=utf-8` is accepted; unknown tenants
 * and routes get a JSON 404.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ALICE, API, BASIC, ENTRA, JOE, NATIVE, PING, WEB, acmeFixture } from '../helpers/fixtures.js';
import { basic, get, postForm, postJson, postRaw, type JsonResponse } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Any error: JSON with error and error_description, no-store, not a 5xx. */
function assertErrorShape(res: JsonResponse, context: string): void {
  const where = `${context}: ${res.status} ${res.text.slice(0, 300)}`;
  assert.ok(res.status >= 400 && res.status < 500, `a 4xx: ${where}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, where);
  assert.equal(typeof res.body.error, 'string', where);
  assert.match(res.body.error as string, /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/, `RFC 6749 §5.2 error code charset: ${where}`);
  assert.equal(typeof res.body.error_description, 'string', where);
  assert.equal(res.headers.get('cache-control'), 'no-store', where);
  assert.equal(res.body.access_token, undefined, where);
}

function assertError(res: JsonResponse, status: number, error: string, context = ''): void {
  assertErrorShape(res, context);
  assert.equal(res.status, status, `${context}: ${res.text}`);
  assert.equal(res.body.error, error, `${context}: ${res.text}`);
}

/** Sends exactly these bytes (no content-type is added when none is given). */
async function send(
  url: string,
  body: string | Buffer | undefined,
  headers: Record<string, string>,
  method = 'POST',
): Promise<JsonResponse> {
  const response = await fetch(url, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body }),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* asserted by the caller */
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

describe('RFC 6749 §5.2 error responses and robustness', () => {
  let server: TestServer;
  let paths: { auth0: string; entra: string; ping: string; userinfo: string; revoke: string; introspect: string };
  const aliceForm = { grant_type: 'password', username: ALICE.username, password: ALICE.password, audience: API, ...WEB };

  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
    paths = {
      auth0: server.at('/oauth/token'),
      entra: server.at('/oauth2/v2.0/token'),
      ping: server.at('/as/token.oauth2'),
      userinfo: server.at('/userinfo'),
      revoke: server.at('/oauth/revoke'),
      introspect: server.at('/oauth/introspect'),
    };
  });
  after(() => server.close());

  it('grant errors are JSON with error and error_description, Cache-Control no-store, on every token path', async () => {
    const cases: Array<[string, JsonResponse, number, string]> = [
      ['wrong password', await postForm(paths.auth0, { ...aliceForm, password: 'not the password' }), 400, 'invalid_grant'],
      ['unsupported grant', await postForm(paths.auth0, { grant_type: 'urn:nope', ...WEB }), 400, 'unsupported_grant_type'],
      ['no grant_type', await postForm(paths.auth0, { ...WEB }), 400, 'invalid_request'],
      ['bad secret', await postForm(paths.auth0, { ...aliceForm, client_secret: 'wrong-secret-value' }), 401, 'invalid_client'],
      [
        'no client',
        await postForm(paths.auth0, { grant_type: 'password', username: ALICE.username, password: ALICE.password }),
        401,
        'invalid_client',
      ],
      [
        'entra wrong password',
        await postForm(paths.entra, {
          grant_type: 'password',
          username: ALICE.username,
          password: 'nope nope',
          scope: 'openid',
          client_id: ENTRA.client_id,
        }),
        400,
        'invalid_grant',
      ],
      [
        'ping wrong password',
        await postForm(
          paths.ping,
          { grant_type: 'password', username: JOE.username, password: 'nope nope' },
          basic(PING.client_id, PING.client_secret),
        ),
        400,
        'invalid_grant',
      ],
    ];
    for (const [context, res, status, error] of cases) assertError(res, status, error, context);
  });

  it('invalid_client over Basic is 401 with WWW-Authenticate (§5.2)', async () => {
    const res = await postForm(paths.auth0, { grant_type: 'client_credentials', audience: API }, basic(BASIC.client_id, 'not the secret'));
    assertError(res, 401, 'invalid_client');
    assert.match(res.headers.get('www-authenticate') ?? '', /^Basic /);
  });

  it('§3.1: a repeated parameter is invalid_request, on every token path', async () => {
    const body = `${new URLSearchParams(aliceForm).toString()}&grant_type=password`;
    for (const url of [paths.auth0, paths.entra, paths.ping]) {
      assertError(await postRaw(url, body, { 'content-type': FORM }), 400, 'invalid_request', url);
    }
    const twiceUsername = `${new URLSearchParams(aliceForm).toString()}&username=${encodeURIComponent(JOE.username)}`;
    const res = await postRaw(paths.auth0, twiceUsername, { 'content-type': FORM });
    assertError(res, 400, 'invalid_request');
    assert.match(res.body.error_description as string, /username/);
    assertError(
      await postRaw(paths.revoke, `token=a&token=b&client_id=${WEB.client_id}&client_secret=${WEB.client_secret}`, {
        'content-type': FORM,
      }),
      400,
      'invalid_request',
      'revoke',
    );
  });

  it('§3.1: a key repeated in a JSON body is a repeated parameter too, not silently its last value', async () => {
    // The second password is the right one: accepting it would mean the duplicate went unnoticed.
    const body = `{"grant_type":"password","username":${JSON.stringify(ALICE.username)},"password":"wrong","password":${JSON.stringify(ALICE.password)},"client_id":${JSON.stringify(WEB.client_id)},"client_secret":${JSON.stringify(WEB.client_secret)}}`;
    for (const url of [paths.auth0, paths.ping]) {
      const res = await postRaw(url, body, { 'content-type': 'application/json' });
      assertError(res, 400, 'invalid_request', url);
      assert.match(res.body.error_description as string, /password/);
    }
  });

  it('a query-string parameter equal to a body one is not a repeat, and the query string is ignored', async () => {
    const same = await postForm(`${paths.auth0}?grant_type=password&client_id=${WEB.client_id}`, aliceForm);
    assert.equal(same.status, 200, same.text);
    // A parameter only in the query string does not count: the body lacks grant_type.
    const { grant_type: _omitted, ...withoutGrant } = aliceForm;
    assertError(await postForm(`${paths.auth0}?grant_type=password`, withoutGrant), 400, 'invalid_request', 'grant_type only in the query');
    // And a query value never overrides the body's.
    const overridden = await postForm(`${paths.auth0}?password=${encodeURIComponent('query password')}&username=nobody`, aliceForm);
    assert.equal(overridden.status, 200, overridden.text);
  });

  it('a body over 64 KiB is 413 invalid_request on every body-parsing path', async () => {
    const big = `${new URLSearchParams(aliceForm).toString()}&pad=${'a'.repeat(70 * 1024)}`;
    for (const url of Object.values(paths)) {
      assertError(await postRaw(url, big, { 'content-type': FORM }), 413, 'invalid_request', url);
    }
    assertError(
      await postRaw(paths.auth0, JSON.stringify({ ...aliceForm, pad: 'b'.repeat(70 * 1024) }), { 'content-type': JSON_TYPE }),
      413,
      'invalid_request',
      'json',
    );
  });

  it('deeply nested JSON within the size limit is 400 invalid_request, not a crash', async () => {
    const depth = 20_000;
    const arrays = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const objects = `${'{"a":'.repeat(10_000)}"x"${'}'.repeat(10_000)}`;
    const unclosed = '['.repeat(60_000);
    for (const [name, body] of [
      ['arrays', arrays],
      ['objects', objects],
      ['unclosed', unclosed],
    ] as const) {
      assert.ok(Buffer.byteLength(body) <= 64 * 1024, `${name} is within the body limit`);
      for (const url of [paths.auth0, paths.ping, paths.revoke, paths.introspect]) {
        assertError(await postRaw(url, body, { 'content-type': JSON_TYPE }), 400, 'invalid_request', `${name} at ${url}`);
      }
    }
    // The server is still healthy afterwards.
    assert.equal((await postJson(paths.auth0, aliceForm)).status, 200);
  });

  it('JSON parameters must be strings: numbers, booleans, arrays and objects are invalid_request', async () => {
    for (const value of [42, 1.5, true, ['password'], { grant_type: 'password' }, [], {}]) {
      for (const field of ['grant_type', 'username', 'password', 'client_id', 'client_secret', 'scope', 'audience']) {
        const res = await postJson(paths.auth0, { ...aliceForm, [field]: value });
        assertError(res, 400, 'invalid_request', `${field}: ${JSON.stringify(value)}`);
      }
    }
  });

  it('a JSON body that is not an object is invalid_request', async () => {
    for (const body of ['[]', JSON.stringify([aliceForm]), '"grant_type=password"', '42', 'true', 'null']) {
      assertError(await postRaw(paths.auth0, body, { 'content-type': JSON_TYPE }), 400, 'invalid_request', body);
    }
  });

  it('invalid JSON is invalid_request', async () => {
    for (const body of [
      '{',
      '{"grant_type": "password",}',
      "{'grant_type':'password'}",
      '{"a":"\\x"}',
      '\u0000',
      `${JSON.stringify(aliceForm)} trailing`,
    ]) {
      for (const url of [paths.auth0, paths.ping, paths.revoke, paths.introspect]) {
        assertError(await postRaw(url, body, { 'content-type': JSON_TYPE }), 400, 'invalid_request', `${JSON.stringify(body)} at ${url}`);
      }
    }
  });

  it('an unsupported content type is invalid_request (400, not 415)', async () => {
    const form = new URLSearchParams(aliceForm).toString();
    const types = [
      'text/plain',
      'text/plain;charset=UTF-8',
      'multipart/form-data; boundary=----x',
      'application/xml',
      'application/x-www-form-urlencoded-x',
      'application/jsonp',
      'image/png',
    ];
    for (const url of Object.values(paths)) {
      for (const type of types) {
        assertError(await send(url, form, { 'content-type': type }), 400, 'invalid_request', `${type} at ${url}`);
      }
    }
    const multipart = ['------x', 'Content-Disposition: form-data; name="grant_type"', '', 'password', '------x--', ''].join('\r\n');
    assertError(
      await send(paths.auth0, multipart, { 'content-type': 'multipart/form-data; boundary=----x' }),
      400,
      'invalid_request',
      'a real multipart body',
    );
  });

  it('`;charset=utf-8` and `; charset=UTF-8` are accepted on form and JSON bodies', async () => {
    const form = new URLSearchParams(aliceForm).toString();
    for (const type of [`${FORM};charset=utf-8`, `${FORM}; charset=UTF-8`, `${FORM}; charset="utf-8"`]) {
      const res = await send(paths.auth0, form, { 'content-type': type });
      assert.equal(res.status, 200, `${type}: ${res.text}`);
      const entra = await send(
        paths.entra,
        new URLSearchParams({
          grant_type: 'password',
          username: ALICE.username,
          password: ALICE.password,
          scope: `${API}/read:sample`,
          client_id: ENTRA.client_id,
        }).toString(),
        { 'content-type': type },
      );
      assert.equal(entra.status, 200, `entra ${type}: ${entra.text}`);
    }
    for (const type of [`${JSON_TYPE};charset=utf-8`, `${JSON_TYPE}; charset=UTF-8`]) {
      const res = await send(paths.auth0, JSON.stringify(aliceForm), { 'content-type': type });
      assert.equal(res.status, 200, `${type}: ${res.text}`);
    }
  });

  it('a parameter over 4096 characters is invalid_request; 4096 is still a normal request', async () => {
    for (const field of ['username', 'password', 'scope', 'audience', 'client_id', 'unknown_extension']) {
      const res = await postForm(paths.auth0, { ...aliceForm, [field]: 'x'.repeat(4097) });
      assertError(res, 400, 'invalid_request', field);
    }
    const atLimit = await postForm(paths.auth0, { ...aliceForm, password: 'x'.repeat(4096) });
    assertError(atLimit, 400, 'invalid_grant', 'a 4096-character password is checked, and wrong');
    const refresh = await postForm(paths.auth0, { grant_type: 'refresh_token', refresh_token: 'r'.repeat(4097), ...WEB });
    assertError(refresh, 400, 'invalid_request', 'refresh_token');
  });

  it('an empty body is invalid_request, whatever it claims to be', async () => {
    for (const url of [paths.auth0, paths.entra, paths.ping]) {
      assertError(await send(url, '', { 'content-type': FORM }), 400, 'invalid_request', `empty form at ${url}`);
      assertError(await send(url, undefined, {}), 400, 'invalid_request', `no body at ${url}`);
    }
    // Revocation and introspection authenticate the client first (RFC 7009 §2.1, RFC 7662 §2.1): no client is invalid_client.
    for (const url of [paths.revoke, paths.introspect]) {
      assertError(await send(url, '', { 'content-type': FORM }), 401, 'invalid_client', `empty form at ${url}`);
      assertError(await send(url, undefined, {}), 401, 'invalid_client', `no body at ${url}`);
    }
    for (const url of [paths.auth0, paths.ping]) {
      assertError(await send(url, '', { 'content-type': JSON_TYPE }), 400, 'invalid_request', `empty JSON at ${url}`);
      assertError(await send(url, '{}', { 'content-type': JSON_TYPE }), 400, 'invalid_request', `{} at ${url}`);
    }
  });

  it('the Entra path takes form bodies only: JSON is invalid_request', async () => {
    const res = await postJson(paths.entra, {
      grant_type: 'password',
      username: ALICE.username,
      password: ALICE.password,
      scope: `${API}/read:sample`,
      client_id: ENTRA.client_id,
    });
    assertError(res, 400, 'invalid_request');
  });

  it('an unknown tenant is a JSON 404 on every tenant route', async () => {
    const form = new URLSearchParams(aliceForm).toString();
    const base = `${server.url}/no-such-tenant`;
    for (const path of ['/oauth/token', '/oauth2/v2.0/token', '/as/token.oauth2', '/oauth/revoke', '/oauth/introspect', '/userinfo']) {
      assertError(await send(`${base}${path}`, form, { 'content-type': FORM }), 404, 'not_found', path);
    }
    for (const path of ['/.well-known/openid-configuration', '/.well-known/jwks.json', '/userinfo']) {
      assertError(await get(`${base}${path}`), 404, 'not_found', path);
    }
    assertError(await get(`${server.url}/.well-known/oauth-authorization-server/no-such-tenant`), 404, 'not_found', 'RFC 8414 path form');
  });

  it('an unknown route is a JSON 404', async () => {
    assertError(await get(server.at('/nothing-here')), 404, 'not_found');
    assertError(await get(`${server.url}/`), 404, 'not_found');
    assertError(
      await send(`${server.url}/oauth/token`, 'grant_type=password', { 'content-type': FORM }),
      404,
      'not_found',
      'token path without a tenant',
    );
    assertError(await send(paths.auth0, undefined, {}, 'PUT'), 404, 'not_found', 'PUT on the token path');
    assertError(await get(paths.auth0), 404, 'not_found', 'GET on the token path');
  });

  it('a malformed URL (bad %-escape, over-long segment) is a JSON invalid_request too', async () => {
    assertError(
      await send(`${server.url}/%E0%A4%A/oauth/token`, 'grant_type=password', { 'content-type': FORM }),
      400,
      'invalid_request',
      'bad escape in the tenant',
    );
    assertError(await get(`${server.url}/acme/%zz/x`), 400, 'invalid_request', 'bad escape in a path');
    assertErrorShape(
      await send(`${server.url}/${'t'.repeat(300)}/oauth/token`, 'grant_type=password', { 'content-type': FORM }),
      'over-long tenant segment',
    );
  });

  it('fuzz: ~300 random bodies, content types and headers across every endpoint never get a 5xx', async (t) => {
    const random = mulberry32(0x5eed_6749);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const endpoints: Array<[string, 'GET' | 'POST']> = [
      [paths.auth0, 'POST'],
      [paths.entra, 'POST'],
      [paths.ping, 'POST'],
      [paths.userinfo, 'POST'],
      [paths.userinfo, 'GET'],
      [paths.revoke, 'POST'],
      [paths.introspect, 'POST'],
      [`${server.url}/ac%E0%A4%Ame/oauth/token`, 'POST'],
    ];
    const contentTypes = [
      FORM,
      `${FORM};charset=utf-8`,
      `${FORM}; charset=iso-8859-1`,
      JSON_TYPE,
      `${JSON_TYPE}; charset=UTF-8`,
      `${JSON_TYPE}; charset=utf-16`,
      'text/plain',
      'multipart/form-data; boundary=zz',
      'application/xml',
      '*/*',
      'application/',
      ';;;',
      'application/json; charset',
      'application/x-www-form-urlencoded; =',
      undefined,
    ] as const;
    const names = [
      'grant_type',
      'username',
      'password',
      'client_id',
      'client_secret',
      'refresh_token',
      'scope',
      'audience',
      'realm',
      'token',
      'token_type_hint',
      'access_token',
      'client_assertion',
      'client_assertion_type',
      'resource',
      'client_info',
      '__proto__',
      'constructor',
      '',
    ];
    const grantTypes = [
      'password',
      'refresh_token',
      'client_credentials',
      'http://auth0.com/oauth/grant-type/password-realm',
      'authorization_code',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
    ];
    // No real client secret is in the pool, so every request must fail. Public clients (no secret) let
    // token requests reach the grants; they are kept from revocation, where any token gets 200 (RFC 7009 §2.2).
    const clientIds = [WEB.client_id, BASIC.client_id, PING.client_id, 'unknown-client', 'acme-jwt'];
    const publicClientIds = [NATIVE.client_id, ENTRA.client_id];
    const randomText = (max: number) => {
      const alphabet = 'abcXYZ019 %+&=;:/\\"\'{}[]<>.-_~\u00e9\u4e2d\u{1F600}\u0000\n';
      const chars = Array.from(alphabet);
      return Array.from({ length: Math.floor(random() * max) }, () => pick(chars)).join('');
    };
    const randomValue = (): string =>
      pick([
        () => pick(grantTypes),
        () => pick(clientIds),
        () => randomText(40),
        () => 'x'.repeat(pick([4096, 4097, 9000])),
        () => 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
        () => `${randomText(10)}.${randomText(10)}.${randomText(10)}`,
        () => '',
      ])();
    const randomJson = (depth: number): unknown =>
      pick([
        () => randomValue(),
        () => Math.floor(random() * 1e6) - 5e5,
        () => random() < 0.5,
        () => null,
        () => (depth > 3 ? 'leaf' : Array.from({ length: Math.floor(random() * 4) }, () => randomJson(depth + 1))),
        () =>
          depth > 3
            ? 'leaf'
            : Object.fromEntries(Array.from({ length: Math.floor(random() * 5) }, () => [pick(names), randomJson(depth + 1)])),
      ])();
    const structured = (allowPublicClients: boolean) => {
      const clientId = allowPublicClients && random() < 0.6 ? pick(publicClientIds) : pick(clientIds);
      const params = new URLSearchParams({
        grant_type: random() < 0.5 ? pick(['password', 'refresh_token']) : pick(grantTypes),
        client_id: clientId,
      });
      if (random() < 0.8) params.set('username', `${randomText(12)}@fuzz.test`);
      if (random() < 0.8) params.set('password', randomText(20));
      if (random() < 0.5) params.set('refresh_token', randomText(43));
      if (random() < 0.3) params.set('token', randomValue());
      if (random() < 0.3) params.set(pick(['scope', 'audience', 'realm', 'token_type_hint', 'client_info']), randomValue());
      return params.toString();
    };
    const bodies = [
      () =>
        Array.from(
          { length: Math.floor(random() * 8) },
          () => `${encodeURIComponent(pick(names))}=${encodeURIComponent(randomValue())}`,
        ).join('&'),
      () => Array.from({ length: Math.floor(random() * 8) }, () => `${pick(names)}=${randomText(30)}`).join('&'),
      () => JSON.stringify(randomJson(0)),
      () => JSON.stringify(Object.fromEntries(Array.from({ length: Math.floor(random() * 8) }, () => [pick(names), randomValue()]))),
      () => Buffer.from(Array.from({ length: Math.floor(random() * 200) }, () => Math.floor(random() * 256))),
      () => `${'['.repeat(Math.floor(random() * 30_000))}`,
      () => '%%%&&&===%zz%u0041&a=%E0%A4%A',
      () => 'a='.padEnd(66 * 1024, 'z'),
      () => '',
    ];
    const b64 = (s: string) => Buffer.from(s, 'latin1').toString('base64');
    const authorizations = [
      undefined,
      undefined,
      () => `Basic ${b64(`${pick(clientIds)}:${randomText(12).replace(/[^\x20-\x7e]/g, '')}`)}`,
      () => `Basic ${b64('no-colon-here')}`,
      () => `Basic ${b64('%zz:%')}`,
      () => `Basic ${b64(':secret')}`,
      () => 'Basic !!!not base64!!!',
      () => 'Basic',
      () => 'Bearer',
      () => 'Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6Im5vcGUifQ.eyJzdWIiOiJ4In0.c2ln',
      () => `Bearer ${'a'.repeat(5000)}`,
      () => 'Bearer a b c',
      () => 'Digest username="x"',
      () =>
        randomText(30)
          .replace(/[^\x20-\x7e]/g, 'q')
          .trim() || 'q',
    ];

    const failures: string[] = [];
    const seen = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const [url, method] = pick(endpoints);
      // A third are well-formed forms with random values, so the fuzz gets past parsing into client auth and the grants.
      const wellFormed = random() < 0.33;
      const contentType = wellFormed || random() < 0.3 ? pick([FORM, `${FORM};charset=utf-8`]) : pick(contentTypes);
      const body = wellFormed ? structured(url !== paths.revoke) : pick(bodies)();
      const auth = random() < (wellFormed ? 0.8 : 0.4) ? undefined : pick(authorizations);
      const headers: Record<string, string> = {};
      if (contentType !== undefined) headers['content-type'] = contentType;
      if (auth !== undefined) headers.authorization = auth();
      if (random() < 0.1) headers['content-encoding'] = pick(['gzip', 'br', 'identity', 'x-junk']);
      if (random() < 0.1)
        headers['x-client-sku'] =
          randomText(10)
            .replace(/[^\x20-\x7e]/g, 'q')
            .trim() || 'q';
      const query = random() < 0.2 ? `?${pick(names)}=${encodeURIComponent(randomValue())}` : '';
      const res = await send(`${url}${query}`, method === 'GET' ? undefined : body, headers, method);
      const context = `#${i} ${method} ${url.slice(server.url.length)}${query.slice(0, 40)} [${contentType ?? 'no content-type'}] auth=${(headers.authorization ?? '-').slice(0, 40)} body=${JSON.stringify(String(body).slice(0, 80))}`;
      seen.set(`${res.status} ${String(res.body.error)}`, (seen.get(`${res.status} ${String(res.body.error)}`) ?? 0) + 1);
      try {
        assertErrorShape(res, context);
      } catch (err) {
        failures.push((err as Error).message.split('\n')[0] ?? context);
      }
    }
    t.diagnostic(`fuzz outcomes: ${[...seen].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
    assert.deepEqual(failures, [], `${failures.length} fuzz cases failed`);
    // The fuzz reaches past body parsing: client authentication, the grants and token checks answered too.
    const codes = new Set([...seen.keys()].map((k) => k.split(' ')[1]));
    for (const code of ['invalid_request', 'invalid_client', 'invalid_grant', 'unsupported_grant_type', 'invalid_token'])
      assert.ok(codes.has(code), `fuzz reached ${code}: ${[...seen].join(', ')}`);
    // Still serving normally after the fuzz.
    assert.equal((await postForm(paths.auth0, aliceForm)).status, 200);
  });
});

/** A small seeded PRNG: the fuzz is the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('broken HTTP framing', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
  });
  after(() => server.close());

  async function rawRequest(text: string): Promise<string> {
    const url = new URL(server.url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => socket.end(text));
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
    });
  }

  it('a malformed Content-Length gets a JSON invalid_request with no-store, not a framework body', async () => {
    const answer = await rawRequest(
      'POST /acme/oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: abc\r\n\r\ngrant_type=password',
    );
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /cache-control: no-store/i);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
    assert.equal(body.error, 'invalid_request');
  });

  it('broken chunked encoding gets the same', async () => {
    const answer = await rawRequest(
      'POST /acme/oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot-a-chunk\r\n0\r\n\r\n',
    );
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /"error":"invalid_request"/);
  });
});
