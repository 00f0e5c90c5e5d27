/**
 * DESIGN.md §9 "The file and the API": the catalog rows the Management API
 * writes (src/storage/sql/catalog-api-writes.ts), one suite on a fresh
 * SQLite file and on a scratch PostgreSQL database (skipped, with the reason
 * printed, without LATCHKEY_TEST_DATABASE_URL).
 *
 * What the API relies on: its rows are `managed_by_config` = 0, served by
 * load() and marked `createdThroughApi`; its updates and deletes never touch
 * a row the file declares (answering false), so a start that took a row over
 * wins whatever the API checked first; a key already held, by a served or a
 * disabled declared row, is a conflict; deleting an application or an API
 * takes the API-created client grants naming it along, never the file's;
 * config apply's upserts take an API row over; `listDeclared` (what a start
 * may disable) never lists an API row.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ApiConfig } from '../../src/config/schema.js';
import type { ApplicationSettings, Stores, TenantSettings } from '../../src/storage/stores.js';
import { MACHINE_APP_SETTINGS } from '../helpers/catalog-rows.js';
import { type MigratedStores, scratchPostgresStores, sqliteStores } from '../helpers/migrated-stores.js';
import { postgresSkip } from '../helpers/postgres.js';

const TENANT: TenantSettings = { id_token_signing_alg: 'RS256', id_token_lifetime: 3600 };
const SETTINGS: ApplicationSettings = { ...MACHINE_APP_SETTINGS, name: 'Machine' };
const ORDERS: ApiConfig = {
  identifier: 'https://orders.test/',
  scopes: ['read'],
  token_lifetime: 600,
  allow_offline_access: false,
  signing_alg: 'RS256',
};

function catalogApiWrites(open: () => Promise<MigratedStores>): void {
  let subject: MigratedStores;
  let stores: Stores;
  before(async () => {
    subject = await open();
    stores = subject.stores;
  });
  after(() => subject?.close());

  const newTenant = () => stores.catalog.upsertTenant(`t-${randomUUID()}`, TENANT);

  it('an application created through the API is served, marked createdThroughApi with its profile, and is not among the declared rows', async () => {
    const tenantId = await newTenant();
    assert.equal(
      await stores.catalog.createApplication(tenantId, {
        clientId: 'api-app',
        clientSecretHash: 'hmac-sha256:x',
        settings: SETTINGS,
        profile: { appType: 'non_interactive', description: 'CI' },
      }),
      true,
    );
    const app = (await stores.catalog.load()).applications.find((a) => a.tenantId === tenantId);
    assert.deepEqual(app && { ...app, id: undefined }, {
      id: undefined,
      tenantId,
      clientId: 'api-app',
      clientSecretHash: 'hmac-sha256:x',
      settings: SETTINGS,
      profile: { appType: 'non_interactive', description: 'CI' },
      createdThroughApi: true,
    });
    assert.ok(!(await stores.catalog.listDeclared()).some((r) => r.tenantId === tenantId && r.kind === 'application'));
    assert.ok((await stores.catalog.listCreatedThroughApi()).some((r) => r.tenantId === tenantId && r.key[0] === 'api-app'));
  });

  it('updates and deletes touch API rows only: a declared row answers false and stays as the file wrote it', async () => {
    const tenantId = await newTenant();
    await stores.catalog.upsertApplication(tenantId, 'file-app', 'file-hash', SETTINGS);
    assert.equal(
      await stores.catalog.updateApplication(tenantId, 'file-app', {
        settings: { ...SETTINGS, name: 'x' },
        profile: {},
        clientSecretHash: null,
      }),
      false,
    );
    assert.equal(await stores.catalog.deleteApplication(tenantId, 'file-app'), false);
    const fileApp = (await stores.catalog.load()).applications.find((a) => a.tenantId === tenantId);
    assert.equal(fileApp?.settings.name, 'Machine');
    assert.equal(fileApp?.clientSecretHash, 'file-hash');
    assert.equal(fileApp?.createdThroughApi, undefined);

    await stores.catalog.upsertApi(tenantId, ORDERS);
    const fileApi = (await stores.catalog.load()).apis.find((a) => a.tenantId === tenantId);
    assert.equal(await stores.catalog.updateApi(tenantId, fileApi?.id ?? '', { ...ORDERS, token_lifetime: 1 }, {}), false);
    assert.equal(await stores.catalog.deleteApi(tenantId, fileApi?.id ?? ''), false);
    const grantId = await stores.catalog.upsertClientGrant(tenantId, {
      clientId: 'file-app',
      audience: ORDERS.identifier,
      scope: ['read'],
    });
    assert.equal(await stores.catalog.updateClientGrant(tenantId, grantId, []), false);
    assert.equal(await stores.catalog.deleteClientGrant(tenantId, grantId), false);
    assert.deepEqual((await stores.catalog.load()).clientGrants.find((g) => g.id === grantId)?.scope, ['read']);
  });

  it('a key already held, by a served or a disabled declared row, is a conflict; another tenant may hold the same key', async () => {
    const tenantId = await newTenant();
    await stores.catalog.upsertApi(tenantId, ORDERS);
    assert.equal(await stores.catalog.createApi(tenantId, ORDERS, {}), undefined);
    const declared = (await stores.catalog.listDeclared()).filter((r) => r.tenantId === tenantId && r.kind === 'api');
    await stores.catalog.disable(declared, new Date());
    assert.equal(await stores.catalog.createApi(tenantId, ORDERS, {}), undefined, 'a disabled declared row keeps its identifier');
    assert.equal(typeof (await stores.catalog.createApi(await newTenant(), ORDERS, {})), 'string');

    const grant = { clientId: 'svc', audience: ORDERS.identifier, scope: ['read'] };
    assert.equal(typeof (await stores.catalog.createClientGrant(tenantId, grant)), 'string');
    assert.equal(await stores.catalog.createClientGrant(tenantId, grant), undefined);
    const app = { clientId: 'dup', clientSecretHash: null, settings: SETTINGS, profile: {} };
    assert.equal(await stores.catalog.createApplication(tenantId, app), true);
    assert.equal(await stores.catalog.createApplication(tenantId, app), false);
  });

  it("deleting an API-created application or API takes its API-created client grants along, never the file's", async () => {
    const tenantId = await newTenant();
    await stores.catalog.createApplication(tenantId, { clientId: 'doomed', clientSecretHash: null, settings: SETTINGS, profile: {} });
    const apiId = (await stores.catalog.createApi(tenantId, ORDERS, { name: 'Orders' })) ?? '';
    const viaApi = await stores.catalog.createClientGrant(tenantId, { clientId: 'doomed', audience: 'https://file.test/', scope: [] });
    const toApi = await stores.catalog.createClientGrant(tenantId, { clientId: 'other', audience: ORDERS.identifier, scope: [] });
    const declared = await stores.catalog.upsertClientGrant(tenantId, { clientId: 'file-app', audience: 'https://file.test/', scope: [] });

    assert.equal(await stores.catalog.deleteApplication(tenantId, 'doomed'), true);
    assert.equal(await stores.catalog.deleteApi(tenantId, apiId), true);
    const left = (await stores.catalog.load()).clientGrants.filter((g) => g.tenantId === tenantId).map((g) => g.id);
    assert.deepEqual(left, [declared]);
    assert.ok(!left.includes(viaApi ?? '') && !left.includes(toApi ?? ''));
    assert.equal(await stores.catalog.deleteApplication(tenantId, 'doomed'), false, 'gone');
  });

  it("config apply's upserts take an API row over: declared from then on, the file's settings and secret", async () => {
    const tenantId = await newTenant();
    await stores.catalog.createApplication(tenantId, {
      clientId: 'adopted',
      clientSecretHash: 'api-hash',
      settings: SETTINGS,
      profile: { appType: 'spa' },
    });
    const apiId = (await stores.catalog.createApi(tenantId, ORDERS, { name: 'Orders' })) ?? '';
    const grantId = await stores.catalog.createClientGrant(tenantId, { clientId: 'adopted', audience: ORDERS.identifier, scope: [] });

    await stores.catalog.upsertApplication(tenantId, 'adopted', 'file-hash', { ...SETTINGS, name: 'From the file' });
    await stores.catalog.upsertApi(tenantId, { ...ORDERS, token_lifetime: 60 });
    await stores.catalog.upsertClientGrant(tenantId, { clientId: 'adopted', audience: ORDERS.identifier, scope: ['read'] });

    const snapshot = await stores.catalog.load();
    const app = snapshot.applications.find((a) => a.tenantId === tenantId);
    assert.deepEqual(app && { ...app, id: undefined }, {
      id: undefined,
      tenantId,
      clientId: 'adopted',
      clientSecretHash: 'file-hash',
      settings: { ...SETTINGS, name: 'From the file' },
    });
    const api = snapshot.apis.find((a) => a.tenantId === tenantId);
    assert.deepEqual(api, { id: apiId, tenantId, settings: { ...ORDERS, token_lifetime: 60 } });
    assert.deepEqual(
      snapshot.clientGrants.find((g) => g.tenantId === tenantId),
      { id: grantId, tenantId, clientId: 'adopted', audience: ORDERS.identifier, scope: ['read'] },
    );
    assert.equal(await stores.catalog.updateApplication(tenantId, 'adopted', { settings: SETTINGS, profile: {} }), false);
    assert.deepEqual(
      (await stores.catalog.listCreatedThroughApi()).filter((r) => r.tenantId === tenantId),
      [],
    );
    assert.equal((await stores.catalog.listDeclared()).filter((r) => r.tenantId === tenantId).length, 4, 'tenant, application, API, grant');
  });
}

describe('catalog writes of the Management API: SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-catalog-api-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  catalogApiWrites(() => sqliteStores(join(dir, 'stores.db')));
});

describe('catalog writes of the Management API: PostgreSQL', {
  skip: postgresSkip('catalog writes of the Management API: PostgreSQL'),
}, () => {
  catalogApiWrites(scratchPostgresStores);
});
