/**
 * Issue #15 ("What Auth0's SDK and existing scripts rely on"): the `auth0`
 * package's ManagementClient (v7, token mode, `domain: 'host:port/acme'`),
 * unchanged, over HTTPS: clients with secret rotation, client grants
 * (checkpoint paging as the SDK pages them) and resource servers, the way a
 * deploy script creates a machine-to-machine application for its API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManagementClient } from 'auth0';
import { decodeJwt } from 'jose';
import type { HttpsTestServer } from '../helpers/tls.js';
import { tlsUnavailableReason } from '../helpers/tls.js';
import { conformingFetch, managementToken, startManagementServer } from './helpers.js';

describe('auth0 ManagementClient: clients, client grants, resource servers', { skip: tlsUnavailableReason() }, () => {
  let server: HttpsTestServer;
  let management: ManagementClient;

  before(async () => {
    server = await startManagementServer({ tenant: { management_api: { rate_limit: { requests: 10_000, per_seconds: 60 } } } });
    management = new ManagementClient({
      domain: `${server.host}/acme`,
      token: await managementToken(server),
      fetch: conformingFetch(server),
    });
  });
  after(() => server?.close());

  it('a deploy script: create an API, a non_interactive client, a client grant; the client gets a token; rotate its secret', async () => {
    const api = await management.resourceServers.create({
      name: 'Inventory',
      identifier: 'https://inventory.acme.test/',
      scopes: [{ value: 'read:stock', description: 'Read stock' }],
    });
    assert.equal(api.identifier, 'https://inventory.acme.test/');
    const client = await management.clients.create({ name: 'Inventory sync', app_type: 'non_interactive' });
    assert.equal(client.token_endpoint_auth_method, 'client_secret_post');
    assert.equal(typeof client.client_secret, 'string');
    const grant = await management.clientGrants.create({
      client_id: String(client.client_id),
      audience: 'https://inventory.acme.test/',
      scope: ['read:stock'],
    });
    assert.deepEqual(grant.scope, ['read:stock']);

    const token = await server.postForm(server.at('/oauth/token'), {
      grant_type: 'client_credentials',
      client_id: String(client.client_id),
      client_secret: String(client.client_secret),
      audience: 'https://inventory.acme.test/',
    });
    assert.equal(token.status, 200, token.text);
    assert.equal(decodeJwt(String(token.body.access_token)).scope, 'read:stock');

    const rotated = await management.clients.rotateSecret(String(client.client_id));
    assert.notEqual(rotated.client_secret, client.client_secret);
    const fetched = await management.clients.get(String(client.client_id));
    assert.equal(fetched.client_secret, undefined);
    assert.equal(fetched.name, 'Inventory sync');

    const updated = await management.clientGrants.update(String(grant.id), { scope: [] });
    assert.deepEqual(updated.scope, []);
    await management.clientGrants.delete(String(grant.id));
    await management.clients.delete(String(client.client_id));
    await management.resourceServers.delete(String(api.id));
  });

  it('lists page through every item as the SDK pages them (clients by page, client grants by checkpoint)', async () => {
    for (let i = 0; i < 3; i++) await management.clients.create({ name: `Paged ${i}`, app_type: 'non_interactive' });
    const clients: string[] = [];
    for await (const client of await management.clients.list({ per_page: 2 })) clients.push(String(client.client_id));
    const all = (
      await server.get(`${server.issuer()}api/v2/clients?per_page=100`, { authorization: `Bearer ${await managementToken(server)}` })
    ).body as unknown as Array<{ client_id: string }>;
    assert.deepEqual(
      clients,
      all.map((c) => c.client_id),
    );

    const grants: string[] = [];
    for await (const grant of await management.clientGrants.list({ take: 2 })) grants.push(String(grant.id));
    assert.ok(grants.length >= 3, `every grant: ${grants.length}`);
    assert.equal(new Set(grants).size, grants.length, 'none twice');

    const servers: string[] = [];
    for await (const api of await management.resourceServers.list({ per_page: 2 })) servers.push(String(api.identifier));
    assert.equal(servers[0], `${server.issuer()}api/v2/`);
  });

  it('errors reach the SDK as Auth0 answers them: 409 managed_by_config, 404', async () => {
    await assert.rejects(
      management.clients.update('acme-web', { name: 'x' }),
      (err: { statusCode?: number; body?: { errorCode?: string } }) => {
        assert.equal(err.statusCode, 409);
        assert.equal(err.body?.errorCode, 'managed_by_config');
        return true;
      },
    );
    await assert.rejects(management.clients.get('no-such-client'), (err: { statusCode?: number }) => err.statusCode === 404);
  });
});
