/**
 * Files at rest (issue #11 point 12): a fresh start creates the data
 * directory 0700 and the SQLite database, its WAL and shared-memory files
 * 0600 (owner only, like the master key), whatever the umask; a start on
 * files another account could read leaves them as they are and warns with
 * the exact command that fixes them.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { API, WEB, acmeFixture } from '../helpers/fixtures.js';
import { postForm } from '../helpers/http.js';
import { startTestServer } from '../helpers/server.js';

const modeOf = (path: string) => `0${(statSync(path).mode & 0o777).toString(8)}`;

describe('files at rest (issue #11 point 12)', () => {
  const root = mkdtempSync(join(tmpdir(), 'latchkey-at-rest-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('regression (issue #11 point 12): a fresh start creates the data directory 0700 and the database, WAL and SHM 0600', async () => {
    const dir = join(root, 'fresh', 'data');
    // A permissive umask must not loosen them either.
    const tenant = (await acmeFixture()).tenant;
    const umask = process.umask(0o002);
    const server = await startTestServer({ tenants: [tenant], dir }).finally(() => process.umask(umask));
    try {
      // A write, so the WAL holds something.
      assert.equal((await postForm(server.at('/oauth/token'), { grant_type: 'client_credentials', audience: API, ...WEB })).status, 200);
      const db = join(dir, 'latchkey.db');
      assert.equal(modeOf(dir), '0700', 'data directory');
      assert.equal(modeOf(join(root, 'fresh')), '0700', 'a parent directory created with it');
      for (const file of [db, `${db}-wal`, `${db}-shm`]) {
        assert.ok(existsSync(file), file);
        assert.equal(modeOf(file), '0600', file);
      }
      assert.ok(!server.logs.some((l) => l.includes('chmod')), 'nothing to warn about');
    } finally {
      await server.close();
    }
  });

  it('regression (issue #11 point 12): a start on a 0644 database in a 0755 directory warns with the command that fixes them', async () => {
    const dir = join(root, 'loose');
    const first = await startTestServer({ tenants: [(await acmeFixture()).tenant], dir });
    await first.close();
    const db = join(dir, 'latchkey.db');
    chmodSync(dir, 0o755);
    for (const file of [db, `${db}-wal`, `${db}-shm`]) if (existsSync(file)) chmodSync(file, 0o644);

    const server = await startTestServer({ tenants: [(await acmeFixture()).tenant], dir });
    try {
      const warnings = server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => typeof l.fix === 'string');
      assert.equal(warnings.length, 1, server.logs.join('\n'));
      const warning = warnings[0] ?? {};
      assert.equal(warning.level, 'warn', 'a warning');
      const files = [db, `${db}-wal`, `${db}-shm`].filter((f) => existsSync(f));
      const command = `chmod 700 ${dir}; chmod 600 ${files.join(' ')}`;
      assert.equal(warning.fix, command);
      assert.ok(String(warning.msg).endsWith(command), String(warning.msg));
      // Existing modes are the operator's: reported, not changed.
      assert.equal(modeOf(db), '0644');
    } finally {
      await server.close();
    }
  });
});
