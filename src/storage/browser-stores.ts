/**
 * Storage contracts of the browser sign-in (DESIGN.md §7): authorization
 * codes, browser sessions and device codes. Every secret a browser or a
 * device holds (a code, a session id, a device_code) is stored only as its
 * SHA-256 (`*Hash`, base64url); the plain value never reaches the database.
 * State changes that decide who wins (a code redeemed, a device code
 * approved or redeemed) are single conditional statements, so exactly one of
 * concurrent callers succeeds, on any node.
 */

/** An authorization code (RFC 6749 §4.1.2): single use, short-lived, bound to what it was issued for. */
export interface AuthorizationCodeRecord {
  codeHash: string;
  tenantId: string;
  clientId: string;
  /** Exactly as the authorization request sent it: the token request must repeat it (RFC 6749 §4.1.3). */
  redirectUri: string;
  /** The S256 code_challenge (RFC 7636 §4.2). */
  codeChallenge: string;
  userId: string;
  /** The decided grant, serialised by the code grant (oauth/): scopes, API, auth_time, amr, nonce, hook claims. */
  grant: string;
  createdAt: Date;
  expiresAt: Date;
}

/** What a redemption planned to issue, recorded with it, so that a replay can revoke exactly that (RFC 6749 §4.1.2). */
export interface IssuedForCode {
  refreshFamilyId: string | null;
  accessTokenJti: string;
  accessTokenExpiresAt: Date;
}

export type CodeRedemption =
  /** This caller is the first: the code is now spent, with what it issues recorded. */
  | { kind: 'redeemed'; code: AuthorizationCodeRecord }
  /** Spent before: what the first redemption issued, to be revoked. */
  | { kind: 'replayed'; code: AuthorizationCodeRecord; issued: IssuedForCode }
  /** No such code (never issued, or purged after expiry). */
  | { kind: 'unknown' };

export interface AuthorizationCodeStore {
  create(code: AuthorizationCodeRecord): Promise<void>;
  /**
   * Spends the code in one conditional statement: the first caller gets
   * `redeemed` (whatever the expiry: the caller checks it and the binding),
   * every later one `replayed`.
   */
  redeem(codeHash: string, issued: IssuedForCode, now: Date): Promise<CodeRedemption>;
}

/** A signed-in browser (the `latchkey_session` cookie holds the id; only its hash is stored). */
export interface BrowserSessionRecord {
  idHash: string;
  tenantId: string;
  userId: string;
  /** When the user last proved who they are (OIDC `auth_time`, `max_age`). */
  authTime: Date;
  /** RFC 8176 methods of that sign-in (`pwd`, then `otp`/`mail`/`kba` and `mfa`). */
  amr: string[];
  createdAt: Date;
  /** Moves forward with use (`browser_session.idle_lifetime`), never past `expiresAt`. */
  idleExpiresAt: Date;
  /** `browser_session.absolute_lifetime` after the sign-in. */
  expiresAt: Date;
}

export interface BrowserSessionStore {
  create(session: BrowserSessionRecord): Promise<void>;
  /** The session, when neither lifetime has passed at `now`. */
  find(tenantId: string, idHash: string, now: Date): Promise<BrowserSessionRecord | undefined>;
  /** Extends the idle expiry after use. */
  touch(idHash: string, idleExpiresAt: Date): Promise<void>;
  delete(idHash: string): Promise<void>;
  /** Ends every browser session of the user (a block, a password change); the number ended. */
  deleteAllForUser(tenantId: string, userId: string): Promise<number>;
}

export type DeviceCodeStatus = 'pending' | 'approved' | 'denied' | 'redeemed';

/** A device authorization (RFC 8628 §3.2), from the device's request to its redemption. */
export interface DeviceCodeRecord {
  /** A random id, for the pages to refer to the request without its secrets. */
  id: string;
  deviceCodeHash: string;
  /** Normalised: 8 characters of BCDFGHJKLMNPQRSTVWXZ, no dash; unique among live codes. */
  userCode: string;
  tenantId: string;
  clientId: string;
  /** The request's scopes and API, as the device sent them (parsed again at approval). */
  scope: string[];
  audience: string | null;
  /** Shown on the verification page (RFC 8628 §5.4): where and when the device asked. */
  requestIp: string;
  requestUserAgent: string | null;
  createdAt: Date;
  expiresAt: Date;
  /** Seconds between polls; grows by 5 at each `slow_down` (RFC 8628 §3.5). */
  interval: number;
  lastPolledAt: Date | null;
  status: DeviceCodeStatus;
  /** Set at approval. */
  userId: string | null;
  /** The approved grant, serialised by the device grant (oauth/); null until approved. */
  grant: string | null;
}

/** What a poll found: the record as it was before this poll was recorded. */
export interface DevicePoll {
  record: DeviceCodeRecord;
}

export interface DeviceCodeStore {
  /** False when the user code is already taken by a live code (the caller draws another). */
  create(record: DeviceCodeRecord): Promise<boolean>;
  /** A pending, unexpired code by its normalised user code. */
  findPendingByUserCode(tenantId: string, userCode: string, now: Date): Promise<DeviceCodeRecord | undefined>;
  findById(tenantId: string, id: string): Promise<DeviceCodeRecord | undefined>;
  /**
   * Records a poll and returns the record as it was before it (its
   * `lastPolledAt` is the previous poll); `slowDown` also adds 5 s to the
   * interval. Undefined for an unknown device code.
   */
  poll(tenantId: string, deviceCodeHash: string, now: Date, slowDown: boolean): Promise<DevicePoll | undefined>;
  /** pending → approved (with the user and grant) or denied; false when it was no longer pending or has expired. */
  decide(
    tenantId: string,
    id: string,
    decision: { status: 'approved'; userId: string; grant: string } | { status: 'denied' },
    now: Date,
  ): Promise<boolean>;
  /** approved → redeemed; false when another poll redeemed it first. */
  redeem(tenantId: string, id: string): Promise<boolean>;
}

export interface BrowserSignInStores {
  authorizationCodes: AuthorizationCodeStore;
  browserSessions: BrowserSessionStore;
  deviceCodes: DeviceCodeStore;
}
