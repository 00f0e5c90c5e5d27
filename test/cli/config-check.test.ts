/**
 * `latchkey config check` (DESIGN.md §2, §9; issue #11 points 8 and 9),
 * run as a real process, as an operator runs it before restarting:
 *
 * - it lists what the next start would disable (declared at the last start,
 *   no longer in the file), serve again, and what stays disabled, reading
 *   the database without migrating or writing it;
 * - it says in one line when the database does not exist yet, or predates
 *   the migration that records what the file declared;
 * - it warns about applications with client_credentials and no client grant.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { hasStackTrace, outputSection, runCli, writeYamlConfig, type ProcessResult } from '../helpers/cli-process.js';
import { startTestServer, type TenantInput } from '../helpers/server.js';

const API = 'https://api.cli.test';
const LEAVING_API = 'https://leaving.cli.test';
const WEB = { client_id: 'cli-web', client_secret: 'cli-web-secret-0123456789' };
const SERVICE = { client_id: 'cli-service', client_secret: 'cli-service-secret-000000' };
const LEAVING = { client_id: 'cli-leaving', client_secret: 'cli-leaving-secret-000000' };
const UNGRANTED = { client_id: 'cli-ungranted', client_secret: 'cli-ungranted-secret-0000' };

/** What the file declared at the last start. */
const FULL: TenantInput = {
  name: 'acme',
  default_directory: 'Username-Password-Authentication',
  connections: [
    { name: 'Username-Password-Authentication', type: 'database' },
    { name: 'partners', type: 'database' },
  ],
  apis: [
    { identifier: API, scopes: ['read:x'] },
    { identifier: LEAVING_API, scopes: ['read:l'] },
  ],
  applications: [
    { ...WEB, grant_types: ['password', 'refresh_token'] },
    { ...SERVICE, grant_types: ['client_credentials'] },
    { ...LEAVING, grant_types: ['password', 'client_credentials'] },
  ],
  client_grants: [
    { client_id: SERVICE.client_id, audience: API, scope: ['read:x'] },
    { client_id: SERVICE.client_id, audience: LEAVING_API, scope: ['read:l'] },
    { client_id: LEAVING.client_id, audience: API, scope: [] },
  ],
  users: [{ connection: 'partners', username: 'pat@partners.test', password: 'partner password 1' }],
};
const GLOBEX: TenantInput = { name: 'globex', apis: [{ identifier: 'https://api.globex.test' }] };

/** The edited file: without the partners connection, the leaving API and application, and globex; a new application lacks a client grant. */
const SMALLER: TenantInput = {
  ...FULL,
  connections: [{ name: 'Username-Password-Authentication', type: 'database' }],
  apis: [{ identifier: API, scopes: ['read:x'] }],
  applications: [
    { ...WEB, grant_types: ['password', 'refresh_token'] },
    { ...SERVICE, grant_types: ['client_credentials'] },
    { ...UNGRANTED, grant_types: ['client_credentials'] },
  ],
  client_grants: [{ client_id: SERVICE.client_id, audience: API, scope: ['read:x'] }],
  users: [],
};

describe('latchkey config check: what the next start would change', () => {
  let dir: string;
  let database: string;
  let smallerFile: string;

  const check = (file: string): Promise<ProcessResult> => runCli(['config', 'check', '--config', file]);
  const fileHash = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
  function assertOk(result: ProcessResult, what: string): void {
    assert.equal(result.code, 0, `${what}: exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
    assert.ok(!hasStackTrace(result.stdout + result.stderr), `${what}: stack trace\n${result.stderr}`);
  }
  const section = outputSection;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-config-check-'));
    database = join(dir, 'latchkey.db');
    const server = await startTestServer({ dir, tenants: [FULL, GLOBEX] });
    await server.close();
    smallerFile = writeYamlConfig(
      dir,
      { public_url: 'http://127.0.0.1:3999', database: `sqlite:${database}`, tenants: [SMALLER] },
      'smaller.yaml',
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('regression (issue #11 point 9): config check lists every application, API, client grant, connection and tenant the next start would disable, without writing to the database', async () => {
    const before = fileHash(database);
    const result = await check(smallerFile);
    assertOk(result, 'config check');
    assert.match(result.stdout, /valid/);
    // Tenant by tenant; within one, connections, APIs, applications, client grants.
    assert.deepEqual(section(result.stdout, 'next start disables'), [
      'acme: connection "partners" (1 users): its users cannot sign in or refresh; their data is kept',
      `acme: API "${LEAVING_API}": token requests and refreshes for it are refused (invalid_target / invalid_grant)`,
      `acme: application "${LEAVING.client_id}": it gets 401 invalid_client and its tokens are refused; its refresh tokens are revoked for good`,
      `acme: client grant "${LEAVING.client_id}" → "${API}": client_credentials for that API is refused (403 access_denied)`,
      `acme: client grant "${SERVICE.client_id}" → "${LEAVING_API}": client_credentials for that API is refused (403 access_denied)`,
      'globex: tenant "globex": its endpoints answer 404; its data is kept',
      'globex: connection "Username-Password-Authentication" (0 users): its users cannot sign in or refresh; their data is kept',
      'globex: API "https://api.globex.test": token requests and refreshes for it are refused (invalid_target / invalid_grant)',
    ]);
    assert.equal(fileHash(database), before, 'the database file is unchanged');

    // The start does what the check said; a second check finds nothing more to disable and lists what stays disabled.
    const server = await startTestServer({ dir, tenants: [SMALLER] });
    await server.close();
    const again = await check(smallerFile);
    assertOk(again, 'config check after the start');
    assert.match(again.stdout, /next start disables nothing/);
    assert.equal(section(again.stdout, 'stays disabled').length, 8, again.stdout);
    assert.ok(section(again.stdout, 'stays disabled').includes('acme: connection "partners" (1 users)'), again.stdout);

    // Declaring one again is listed as served again.
    const restoring = writeYamlConfig(
      dir,
      {
        database: `sqlite:${database}`,
        tenants: [{ ...SMALLER, apis: [...(SMALLER.apis ?? []), { identifier: LEAVING_API, scopes: ['read:l'] }] }],
      },
      'restoring.yaml',
    );
    const restored = await check(restoring);
    assertOk(restored, 'config check declaring an API again');
    assert.deepEqual(section(restored.stdout, 'next start serves again'), [`acme: API "${LEAVING_API}"`]);
  });

  it('regression (issue #11 point 8): config check warns about an application with client_credentials and no client grant, naming its key path', async () => {
    const result = await check(smallerFile);
    assertOk(result, 'config check');
    const warnings = result.stdout.split('\n').filter((l) => l.trim().startsWith('warning:'));
    assert.equal(warnings.length, 1, result.stdout);
    assert.match(
      warnings[0] ?? '',
      /warning: tenants\[0\]\.applications\[2\]: application cli-ungranted has the client_credentials grant but no client grant/,
    );
    assert.match(warnings[0] ?? '', /tenants\[0\]\.client_grants/);
  });

  it('a database that does not exist yet, or predates migration 007: one line, and nothing is created or migrated', async () => {
    const missing = join(dir, 'not-yet', 'latchkey.db');
    const fresh = await check(writeYamlConfig(dir, { database: `sqlite:${missing}`, tenants: [SMALLER] }, 'fresh.yaml'));
    assertOk(fresh, 'no database yet');
    assert.equal(fresh.stdout.split('\n').filter((l) => l.includes('database does not exist yet')).length, 1, fresh.stdout);
    assert.ok(!existsSync(missing), 'config check created no database');

    const old = join(dir, 'old.db');
    copyFileSync(database, old);
    const db = new Database(old);
    db.prepare("DELETE FROM kysely_migration WHERE name = '007-catalog-authority'").run();
    db.close();
    const before = fileHash(old);
    const result = await check(writeYamlConfig(dir, { database: `sqlite:${old}`, tenants: [SMALLER] }, 'old.yaml'));
    assertOk(result, 'a database before migration 007');
    assert.equal(result.stdout.split('\n').filter((l) => l.includes('predates migration 007')).length, 1, result.stdout);
    assert.ok(!/next start disables/.test(result.stdout), result.stdout);
    assert.equal(fileHash(old), before, 'not migrated');
  });
});
