/**
 * Issue #15 point 4: `latchkey users import` runs the Management API's row
 * code (identity/user-import.ts) and tells an operator what happened without
 * burying them: a progress bar on a terminal (none when stderr is a pipe), a
 * summary whose length does not grow with the file (a re-run of 300 users is
 * a handful of lines, not 300), unknown keys refused with their path, and
 * `--upsert` updating instead of refusing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { CLI_SOURCE, hasStackTrace, runCli, runProcess, TSX_LOADER, writeYamlConfig, type ProcessResult } from '../helpers/cli-process.js';
import { TEST_MASTER_KEY } from '../helpers/server.js';

const USERS = 300;

describe('latchkey users import: progress and summary', () => {
  let dir: string;
  let configFile: string;
  let usersFile: string;
  const env = { LATCHKEY_MASTER_KEY: TEST_MASTER_KEY };
  const importUsers = (file: string, ...flags: string[]): Promise<ProcessResult> =>
    runCli(['users', 'import', '--file', file, '--config', configFile, ...flags], { env });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-users-import-'));
    configFile = writeYamlConfig(dir, {
      public_url: 'http://127.0.0.1:3999',
      database: `sqlite:${join(dir, 'latchkey.db')}`,
      log_level: 'warn',
      tenants: [{ name: 'acme', connections: [{ name: 'db', type: 'database' }] }],
    });
    const hash = await bcryptHash('imported password', 4);
    const rows: unknown[] = Array.from({ length: USERS }, (_, i) => ({ email: `user-${i}@import.test`, password_hash: hash }));
    rows.splice(2, 0, { email: 'typo@import.test', custom_password_hash: { algorithm: 'bcrypt', hash: { valu: hash } } });
    usersFile = join(dir, 'users.json');
    writeFileSync(usersFile, JSON.stringify(rows));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('imports what is valid, refuses an unknown key with its path, exit 1; no progress bar when stderr is no terminal', async () => {
    const result = await importUsers(usersFile);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, new RegExp(`^imported ${USERS} of ${USERS + 1} users into acme/db\\n`));
    assert.match(
      result.stdout,
      /\[2\] typo@import\.test: unknown key \(not in Auth0's user-import schema\) at \[2\]\.custom_password_hash\.hash\.valu/,
    );
    assert.doesNotMatch(result.stderr, /importing \[/);
    assert.ok(!hasStackTrace(result.stdout + result.stderr));
  });

  it('a re-run prints a short summary, not one line per existing user', async () => {
    const result = await importUsers(usersFile);
    assert.equal(result.code, 1);
    const lines = result.stdout.trimEnd().split('\n');
    assert.ok(lines.length <= 10, `a few lines, got ${lines.length}:\n${result.stdout}`);
    assert.match(result.stdout, /^imported 0 of 301 users into acme\/db\nskipped 301:\n/);
    assert.match(result.stdout, /\[0\] user-0@import\.test: user already exists \(upsert is off\)\n/);
    assert.match(result.stdout, /… and 295 more that already exist \(run with --upsert to update them\)/);
    assert.match(result.stdout, /at \[2\]\.custom_password_hash\.hash\.valu/);
  });

  it('--upsert updates the users that exist', async () => {
    const result = await importUsers(usersFile, '--upsert');
    assert.match(result.stdout, new RegExp(`^imported ${USERS} of ${USERS + 1} users into acme/db \\(0 new, ${USERS} updated\\)`));
  });

  it('shows a progress bar on a terminal', {
    skip: process.platform === 'linux' ? undefined : 'script(1) as used here is util-linux',
  }, async () => {
    const file = join(dir, 'plain.json');
    writeFileSync(
      file,
      JSON.stringify(Array.from({ length: 8 }, (_, i) => ({ email: `tty-${i}@import.test`, password: 'a fine passphrase' }))),
    );
    const command = [process.execPath, '--import', TSX_LOADER, CLI_SOURCE, 'users', 'import', '--file', file, '--config', configFile]
      .map((arg) => `'${arg}'`)
      .join(' ');
    // script(1) gives the CLI a pseudo-terminal, as an operator's shell does.
    const result = await runProcess('script', ['-qec', command, '/dev/null'], { env });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /importing \[[^\]]*\] \d+\/8 users, \d+ failed/);
    assert.match(result.stdout, /imported 8 of 8 users into acme\/db/);
  });
});
