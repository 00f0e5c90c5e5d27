/**
 * HTTP hygiene (issue #11 point 11; security report L1, L3), black-box over
 * real sockets:
 * - every response carries `X-Content-Type-Options: nosniff`: routes, OAuth
 *   errors, 404s, a malformed URL, the raw answers to broken framing, and
 *   the operations listener;
 * - no error description or header echoes what the request carried (a
 *   `<script>` marker in the path, grant_type, realm, audience, scope,
 *   client_id, tenant name, parameter names, authenticator_types, …); a
 *   description that refers to a route names its pattern;
 * - a connection that has not sent its headers within 10 s is closed (408),
 *   where Node's 30 s sweep used to let it live 30-60 s;
 * - `listen.max_connections` caps open connections: with 2, a third
 *   concurrent connection is closed while the two are held;
 * - more than 100 header fields is 431 (Node used to drop fields past 2000
 *   silently, an Authorization header among them); an HTTP/1.1 request
 *   without Host is a JSON 400, not Node's bare one, as is one with two;
 *   a bare request line (HTTP/0.9) is 505, not served.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ALICE, API, BASIC, WEB, acmeFixture } from '../helpers/fixtures.js';
import { basic, get, postForm, postJson, postRaw, type JsonResponse } from '../helpers/http.js';
import { MFA_OTP } from '../helpers/mfa-otp.js';
import { openSocket, parseRawResponse, rawExchange, rawGet, rawPostForm, readUntilClosed, type RawResponse } from '../helpers/raw-http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** A word no description of the server contains, inside markup a browser would run. */
const MARKER_WORD = 'xss7q';
const MARKER = `<script>${MARKER_WORD}</script>`;
const MFA_APP = { client_id: 'hygiene-mfa', client_secret: 'hygiene-mfa-secret-0123456789' };
const PASSWORD_REALM = 'http://auth0.com/oauth/grant-type/password-realm';

/** One answer, whichever way it was obtained. */
interface Answer {
  what: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

const fromFetch = (what: string, res: JsonResponse): Answer => ({
  what,
  status: res.status,
  headers: Object.fromEntries(res.headers.entries()),
  body: res.text,
});
const fromRaw = (what: string, res: RawResponse): Answer => ({ what, status: res.status, headers: res.headers, body: res.body });

function assertNosniff(answer: Answer): void {
  assert.equal(answer.headers['x-content-type-options'], 'nosniff', `${answer.what}: ${answer.status} ${JSON.stringify(answer.headers)}`);
}

/** The marker in any form (raw, %-encoded, quoted, truncated): its word, or its tags. */
function assertNotReflected(answer: Answer): void {
  const seen = [answer.body, ...Object.values(answer.headers)].join('\n');
  assert.ok(
    !seen.includes(MARKER_WORD) && !/<script|script>|%3Cscript|script%3E/i.test(seen),
    `${answer.what} reflects the marker: ${answer.status} ${JSON.stringify(answer.headers)} ${answer.body}`,
  );
  assert.ok(answer.status < 500, `${answer.what}: ${answer.status} ${answer.body}`);
}

describe('HTTP hygiene (issue #11 point 11)', () => {
  let server: TestServer;
  before(async () => {
    const { tenant } = await acmeFixture();
    tenant.applications = [
      ...(tenant.applications ?? []),
      { ...MFA_APP, token_endpoint_auth_method: 'client_secret_post', grant_types: ['password', MFA_OTP], mfa: 'always' },
    ];
    server = await startTestServer({ tenants: [tenant] });
  });
  after(() => server.close());

  it('regression (issue #11 point 11): every kind of response carries X-Content-Type-Options: nosniff', async () => {
    const answers: Answer[] = [
      fromFetch('a route (200)', await get(`${server.url}/healthz`)),
      fromFetch('discovery (200)', await get(`${server.issuer()}.well-known/openid-configuration`)),
      fromFetch('a token (200)', await postForm(server.at('/oauth/token'), { grant_type: 'client_credentials', audience: API, ...WEB })),
      fromFetch('an OAuth error (400)', await postForm(server.at('/oauth/token'), { grant_type: 'password', ...WEB })),
      fromFetch('an OAuth error (401)', await get(server.at('/userinfo'))),
      fromFetch('no route (404)', await get(`${server.url}/no/such/route`)),
      fromRaw('a malformed URL (400)', await rawGet(server.url, '/acme/oauth/%E0%A4%A')),
      fromRaw(
        'broken framing, answered raw (400)',
        await rawExchange(server.url, 'POST /acme/oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'),
      ),
      fromRaw('no Host (400)', await rawExchange(server.url, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n')),
    ];
    for (const answer of answers) assertNosniff(answer);
    assertNosniff(fromFetch('the operations listener (200)', await get(`${server.operationsUrl}/metrics`)));
    assertNosniff(fromFetch('the operations listener (404)', await get(`${server.operationsUrl}/nothing`)));
  });

  it('regression (issue #11 point 11): a marker in the path, tenant, grant_type, realm, audience, scope, client_id or a parameter name is never echoed', async () => {
    const token = server.at('/oauth/token');
    const offline = await postForm(token, {
      grant_type: 'password',
      username: ALICE.username,
      password: ALICE.password,
      audience: API,
      scope: 'offline_access read:sample',
      ...WEB,
    });
    assert.equal(offline.status, 200, offline.text);
    const refreshToken = offline.body.refresh_token as string;
    const mfaRequired = await postForm(token, { grant_type: 'password', username: ALICE.username, password: ALICE.password, ...MFA_APP });
    assert.equal(mfaRequired.body.error, 'mfa_required', mfaRequired.text);
    const mfaToken = mfaRequired.body.mfa_token as string;

    const encoded = encodeURIComponent(MARKER);
    const answers: Answer[] = [
      fromRaw('path, no route', await rawGet(server.url, `/${MARKER}`)),
      fromRaw('path inside a tenant', await rawGet(server.url, `/acme/${MARKER}`)),
      // The marker's own slash would split it over two path segments: %-encoded, it is one tenant name.
      fromRaw(
        'tenant name at the token endpoint',
        await rawPostForm(server.url, `/${encoded}/oauth/token`, 'grant_type=client_credentials'),
      ),
      fromRaw('tenant name at discovery', await rawGet(server.url, `/${encoded}/.well-known/openid-configuration`)),
      fromRaw('tenant name at RFC 8414 discovery', await rawGet(server.url, `/.well-known/oauth-authorization-server/${encoded}`)),
      fromRaw(
        'tenant name, raw markup, at the Entra path',
        await rawPostForm(server.url, `/<b>${MARKER_WORD}<b>/oauth2/v2.0/token`, 'grant_type=password'),
      ),
      fromFetch('tenant name at userinfo', await get(`${server.url}/${encoded}/userinfo`)),
      fromFetch('grant_type', await postForm(token, { grant_type: MARKER, ...WEB })),
      fromFetch('grant_type, PingFederate path', await postForm(server.at('/as/token.oauth2'), { grant_type: MARKER, ...WEB })),
      fromFetch(
        'realm',
        await postForm(token, { grant_type: PASSWORD_REALM, realm: MARKER, username: ALICE.username, password: ALICE.password, ...WEB }),
      ),
      fromFetch(
        'audience',
        await postForm(token, { grant_type: 'password', username: ALICE.username, password: ALICE.password, audience: MARKER, ...WEB }),
      ),
      fromFetch('audience, client_credentials', await postForm(token, { grant_type: 'client_credentials', audience: MARKER, ...WEB })),
      fromFetch(
        'audience, Entra path',
        await postForm(server.at('/oauth2/v2.0/token'), {
          grant_type: 'password',
          username: ALICE.username,
          password: ALICE.password,
          audience: MARKER,
          ...WEB,
        }),
      ),
      fromFetch(
        'a widening scope at refresh',
        await postForm(token, { grant_type: 'refresh_token', refresh_token: refreshToken, scope: `read:sample ${MARKER}`, ...WEB }),
      ),
      fromFetch(
        'client_id in the body',
        await postForm(token, { grant_type: 'client_credentials', client_id: MARKER, client_secret: 'whatever-secret' }),
      ),
      fromFetch('client_id in Basic', await postForm(token, { grant_type: 'client_credentials' }, basic(MARKER, BASIC.client_secret))),
      fromFetch(
        'a repeated parameter name',
        await postRaw(token, `grant_type=password&${encoded}=a&${encoded}=b`, { 'content-type': 'application/x-www-form-urlencoded' }),
      ),
      fromFetch('a non-string JSON parameter name', await postJson(token, { grant_type: 'password', [MARKER]: { nested: true } })),
      fromFetch(
        'a repeated JSON parameter name',
        await postRaw(token, `{"${MARKER}":"a","${MARKER}":"b"}`, { 'content-type': 'application/json' }),
      ),
      fromFetch('an over-long parameter', await postForm(token, { grant_type: 'password', [MARKER]: 'x'.repeat(5000), ...WEB })),
      fromFetch(
        'token_type_hint at revocation',
        await postForm(server.at('/oauth/revoke'), { token: MARKER, token_type_hint: MARKER, ...WEB }),
      ),
      fromFetch('token at introspection', await postForm(server.at('/oauth/introspect'), { token: MARKER, ...WEB })),
      fromFetch('Bearer at userinfo', await get(server.at('/userinfo'), { authorization: `Bearer ${MARKER}` })),
      fromFetch(
        'authenticator_types at /mfa/associate',
        await postJson(server.at('/mfa/associate'), { authenticator_types: [MARKER] }, { authorization: `Bearer ${mfaToken}` }),
      ),
      fromFetch(
        'challenge_type at /mfa/challenge',
        await postJson(server.at('/mfa/challenge'), { ...MFA_APP, mfa_token: mfaToken, challenge_type: MARKER }),
      ),
      fromFetch('mfa_token at the MFA grant', await postForm(token, { grant_type: MFA_OTP, mfa_token: MARKER, otp: '123456', ...MFA_APP })),
    ];
    for (const answer of answers) {
      // Introspection answers an unknown token with 200 {"active":false} (RFC 7662 §2.2); everything else is refused.
      assert.ok(answer.status >= 400 || answer.body === '{"active":false}', `${answer.what} is refused: ${answer.status} ${answer.body}`);
      assertNotReflected(answer);
      assertNosniff(answer);
    }
  });

  it('a description that refers to a route names its pattern, not the URL as sent', async () => {
    const unknownTenant = await postForm(`${server.url}/nosuchtenant/oauth/token`, { grant_type: 'client_credentials' });
    assert.equal(unknownTenant.status, 404, unknownTenant.text);
    assert.match(String(unknownTenant.body.error_description), /\/:tenant\/oauth\/token/);
    assert.ok(!unknownTenant.text.includes('nosuchtenant'), unknownTenant.text);
    // The operator still learns what was asked, in the log.
    assert.ok(
      server.logs.some((l) => l.includes('request refused') && l.includes('unknown tenant') && l.includes('nosuchtenant')),
      'the tenant name is logged',
    );
  });

  it('regression (issue #11 point 11): a connection that never finishes its request line is closed by the server (408)', {
    timeout: 25_000,
  }, async () => {
    const socket = await openSocket(server.url);
    const closed = readUntilClosed(socket);
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    // Nothing more is sent: the server's header timeout (10 s) must end it well inside this test's 25 s.
    const answer = parseRawResponse(await closed);
    assert.equal(answer.status, 408, answer.raw);
    assert.equal(JSON.parse(answer.body).error, 'invalid_request');
    assertNosniff(fromRaw('408', answer));
  });

  it('regression (L3): more than 100 header fields is 431, not a request whose later fields (Authorization) are dropped', async () => {
    // 2100 short fields fit Node's 16 KiB header limit, so only the field count can refuse them.
    const junk = 'x:1\r\n'.repeat(2100);
    const crowded = await rawExchange(
      server.url,
      `GET /acme/userinfo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${junk}Authorization: Bearer abc.def.ghi\r\n\r\n`,
    );
    assert.equal(crowded.status, 431, crowded.raw.slice(0, 300));
    assert.equal(JSON.parse(crowded.body).error, 'invalid_request');
    // 100 fields in all still pass.
    const fields = Array.from({ length: 98 }, (_, i) => `x-field-${i}: 1\r\n`).join('');
    const full = await rawExchange(server.url, `GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${fields}\r\n`);
    assert.equal(full.status, 200, full.raw.slice(0, 300));
  });

  it('regression (L3): an HTTP/1.1 request without Host, or with two, is a JSON 400; HTTP/1.0 needs none', async () => {
    for (const [what, request] of [
      ['no Host', 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'],
      ['two Host fields', 'GET /healthz HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n'],
    ] as const) {
      const answer = await rawExchange(server.url, request);
      assert.equal(answer.status, 400, `${what}: ${answer.raw}`);
      assert.equal(JSON.parse(answer.body).error, 'invalid_request', what);
      assert.match(String(JSON.parse(answer.body).error_description), /Host/, what);
    }
    const http10 = await rawExchange(server.url, 'GET /healthz HTTP/1.0\r\n\r\n');
    assert.equal(http10.status, 200, http10.raw);
  });

  it('regression (L3): a bare request line (HTTP/0.9) or another HTTP version is 505, not served', async () => {
    for (const request of ['GET /healthz\r\n\r\n', 'GET /healthz HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n']) {
      const answer = await rawExchange(server.url, request);
      assert.equal(answer.status, 505, `${JSON.stringify(request)}: ${answer.raw}`);
      assert.equal(JSON.parse(answer.body).error, 'invalid_request');
    }
  });
});

describe('listen.max_connections (issue #11 point 11)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant], extra: { listen: { max_connections: 2 } } });
  });
  after(() => server.close());

  /** A keep-alive connection that has had one request answered: the server has certainly accepted it. */
  async function heldConnection(): Promise<Socket> {
    const socket = await openSocket(server.url);
    socket.setEncoding('latin1');
    const answered = new Promise<string>((resolve, reject) => {
      let received = '';
      socket.on('data', (chunk: string) => {
        received += chunk;
        if (received.includes('\r\n\r\n') && received.endsWith('}')) resolve(received);
      });
      socket.once('close', () => reject(new Error(`closed before an answer: ${received}`)));
    });
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(await answered, /^HTTP\/1\.1 200/);
    return socket;
  }

  it('regression (issue #11 point 11): with max_connections 2, a third concurrent connection is closed while two are held', async () => {
    const first = await heldConnection();
    const second = await heldConnection();
    try {
      const third = await openSocket(server.url);
      const received = readUntilClosed(third);
      third.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(await received, '', 'the third connection is closed without an answer');
      assert.ok(!first.destroyed && !second.destroyed, 'the two held connections stay open');

      const metrics = await get(`${server.operationsUrl}/metrics`);
      assert.match(metrics.text, /latchkey_http_connections_refused_total\{listener="public"\} 1\b/);
      assert.ok(
        server.logs.some((l) => l.includes('connections refused') && l.includes('"max_connections":2')),
        'an operator line says why',
      );
    } finally {
      first.destroy();
      second.destroy();
    }
    // With the two gone, connections are accepted again (the server notices the closes on its own time).
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) status = (await rawGet(server.url, '/healthz').catch(() => ({ status: 0 }))).status;
    assert.equal(status, 200);
  });
});
