/**
 * Security events are counted in /metrics on the operations listener (`latchkey_security_events_total`
 * by type and reason), so an operator can alert on locks and throttles
 * without reading logs (docs/operations.md).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE, WEB, acmeFixture } from '../helpers/fixtures.js';
import { get, postForm } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

function sampleValue(text: string, type: string, reason: string): number {
  const line = text
    .split('\n')
    .find((l) => l.startsWith('latchkey_security_events_total{') && l.includes(`type="${type}"`) && l.includes(`reason="${reason}"`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('Security events in /metrics', () => {
  let server: TestServer;
  before(async () => {
    const { tenant } = await acmeFixture();
    server = await startTestServer({ tenants: [{ ...tenant, attack_protection: { brute_force: { threshold: 3 } } }] });
  });
  after(() => server.close());

  it('counts successes, failures by reason, a lock and refusals before the password check', async () => {
    const login = (username: string, password: string) =>
      postForm(server.at('/oauth/token'), { grant_type: 'password', username, password, ...WEB });
    assert.equal((await login(ALICE.username, ALICE.password)).status, 200);
    for (const attempt of ['one', 'two', 'three']) assert.equal((await login(ALICE.username, `wrong ${attempt}`)).status, 400);
    assert.equal((await login('nobody@acme.test', 'whatever it is')).status, 400);
    assert.equal((await login(ALICE.username, ALICE.password)).status, 429);

    const text = (await get(`${server.operationsUrl}/metrics`)).text;
    assert.equal(sampleValue(text, 'login_success', ''), 1);
    assert.equal(sampleValue(text, 'login_failure', 'wrong_password'), 3);
    assert.equal(sampleValue(text, 'login_failure', 'unknown_user'), 1);
    assert.equal(sampleValue(text, 'user_locked', 'brute_force'), 1);
    assert.equal(sampleValue(text, 'login_blocked', 'brute_force'), 1);
  });
});
