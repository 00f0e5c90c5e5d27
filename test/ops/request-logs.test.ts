/**
 * What an operator reads in the log (issue #15 point 7): levels by name
 * (`"level":"info"`, not pino's 30); every request line names its tenant
 * (the `:tenant` path parameter) and its request id; the `X-Request-Id` a
 * proxy sends is echoed on the response and carried on the request line
 * (not yet on security events: docs/operations.md says why);
 * an absent or malformed one (too long, other characters) is replaced by a
 * UUID; health probes and scrapes are logged at debug, never info, on both
 * listeners.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, API, WEB, acmeFixture } from '../helpers/fixtures.js';
import { get, postForm } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

type Line = Record<string, unknown>;

describe('request logs: level names, tenant, request id, quiet probes', () => {
  let server: TestServer;
  before(async () => {
    // debug: so the probes' lines are written, and their level can be read.
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant], logLevel: 'debug' });
  });
  after(() => server.close());

  const lines = (): Line[] => server.logs.map((l) => JSON.parse(l) as Line);
  /**
   * The request's lines once its request line is written: that happens when the response has finished,
   * which the client may see first. Polls with a deadline.
   */
  async function byRequest(id: string): Promise<Line[]> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const mine = lines().filter((l) => l.request_id === id);
      if (mine.some((l) => l.msg === 'request completed' || l.msg === 'request refused') || Date.now() > deadline) return mine;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  const login = (password: string, headers: Record<string, string> = {}) =>
    postForm(server.at('/oauth/token'), { grant_type: 'password', username: ALICE.username, password, audience: API, ...WEB }, headers);

  it('levels are names: "level":"info", never a number', async () => {
    const res = await login(ALICE.password, { 'x-request-id': 'level-names-1' });
    assert.equal(res.status, 200, res.text);
    const [line] = (await byRequest('level-names-1')).filter((l) => l.msg === 'request completed');
    assert.equal(line?.level, 'info', JSON.stringify(line));
    for (const raw of server.logs) assert.match(raw, /"level":"(trace|debug|info|warn|error|fatal)"/, raw);
  });

  it("the proxy's X-Request-Id is echoed, and on the request line with the tenant", async () => {
    const id = 'edge-7f3a.9_B-2';
    const res = await login('not the password', { 'x-request-id': id });
    assert.equal(res.body.error, 'invalid_grant', res.text);
    assert.equal(res.headers.get('x-request-id'), id);
    const mine = await byRequest(id);
    const requestLine = mine.find((l) => l.msg === 'request refused');
    assert.equal(requestLine?.tenant, 'acme', JSON.stringify(mine));
    assert.equal(requestLine?.route, '/:tenant/oauth/token');

    const ok = await login(ALICE.password, { 'x-request-id': 'edge-ok-1' });
    assert.equal(ok.status, 200, ok.text);
    const completed = (await byRequest('edge-ok-1')).find((l) => l.msg === 'request completed');
    assert.equal(completed?.tenant, 'acme', JSON.stringify(completed));
  });

  it('concurrent requests: each request line carries its own request id', async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `concurrent-${i}`);
    const answers = await Promise.all(ids.map((id, i) => login(i % 2 === 0 ? ALICE.password : `wrong ${i}`, { 'x-request-id': id })));
    for (const [i, res] of answers.entries()) assert.equal(res.headers.get('x-request-id'), ids[i]);
    for (const [i, id] of ids.entries()) {
      const requestLines = (await byRequest(id)).filter((l) => l.msg === 'request completed' || l.msg === 'request refused');
      assert.deepEqual(
        requestLines.map((l) => l.status),
        [i % 2 === 0 ? 200 : 400],
        `${id}: ${JSON.stringify(requestLines)}`,
      );
    }
  });

  it('absent, too long, or with other characters: a UUID is generated, echoed and logged instead', async () => {
    const sent = [undefined, 'a'.repeat(129), 'two words', 'quote"d', 'semi;colon', ''];
    for (const value of sent) {
      const res = await get(`${server.issuer()}.well-known/openid-configuration`, value === undefined ? {} : { 'x-request-id': value });
      assert.equal(res.status, 200);
      const id = res.headers.get('x-request-id') ?? '';
      assert.match(id, UUID, `for ${JSON.stringify(value)}`);
      const line = (await byRequest(id)).find((l) => l.msg === 'request completed');
      assert.equal(line?.tenant, 'acme', `for ${JSON.stringify(value)}: ${JSON.stringify(line)}`);
      assert.ok(!server.logs.some((l) => value && value.length > 0 && l.includes(value)), 'the refused value is not logged');
    }
    // 128 characters of the allowed set is taken as it is.
    const longest = `${'A1._-'.repeat(25)}xyz`;
    assert.equal(longest.length, 128);
    assert.equal((await get(`${server.url}/healthz`, { 'x-request-id': longest })).headers.get('x-request-id'), longest);
  });

  it('refusals echo it too: a 404 and an unknown tenant', async () => {
    const notFound = await get(`${server.url}/no/such/route`, { 'x-request-id': 'nf-1' });
    assert.equal(notFound.status, 404);
    assert.equal(notFound.headers.get('x-request-id'), 'nf-1');
    const unknownTenant = await get(`${server.url}/globex/.well-known/openid-configuration`, { 'x-request-id': 'nt-1' });
    assert.equal(unknownTenant.status, 404);
    assert.equal(unknownTenant.headers.get('x-request-id'), 'nt-1');
    // The tenant as the path named it, so an operator sees which name clients try.
    assert.equal((await byRequest('nt-1')).find((l) => l.msg === 'request refused')?.tenant, 'globex');
  });

  it('health probes and scrapes are logged at debug, not info, on both listeners', async () => {
    const probes = [
      [server.url, '/healthz'],
      [server.url, '/readyz'],
      [server.url, '/readyz/database'],
      [server.operationsUrl, '/healthz'],
      [server.operationsUrl, '/readyz'],
      [server.operationsUrl, '/metrics'],
    ] as const;
    for (const [base, path] of probes) {
      const id = `probe-${base === server.url ? 'public' : 'operations'}-${path.replaceAll('/', '_')}`;
      const res = await get(`${base}${path}`, { 'x-request-id': id });
      assert.equal(res.status, 200, `${base}${path}: ${res.text}`);
      assert.equal(res.headers.get('x-request-id'), id);
      const mine = await byRequest(id);
      assert.deepEqual(
        mine.map((l) => [l.level, l.route]),
        [['debug', path]],
        `${base}${path}: ${JSON.stringify(mine)}`,
      );
    }
  });
});
