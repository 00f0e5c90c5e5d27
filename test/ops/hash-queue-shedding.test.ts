/**
 * Password verification is bounded: at most `concurrency` in flight and
 * `max_queue` waiting; the excess is shed with 503 temporarily_unavailable
 * and Retry-After before any hashing starts (never a 500, never a hang).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, API, WEB, acmeFixture } from '../helpers/fixtures.js';
import { postForm } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('password hash queue sheds excess load', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant], extra: { password_hashing: { concurrency: 1, max_queue: 0 } } });
  });
  after(() => server.close());

  it('a burst beyond one in flight and none waiting gets 503 with Retry-After; the rest succeed', async () => {
    const burst = await Promise.all(
      Array.from({ length: 12 }, () => postForm(server.at('/oauth/token'), { grant_type: 'password', username: ALICE.username, password: ALICE.password, audience: API, ...WEB })),
    );
    const statuses = burst.map((r) => r.status);
    assert.ok(statuses.includes(200), `some succeed: ${statuses.join(',')}`);
    const shed = burst.filter((r) => r.status === 503);
    assert.ok(shed.length > 0, `some are shed: ${statuses.join(',')}`);
    assert.ok(statuses.every((s) => s === 200 || s === 503), statuses.join(','));
    for (const r of shed) {
      assert.equal(r.body.error, 'temporarily_unavailable');
      assert.equal(r.body.error_reason, 'hash_queue_full');
      assert.equal(r.headers.get('retry-after'), '1');
      assert.equal(r.headers.get('cache-control'), 'no-store');
    }
  });

  it('once the burst is over, requests succeed again', async () => {
    const res = await postForm(server.at('/oauth/token'), { grant_type: 'password', username: ALICE.username, password: ALICE.password, audience: API, ...WEB });
    assert.equal(res.status, 200, res.text);
  });
});
