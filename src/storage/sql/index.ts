import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { Stores } from '../stores.js';
import { SqlAccountTicketStore } from './account-ticket-store.js';
import { SqlAuthorizationCodeStore } from './authorization-code-store.js';
import { SqlBrowserSessionStore } from './browser-session-store.js';
import { SqlCatalogStore } from './catalog-store.js';
import { SqlAccessTokenDenylist, SqlSingleUseKeyStore } from './denylist-stores.js';
import { SqlDeviceCodeStore } from './device-code-store.js';
import { SqlImportJobStore } from './import-job-store.js';
import { SqlMfaStore } from './mfa-store.js';
import { SqlRefreshTokenStore } from './refresh-token-store.js';
import { SqlAttackLockStore, SqlSecurityEventStore } from './security-stores.js';
import { SqlSigningKeyStore } from './signing-key-store.js';
import { toIso } from './time.js';
import { SqlUserStore } from './user-store.js';

/**
 * Spent and expired authorization and device codes are kept this long past their expiry: a code replayed meanwhile
 * still revokes what it issued (RFC 6749 §4.1.2), a device polling late still hears expired_token. After the purge a
 * replay finds no code, which its caller refuses as well.
 */
const EXPIRED_CODE_RETENTION_MS = 24 * 3600 * 1000;
/** A finished user-import job stays readable (`GET /jobs/{id}`, its errors) this long after its last update. */
const FINISHED_IMPORT_JOB_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** The one SQL implementation of every store, for SQLite and PostgreSQL alike. */
export function createSqlStores(db: Kysely<Database>): Stores {
  const importJobs = new SqlImportJobStore(db);
  return {
    catalog: new SqlCatalogStore(db),
    users: new SqlUserStore(db),
    signingKeys: new SqlSigningKeyStore(db),
    refreshTokens: new SqlRefreshTokenStore(db),
    accessTokenDenylist: new SqlAccessTokenDenylist(db),
    singleUseKeys: new SqlSingleUseKeyStore(db),
    securityEvents: new SqlSecurityEventStore(db),
    attackLocks: new SqlAttackLockStore(db),
    mfa: new SqlMfaStore(db),
    authorizationCodes: new SqlAuthorizationCodeStore(db),
    browserSessions: new SqlBrowserSessionStore(db),
    deviceCodes: new SqlDeviceCodeStore(db),
    accountTickets: new SqlAccountTicketStore(db),
    importJobs,
    health: {
      async ping() {
        await sql`select 1`.execute(db);
      },
    },
    async purgeExpired(now: Date) {
      const cutoff = toIso(now);
      await db.deleteFrom('consumed_jtis').where('expires_at', '<=', cutoff).execute();
      await db.deleteFrom('revoked_access_tokens').where('expires_at', '<=', cutoff).execute();
      await db.deleteFrom('refresh_token_families').where('family_expires_at', '<=', cutoff).execute();
      await db.deleteFrom('signing_keys').where('publish_until', '<=', cutoff).execute();
      await db.deleteFrom('attack_locks').where('expires_at', '<=', cutoff).execute();
      await db.deleteFrom('mfa_pending_enrolments').where('expires_at', '<=', cutoff).execute();
      await db.deleteFrom('attack_counters').where('expires_at_ms', '<=', now.getTime()).execute();
      const codeCutoff = toIso(new Date(now.getTime() - EXPIRED_CODE_RETENTION_MS));
      await db.deleteFrom('authorization_codes').where('expires_at', '<=', codeCutoff).execute();
      await db.deleteFrom('device_codes').where('expires_at', '<=', codeCutoff).execute();
      await db.deleteFrom('account_tickets').where('expires_at', '<=', codeCutoff).execute();
      await importJobs.deleteFinishedBefore(new Date(now.getTime() - FINISHED_IMPORT_JOB_RETENTION_MS));
      await db
        .deleteFrom('browser_sessions')
        .where((eb) => eb.or([eb('expires_at', '<=', cutoff), eb('idle_expires_at', '<=', cutoff)]))
        .execute();
    },
    async close() {
      await db.destroy();
    },
  };
}
