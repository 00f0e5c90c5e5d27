/**
 * Issue #4 §6: TOTP secrets are encrypted at rest and recovery codes stored
 * hashed. The test enrolls through the HTTP API, then reads the server's own
 * SQLite file: neither the secret nor the recovery code appears anywhere in
 * it, in any encoding the API returned them in.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { ALICE, WEB, acmeFixture } from '../helpers/fixtures.js';
import { MFA_GRANTS, enrollOtp, mfaRequired, otpGrant, totpCode } from '../helpers/mfa-otp.js';
import { startTestServer } from '../helpers/server.js';

describe('issue #4: second-factor secrets at rest', () => {
  it('the TOTP secret is sealed and the recovery code hashed in the database file', async () => {
    const { tenant } = await acmeFixture();
    const server = await startTestServer({
      tenants: [
        {
          ...tenant,
          mfa: 'always',
          applications: tenant.applications!.map((a) =>
            a.client_id === WEB.client_id ? { ...a, grant_types: ['password', 'refresh_token', ...MFA_GRANTS] } : a,
          ),
        },
      ],
    });
    try {
      const mfaToken = await mfaRequired(server, WEB, ALICE, { enrollment: true });
      const { secret, recoveryCode } = await enrollOtp(server, WEB, mfaToken);
      assert.equal((await otpGrant(server, WEB, mfaToken, totpCode(server, secret))).status, 200);

      const path = join(server.dir, 'latchkey.db');
      const db = new SqliteDatabase(path, { readonly: true });
      const rows = db.prepare('select * from mfa_authenticators').all() as Array<Record<string, unknown>>;
      const codes = db.prepare('select * from mfa_recovery_codes').all() as Array<Record<string, unknown>>;
      db.close();
      assert.equal(rows.length, 1);
      assert.match(String(rows[0]?.secret_sealed), /^v1\./, 'sealed with the at-rest format');
      assert.equal(codes.length, 1);

      // Every byte of the file and its write-ahead log: no trace of either value.
      const bytes = Buffer.concat([
        readFileSync(path),
        ...['-wal'].map((suffix) => {
          try {
            return readFileSync(path + suffix);
          } catch {
            return Buffer.alloc(0);
          }
        }),
      ]).toString('latin1');
      for (const [what, value] of [
        ['TOTP secret', secret],
        ['recovery code', recoveryCode],
      ] as const) {
        assert.ok(!bytes.includes(value), `${what} stored in clear`);
        assert.ok(!bytes.includes(value.toLowerCase()), `${what} stored in clear (lower case)`);
        assert.ok(!bytes.includes(Buffer.from(value).toString('base64')), `${what} stored as base64`);
      }
    } finally {
      await server.close();
    }
  });
});
