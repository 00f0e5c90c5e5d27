/**
 * DESIGN.md §9, issue #15 point 3, on two `latchkey serve` nodes over one
 * PostgreSQL and one Redis: what the Management API changes through node A
 * is served by node B at once. A's write reloads A's catalog and announces
 * the change in Redis; B reloads on the notice, long before its periodic
 * re-read (30 s): a client created on A gets tokens from B, and once deleted
 * on A it is refused by B.
 *
 * Waiting is bounded by a deadline well under the periodic re-read and
 * driven by what node B answers, never a sleep. Skipped, with the reason
 * printed, without LATCHKEY_TEST_DATABASE_URL and LATCHKEY_TEST_REDIS_URL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster, type ClusterNode } from '../helpers/cluster.js';
import { API, acmeFixture } from '../helpers/fixtures.js';
import { postForm, postJson, toJson, type JsonResponse } from '../helpers/http.js';
import { postgresSkip } from '../helpers/postgres.js';
import { redisSkip } from '../helpers/redis.js';
import { MGMT_CLIENT } from './helpers.js';

const SUITE = 'Management API on two nodes (PostgreSQL + Redis)';
/** Far below the 30 s periodic re-read: within it, only the Redis notice can have told node B. */
const NOTICE_DEADLINE_MS = 10_000;

describe(SUITE, { skip: postgresSkip(SUITE) || redisSkip(SUITE) }, () => {
  let cluster: Cluster;
  let nodeA: ClusterNode;
  let nodeB: ClusterNode;

  before(async () => {
    const { tenant } = await acmeFixture();
    cluster = await startCluster({
      nodes: 2,
      redis: true,
      // Two tsx processes starting beside other suites on a small machine.
      readyTimeoutMs: 120_000,
      tenants: (publicUrl) => [
        {
          ...tenant,
          applications: [
            ...(tenant.applications ?? []),
            { ...MGMT_CLIENT, token_endpoint_auth_method: 'client_secret_post', grant_types: ['client_credentials'] },
          ],
          client_grants: [
            ...(tenant.client_grants ?? []),
            {
              client_id: MGMT_CLIENT.client_id,
              audience: `${publicUrl}/acme/api/v2/`,
              scope: ['create:clients', 'delete:clients', 'create:client_grants'],
            },
          ],
        },
      ],
    });
    [nodeA, nodeB] = cluster.nodes as [ClusterNode, ClusterNode];
  });
  after(() => cluster?.close());

  async function managementCall(node: ClusterNode, method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<JsonResponse> {
    const token = await postForm(node.at('/oauth/token'), {
      grant_type: 'client_credentials',
      ...MGMT_CLIENT,
      audience: `${cluster.issuer()}api/v2/`,
    });
    assert.equal(token.status, 200, token.text);
    const authorization = { authorization: `Bearer ${token.body.access_token}` };
    if (method === 'POST') return postJson(node.at(`/api/v2${path}`), body ?? {}, authorization);
    return toJson(await fetch(node.at(`/api/v2${path}`), { method, headers: authorization }));
  }

  it('a client created on node A gets tokens from node B at once; deleted on A, node B refuses it at once', () =>
    cluster.withLogs(async () => {
      const created = await managementCall(nodeA, 'POST', '/clients', { name: 'Cluster worker', app_type: 'non_interactive' });
      assert.equal(created.status, 201, created.text);
      const client = { client_id: String(created.body.client_id), client_secret: String(created.body.client_secret) };
      const granted = await managementCall(nodeA, 'POST', '/client-grants', {
        client_id: client.client_id,
        audience: API,
        scope: ['read:sample'],
      });
      assert.equal(granted.status, 201, granted.text);
      const tokenFrom = (node: ClusterNode) =>
        postForm(node.at('/oauth/token'), { grant_type: 'client_credentials', ...client, audience: API });

      assert.equal((await tokenFrom(nodeA)).status, 200, 'served on A as soon as A answered');
      const onB = await until(async () => (await tokenFrom(nodeB)).status === 200);
      assert.ok(onB, `node B did not serve the new client within ${NOTICE_DEADLINE_MS} ms`);

      const deleted = await managementCall(nodeA, 'DELETE', `/clients/${client.client_id}`);
      assert.equal(deleted.status, 204, deleted.text);
      assert.equal((await tokenFrom(nodeA)).status, 401, 'refused on A as soon as A answered');
      const refusedOnB = await until(async () => (await tokenFrom(nodeB)).status === 401);
      assert.ok(refusedOnB, `node B still served the deleted client after ${NOTICE_DEADLINE_MS} ms`);
    }));
});

/** True once `check` holds, false past the deadline; polls every 50 ms (an interval, not a wait for time to pass). */
async function until(check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + NOTICE_DEADLINE_MS;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}
