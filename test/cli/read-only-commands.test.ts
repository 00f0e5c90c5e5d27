/**
 * The admin commands that only read (`latchkey logs`, `latchkey users mfa
 * list`, and since issue #15 `users list|show` and `apps list|show`) open the
 * database alone and never migrate or write it (issue #12 point 3), run as
 * real processes:
 *
 * - no database yet: one line that says so and names `latchkey serve`, and
 *   no database file is created;
 * - a database that a start has not brought to this version: one line
 *   naming the pending migration and `latchkey serve`; the file is unchanged;
 * - on a ready database they need no master key: none is read and none is
 *   generated (they used to generate one, then refuse to run because it did
 *   not open the signing keys).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MASTER_KEY_FILE } from '../../src/crypto/master-key.js';
import { hasStackTrace, runCli, writeYamlConfig, type ProcessResult } from '../helpers/cli-process.js';
import { TEST_MASTER_KEY, type TenantInput } from '../helpers/server.js';

const TENANT: TenantInput = {
  name: 'acme',
  connections: [{ name: 'Username-Password-Authentication', type: 'database' }],
  apis: [{ identifier: 'https://api.read-only.test', scopes: ['read:x'] }],
  applications: [{ client_id: 'ro-web', client_secret: 'ro-web-secret-0123456789', grant_types: ['password'] }],
};
const ALICE = { username: 'alice@read-only.test', password: 'alice read-only password' };
/** Every command that only reads. */
const READ_ONLY = [
  ['logs'],
  ['users', 'mfa', 'list', ALICE.username],
  ['users', 'list'],
  ['users', 'show', ALICE.username],
  ['apps', 'list'],
  ['apps', 'show', 'ro-web'],
];

function fileHash(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describe('read-only admin commands neither migrate nor write', () => {
  let dir: string;

  /** A command against a config file naming `database`; LATCHKEY_MASTER_KEY only when `withKey`. */
  function run(
    args: string[],
    database: string,
    name: string,
    options: { withKey?: boolean; input?: string } = {},
  ): Promise<ProcessResult> {
    const configFile = writeYamlConfig(
      dir,
      { public_url: 'http://127.0.0.1:3999', database: `sqlite:${database}`, log_level: 'warn', tenants: [TENANT] },
      name,
    );
    return runCli([...args, '--config', configFile], {
      env: options.withKey ? { LATCHKEY_MASTER_KEY: TEST_MASTER_KEY } : {},
      ...(options.input === undefined ? {} : { input: options.input }),
    });
  }

  /** Exit 1 with exactly one line on stderr, matching every pattern, and no stack trace. */
  function assertOneLine(result: ProcessResult, patterns: RegExp[], what: string): void {
    assert.equal(result.code, 1, `${what}: exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, `${what}: one line on stderr, got:\n${result.stderr}`);
    for (const pattern of patterns) assert.match(result.stderr, pattern, what);
    assert.ok(!hasStackTrace(result.stderr + result.stdout), `${what}: stack trace\n${result.stderr}`);
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-read-only-'));
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('no database yet: one line naming latchkey serve, and no database is created', async () => {
    const missing = join(dir, 'not-yet', 'latchkey.db');
    const results = await Promise.all(READ_ONLY.map((args, i) => run(args, missing, `missing-${i}.yaml`)));
    for (const [i, result] of results.entries()) {
      const what = READ_ONLY[i]?.join(' ') ?? '';
      assertOneLine(result, [/^latchkey: the database sqlite:\S+ does not exist yet/, /latchkey serve/], what);
    }
    assert.ok(!existsSync(missing), 'no database file was created');
    assert.ok(!existsSync(join(dir, 'not-yet', MASTER_KEY_FILE)), 'no master key was generated');
  });

  it('a database not migrated to this version: one line naming the migration and latchkey serve; the file is unchanged', async () => {
    const current = join(dir, 'current.db');
    const added = await run(['users', 'add', '--username', ALICE.username, '--password-stdin'], current, 'current.yaml', {
      withKey: true,
      input: `${ALICE.password}\n`,
    });
    assert.equal(added.code, 0, `users add (a command that writes migrates): ${added.stderr}`);

    const old = join(dir, 'old.db');
    copyFileSync(current, old);
    const db = new Database(old);
    db.prepare("DELETE FROM kysely_migration WHERE name = '008-user-blocked-at'").run();
    db.close();
    const before = fileHash(old);
    const results = await Promise.all(READ_ONLY.map((args, i) => run(args, old, `old-${i}.yaml`, { withKey: true })));
    for (const [i, result] of results.entries()) {
      const what = READ_ONLY[i]?.join(' ') ?? '';
      assertOneLine(result, [/not migrated to this version/, /008-user-blocked-at/, /latchkey serve/], what);
    }
    assert.equal(fileHash(old), before, 'the database was neither migrated nor written');
    const migrations = new Database(old, { readonly: true });
    try {
      const row = migrations.prepare("SELECT name FROM kysely_migration WHERE name = '008-user-blocked-at'").get();
      assert.equal(row, undefined, 'migration 008 is still pending');
    } finally {
      migrations.close();
    }
  });

  it('on a ready database they run without a master key, and generate none', async () => {
    const current = join(dir, 'current.db');
    const [logs, mfaList] = await Promise.all([
      run(['logs', '--json'], current, 'keyless-logs.yaml'),
      run(['users', 'mfa', 'list', ALICE.username], current, 'keyless-mfa.yaml'),
    ]);
    assert.equal(logs.code, 0, `logs: ${logs.stderr}`);
    assert.equal(mfaList.code, 0, `users mfa list: ${mfaList.stderr}`);
    assert.match(mfaList.stdout, /^alice@read-only\.test has no authenticators$/m);
    const before = fileHash(current);
    const results = await Promise.all(READ_ONLY.map((args, i) => run(args, current, `keyless-${i}.yaml`)));
    for (const [i, result] of results.entries()) assert.equal(result.code, 0, `${READ_ONLY[i]?.join(' ')}: ${result.stderr}`);
    assert.equal(fileHash(current), before, 'the read-only commands did not write the database');
    assert.ok(!existsSync(join(dir, MASTER_KEY_FILE)), 'no master key file was generated beside the database');
  });
});
