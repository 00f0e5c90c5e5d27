/**
 * The browser session (DESIGN.md §7): a server-side record per sign-in, the
 * cookie holding only a random 256-bit id whose SHA-256 is stored. A new id
 * at every sign-in (no fixation, OWASP Session Management); idle and
 * absolute lifetimes per tenant (`browser_session`); and the user's own rule
 * on every use: a block, a password change or a removed connection since the
 * sign-in ends the session, as it ends refresh tokens (oauth/sessions.ts).
 */
import type { Clock } from '../../clock.js';
import { randomToken, sha256Base64Url } from '../../crypto/secrets.js';
import { DEFAULT_BROWSER_SESSION } from '../../config/schema.js';
import type { Tenant } from '../../domain/tenant.js';
import type { BrowserSessionRecord, BrowserSessionStore } from '../../storage/browser-stores.js';
import type { UserRecord, UserStore } from '../../storage/stores.js';
import { sessionRefusalAt } from '../sessions.js';

/** The cookie's name; its path is the tenant's (`/T/`), so tenants never see each other's. */
export const SESSION_COOKIE = 'latchkey_session';

/** The idle expiry is moved forward at most this often: a session used on every page needs no write on every page. */
const TOUCH_GRANULARITY_MS = 60_000;

export interface ActiveSession {
  /** The cookie's value, to end the session by. */
  id: string;
  record: BrowserSessionRecord;
  user: UserRecord;
}

export interface BrowserSessionsDeps {
  store: BrowserSessionStore;
  users: Pick<UserStore, 'findById'>;
  clock: Clock;
}

export class BrowserSessions {
  constructor(private readonly deps: BrowserSessionsDeps) {}

  /** A new session for a sign-in that just completed; the returned id goes into the cookie. */
  async start(tenant: Tenant, user: UserRecord, signIn: { authTime: Date; amr: string[] }): Promise<ActiveSession> {
    const lifetimes = tenant.settings.browser_session ?? DEFAULT_BROWSER_SESSION;
    const now = this.deps.clock.now();
    const id = randomToken(32);
    const expiresAt = new Date(now.getTime() + lifetimes.absolute_lifetime * 1000);
    const record: BrowserSessionRecord = {
      idHash: sha256Base64Url(id),
      tenantId: tenant.id,
      userId: user.id,
      authTime: signIn.authTime,
      amr: signIn.amr,
      createdAt: now,
      idleExpiresAt: earlier(new Date(now.getTime() + lifetimes.idle_lifetime * 1000), expiresAt),
      expiresAt,
    };
    await this.deps.store.create(record);
    return { id, record, user };
  }

  /** The session the cookie names, when it is of this tenant, alive, and its user may still be signed in. */
  async current(tenant: Tenant, cookie: string | undefined): Promise<ActiveSession | undefined> {
    if (cookie === undefined || cookie.length === 0 || cookie.length > 128) return undefined;
    const now = this.deps.clock.now();
    const idHash = sha256Base64Url(cookie);
    const record = await this.deps.store.find(tenant.id, idHash, now);
    if (!record) return undefined;
    const user = await this.deps.users.findById(tenant.id, record.userId);
    if (!user || sessionRefusalAt(tenant, user, record.authTime) !== undefined) {
      await this.deps.store.delete(idHash);
      return undefined;
    }
    const lifetimes = tenant.settings.browser_session ?? DEFAULT_BROWSER_SESSION;
    const idleExpiresAt = earlier(new Date(now.getTime() + lifetimes.idle_lifetime * 1000), record.expiresAt);
    if (idleExpiresAt.getTime() - record.idleExpiresAt.getTime() >= TOUCH_GRANULARITY_MS) {
      await this.deps.store.touch(idHash, idleExpiresAt);
      record.idleExpiresAt = idleExpiresAt;
    }
    return { id: cookie, record, user };
  }

  async end(cookie: string | undefined): Promise<void> {
    if (cookie === undefined || cookie.length === 0 || cookie.length > 128) return;
    await this.deps.store.delete(sha256Base64Url(cookie));
  }
}

/**
 * The session's public id (`sid` in id_tokens): a hash of the stored hash, so
 * it names the session without being the cookie or the database key.
 */
export function sessionIdOf(record: Pick<BrowserSessionRecord, 'idHash'>): string {
  return sha256Base64Url(`sid:${record.idHash}`);
}

const earlier = (a: Date, b: Date): Date => (a < b ? a : b);
