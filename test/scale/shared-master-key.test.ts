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
import { acmeFixture, ALICE, API, REUSE } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';
import { passwordTokens, refresh } from '../helpers/token-requests.js';

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

  it('regression: the refused node writes nothing first; an application its file no longer declares keeps its refresh tokens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-master-key-'));
    const masterKey = randomBytes(32).toString('base64');
    try {
      const { tenant } = await acmeFixture();
      const first = await startTestServer({ tenants: [tenant], dir, masterKey });
      const issued = await passwordTokens(first, REUSE, ALICE, { audience: API, scope: 'offline_access' });
      const refreshToken = issued.body.refresh_token as string;
      await first.close();

      // Another key and a file without that application: this start used to disable it (revoking its refresh tokens), then stop.
      const withoutReuse = { ...tenant, applications: (tenant.applications ?? []).filter((app) => app.client_id !== REUSE.client_id) };
      const otherKey = randomBytes(32).toString('base64');
      await assert.rejects(startTestServer({ tenants: [withoutReuse], dir, masterKey: otherKey }), MasterKeyError);

      const again = await startTestServer({ tenants: [tenant], dir, masterKey });
      try {
        const refreshed = await refresh(again, REUSE, refreshToken);
        assert.equal(refreshed.status, 200, refreshed.text);
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
