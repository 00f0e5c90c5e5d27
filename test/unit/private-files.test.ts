/**
 * Owner-only files at rest (issue #11 point 12): what counts as loose, and
 * a fix command that works when pasted, whatever the path holds.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createPrivateFile, loosePermissions, makePrivateDirectory, shellQuote } from '../../src/storage/private-files.js';

describe('private files', () => {
  const root = mkdtempSync(join(tmpdir(), 'latchkey-private-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('shellQuote leaves plain paths bare and single-quotes the rest, quotes included', () => {
    assert.equal(shellQuote('/var/lib/latchkey/data/latchkey.db'), '/var/lib/latchkey/data/latchkey.db');
    assert.equal(shellQuote('/srv/my data/latchkey.db'), `'/srv/my data/latchkey.db'`);
    assert.equal(shellQuote(`/srv/it's; rm -rf ~`), `'/srv/it'\\''s; rm -rf ~'`);
  });

  it('any group or other bit is loose; missing files are skipped; the fix names only what is loose', () => {
    const dir = join(root, 'check');
    mkdirSync(dir, { mode: 0o700 });
    chmodSync(dir, 0o700);
    const db = join(dir, 'a.db');
    const wal = join(dir, 'a.db-wal');
    writeFileSync(db, '');
    writeFileSync(wal, '');
    chmodSync(db, 0o600);
    chmodSync(wal, 0o640);
    assert.deepEqual(loosePermissions(dir, [db, wal, join(dir, 'a.db-shm')]), {
      paths: [{ path: wal, mode: '0640' }],
      fix: `chmod 600 ${wal}`,
    });
    chmodSync(wal, 0o600);
    assert.equal(loosePermissions(dir, [db, wal]), undefined);
    chmodSync(dir, 0o711);
    assert.equal(loosePermissions(dir, [db, wal])?.fix, `chmod 700 ${dir}`);
  });

  it('makePrivateDirectory makes every directory it creates 0700 and leaves existing ones alone; createPrivateFile never re-modes', () => {
    const existing = join(root, 'existing');
    mkdirSync(existing);
    chmodSync(existing, 0o755);
    makePrivateDirectory(join(existing, 'a', 'b'));
    assert.equal(statSync(existing).mode & 0o777, 0o755);
    assert.equal(statSync(join(existing, 'a')).mode & 0o777, 0o700);
    assert.equal(statSync(join(existing, 'a', 'b')).mode & 0o777, 0o700);
    const file = join(existing, 'a', 'f');
    createPrivateFile(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    chmodSync(file, 0o644);
    createPrivateFile(file);
    assert.equal(statSync(file).mode & 0o777, 0o644, 'an existing file keeps its mode');
  });
});
