/**
 * Issue #6 §6 (docs/deploy.md): every node needs the same master key. A node
 * started with another key on the same database stops at once with the
 * reason, instead of failing every token request later.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MasterKeyError } from '../../src/crypto/master-key.js';
import { acmeFixture } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';

describe('issue #6: the shared master key', () => {
  it('a node with another master key than the one that sealed the database refuses to start, naming LATCHKEY_MASTER_KEY', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-master-key-'));
    try {
      const { tenant } = await acmeFixture();
      const first = await startTestServer({ tenants: [tenant], dir, masterKey: randomBytes(32).toString('base64') });
      await first.close();
      await assert.rejects(startTestServer({ tenants: [tenant], dir, masterKey: randomBytes(32).toString('base64') }), (err: unknown) => {
        assert.ok(err instanceof MasterKeyError, String(err));
        assert.match(err.message, /another master key/);
        assert.match(err.message, /LATCHKEY_MASTER_KEY/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
