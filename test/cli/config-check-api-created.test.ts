/**
 * `latchkey config check` (DESIGN.md §9 "The file and the API", issue #15
 * point 3) shows what the file declares and what the Management API
 * created, so an operator sees everything a start serves: API-created
 * applications, APIs and client grants are listed as kept (never disabled),
 * and one whose key the file now declares as taken over by the next start.
 * The rows are written as the Management API writes them (its store
 * methods), on the database a real start created.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MACHINE_APP_SETTINGS } from '../helpers/catalog-rows.js';
import { hasStackTrace, outputSection, runCli, writeYamlConfig, type ProcessResult } from '../helpers/cli-process.js';
import { sqliteStores } from '../helpers/migrated-stores.js';
import { startTestServer, type TenantInput } from '../helpers/server.js';

const API = 'https://api.cli.test';
const CREATED_API = 'https://created.cli.test';
const TENANT: TenantInput = {
  name: 'acme',
  connections: [{ name: 'db', type: 'database' }],
  apis: [{ identifier: API, scopes: ['read:x'] }],
  applications: [{ client_id: 'cli-web', client_secret: 'cli-web-secret-0123456789', grant_types: ['password'] }],
};
const SETTINGS = MACHINE_APP_SETTINGS;

describe('latchkey config check: what the Management API created', () => {
  let dir: string;
  let database: string;

  const check = (tenant: TenantInput, name: string): Promise<ProcessResult> =>
    runCli(['config', 'check', '--config', writeYamlConfig(dir, { database: `sqlite:${database}`, tenants: [tenant] }, name)]);
  const section = outputSection;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-config-check-api-'));
    database = join(dir, 'latchkey.db');
    const server = await startTestServer({ dir, tenants: [TENANT] });
    const tenantId = server.server.runtime.catalog.tenant('acme')?.id ?? '';
    await server.close();
    const opened = await sqliteStores(database);
    try {
      const { catalog } = opened.stores;
      await catalog.createApplication(tenantId, {
        clientId: 'api-worker',
        clientSecretHash: 'hmac-sha256:x',
        settings: SETTINGS,
        profile: {},
      });
      await catalog.createApplication(tenantId, {
        clientId: 'api-adopted',
        clientSecretHash: 'hmac-sha256:y',
        settings: SETTINGS,
        profile: {},
      });
      await catalog.createApi(
        tenantId,
        { identifier: CREATED_API, scopes: [], token_lifetime: 60, allow_offline_access: false, signing_alg: 'RS256' },
        {},
      );
      await catalog.createClientGrant(tenantId, { clientId: 'api-worker', audience: API, scope: ['read:x'] });
    } finally {
      await opened.close();
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lists the API-created objects as kept, and disables none of them', async () => {
    const result = await check(TENANT, 'same.yaml');
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.ok(!hasStackTrace(result.stdout + result.stderr));
    assert.match(result.stdout, /next start disables nothing/);
    assert.deepEqual(section(result.stdout, 'created through the Management API'), [
      `acme: API "${CREATED_API}"`,
      'acme: application "api-adopted"',
      'acme: application "api-worker"',
      `acme: client grant "api-worker" → "${API}"`,
    ]);
    assert.deepEqual(section(result.stdout, 'next start takes over'), []);
  });

  it('an API-created client_id the file now declares is listed as taken over by the next start', async () => {
    const result = await check(
      {
        ...TENANT,
        applications: [
          ...(TENANT.applications ?? []),
          { client_id: 'api-adopted', client_secret: 'adopted-secret-0123456789', grant_types: ['client_credentials'] },
        ],
        client_grants: [{ client_id: 'api-adopted', audience: API, scope: [] }],
      },
      'adopting.yaml',
    );
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.deepEqual(section(result.stdout, 'next start takes over'), ['acme: application "api-adopted"']);
    assert.ok(!section(result.stdout, 'created through the Management API').includes('acme: application "api-adopted"'));
  });
});
