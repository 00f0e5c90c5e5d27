/**
 * Storage contracts, one narrow interface per concern, in domain types.
 * Callers depend on these only; src/storage/sql/ implements them once with
 * Kysely for SQLite and PostgreSQL, and only the composition root picks it.
 *
 * Instants are `Date`s here; the SQL layer stores ISO-8601 text.
 */
import type { SigningAlg } from '../config/schema.js';
import type { AccountTicketStore } from './account-tickets.js';
import type { CatalogStore } from './catalog-stores.js';
import type { BrowserSignInStores } from './browser-stores.js';
import type { ImportJobStore } from './import-jobs.js';
import type { MfaStore } from './mfa-stores.js';
import type { UserSearch } from '../domain/user-search.js';

export type { MfaAuthenticatorType, MfaAuthenticator, MfaPendingEnrolment, EnrolmentConfirmation, MfaStore } from './mfa-stores.js';

export { APP_TYPES } from './catalog-stores.js';
export type {
  TenantSettings,
  ApplicationSettings,
  TenantRecord,
  ConnectionRecord,
  CreatedThroughApi,
  ApiProfile,
  ApiRecord,
  AppType,
  ApplicationProfile,
  ApplicationRecord,
  ClientGrantRecord,
  CatalogSnapshot,
  DeclarableKind,
  DeclaredRow,
  ApiCreatedRow,
  NewApplication,
  CatalogStore,
} from './catalog-stores.js';

export interface UserRecord {
  id: string;
  tenantId: string;
  connectionId: string;
  username: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  givenName: string | null;
  familyName: string | null;
  /** A directory user's group names, refreshed at each login; null when no directory says. */
  groups: string[] | null;
  passwordHash: string | null;
  blocked: boolean;
  /**
   * When the password last changed; null if it never did (a first password
   * is no change; rows created before issue #11 carry their creation
   * instant, which no session predates). Sessions signed in before it no
   * longer count (identity/user-sessions.ts).
   */
  passwordChangedAt: Date | null;
  /**
   * When the user was last blocked, kept after the block is lifted: sessions
   * signed in before it stay ended (identity/user-sessions.ts). Null if never.
   */
  blockedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /** The last successful sign-in; null before the first. */
  lastLoginAt: Date | null;
  loginsCount: number;
  /** Auth0's user_metadata (the user's own) and app_metadata (the application's), JSON objects; empty when never set. */
  userMetadata: UserMetadata;
  appMetadata: UserMetadata;
}

/** A JSON object, as Auth0's metadata is. */
export type UserMetadata = Record<string, unknown>;

export interface NewUser {
  /** An imported user's own id (Auth0's `user_id`), kept so tokens' `sub` stays the same; a random UUID otherwise. */
  id?: string | undefined;
  tenantId: string;
  connectionId: string;
  username: string;
  email?: string | undefined;
  emailVerified?: boolean | undefined;
  name?: string | undefined;
  givenName?: string | undefined;
  familyName?: string | undefined;
  groups?: string[] | undefined;
  /** Null for users of an external directory (they are provisioned at their first login). */
  passwordHash: string | null;
  blocked?: boolean | undefined;
  userMetadata?: UserMetadata | undefined;
  appMetadata?: UserMetadata | undefined;
}

export type UserProfileUpdate = Partial<Pick<NewUser, 'email' | 'emailVerified' | 'name' | 'givenName' | 'familyName' | 'groups'>>;

export interface UserStore {
  /** By username, else by email (case-insensitive), within one connection. */
  findByLogin(tenantId: string, connectionId: string, login: string): Promise<UserRecord | undefined>;
  findById(tenantId: string, userId: string): Promise<UserRecord | undefined>;
  /** Returns undefined when the username is already taken in that connection. A first password is no change: `passwordChangedAt` stays null. */
  create(user: NewUser): Promise<UserRecord | undefined>;
  updateProfile(userId: string, profile: UserProfileUpdate): Promise<void>;
  /**
   * `expectedHash` guards the rehash-on-login against a concurrent password
   * change. `passwordChangedAt` marks a real change (not a rehash of the same
   * password) and stamps `passwordChangedAt` with that instant.
   */
  setPasswordHash(userId: string, passwordHash: string, options?: { expectedHash?: string; passwordChangedAt?: Date }): Promise<boolean>;
  /** Blocking stamps `blockedAt` with `now`; unblocking keeps the stamp. */
  setBlocked(userId: string, blocked: boolean, now?: Date): Promise<void>;
  /** An external directory's user: created at the first successful login, its profile refreshed at each. */
  provisionExternal(user: Omit<NewUser, 'passwordHash'>): Promise<UserRecord>;
  /** Stamps the last sign-in and counts it (Auth0's `last_login`, `logins_count`). */
  recordLogin(userId: string, at: Date): Promise<void>;
  /** How many users a connection holds (an operator's log line when the connection stops being served). */
  countInConnection(tenantId: string, connectionId: string): Promise<number>;
  /**
   * One page of a tenant's users (or one connection's), in a stable order:
   * by connection, then login name (the unique index's order), so `offset`
   * pages neither skip nor repeat while nobody writes.
   */
  list(tenantId: string, page: UserListPage): Promise<UserRecord[]>;
  /** How many users a tenant holds (all its connections). */
  countInTenant(tenantId: string): Promise<number>;
  /** How many users `list` would page through with this filter (its totals). */
  count(tenantId: string, filter: UserListFilter): Promise<number>;
  /**
   * The users matching a search (domain/user-search.ts), in the list's
   * order, from `offset`, at most `limit`; `total` counts at most
   * USER_SEARCH_LIMIT matches (Auth0's bound: a search covers the first
   * 1,000, those first in the searched field's order, and pages stop there).
   * Every value reaches SQL bound, never as text.
   */
  search(
    tenantId: string,
    filter: UserListFilter & { search: UserSearch },
    page: { offset: number; limit: number },
  ): Promise<UserSearchPage>;
  /** Every user of the tenant with this email (case-insensitive), in any connection, in the list's order; at most `limit`. */
  findByEmail(tenantId: string, email: string, limit: number): Promise<UserRecord[]>;
  /** Replaces the user's metadata objects that are given (the caller merged them); bumps updatedAt. */
  setMetadata(userId: string, metadata: { userMetadata?: UserMetadata | undefined; appMetadata?: UserMetadata | undefined }): Promise<void>;
  /** Removes the user row; false when no such user is in the tenant. The caller ends the user's sessions and factors first. */
  delete(tenantId: string, userId: string): Promise<boolean>;
}

export interface UserListFilter {
  connectionId?: string | undefined;
}

export interface UserSearchPage {
  users: UserRecord[];
  /** Matches, up to USER_SEARCH_LIMIT. */
  total: number;
}

export interface UserListPage extends UserListFilter {
  offset: number;
  limit: number;
}

export interface SigningKeyRecord {
  kid: string;
  tenantId: string;
  alg: SigningAlg;
  publicJwk: Record<string, unknown>;
  privateKeySealed: string;
  createdAt: Date;
  retiredAt: Date | null;
  publishUntil: Date | null;
  /** The self-signed X.509 certificate (PEM) over the key; null until first asked for (tokens/signing-key-certificate.ts). */
  certificate?: string | null;
}

export interface SigningKeyStore {
  /** Every key still published at `now` (active and retired-but-unexpired), newest first. */
  listPublished(tenantId: string, now: Date): Promise<SigningKeyRecord[]>;
  /** Keeps `certificate` for the key unless it has one already (the first writer wins on every node); returns the kept one. */
  keepCertificate(tenantId: string, kid: string, certificate: string): Promise<string>;
  insert(key: SigningKeyRecord): Promise<void>;
  /** Atomically retires the tenant's active keys of `alg` and inserts the new one. */
  rotate(newKey: SigningKeyRecord, publishOldUntil: Date): Promise<void>;
}

export interface RefreshTokenFamily {
  id: string;
  tenantId: string;
  clientId: string;
  userId: string;
  audience: string | null;
  scope: string;
  authTime: Date;
  currentHash: string;
  previousHash: string | null;
  rotatedAt: Date | null;
  currentTokenSealed: string | null;
  createdAt: Date;
  expiresAt: Date;
  familyExpiresAt: Date;
  revokedAt: Date | null;
  /** How the family's first login was authenticated (RFC 8176), when more than a password. */
  amr: string[] | null;
}

export type NewRefreshTokenFamily = Omit<RefreshTokenFamily, 'previousHash' | 'rotatedAt' | 'revokedAt'>;

/** What happened to a rotation attempt; losing a race is a value, not an exception. */
export type RotationResult =
  | { kind: 'rotated' }
  /** Another request rotated the same token inside the reuse interval: hand back its token. */
  | { kind: 'replay'; currentTokenSealed: string }
  /** The token was not the current one (a rotated token presented again): the family is now revoked. */
  | { kind: 'reuse_detected' };

export interface RotationRequest {
  familyId: string;
  expectedHash: string;
  newHash: string;
  newTokenSealed: string | null;
  expiresAt: Date;
  now: Date;
  reuseIntervalSeconds: number;
}

/** A refresh-token family with the user it was issued to (undefined when that user no longer exists). */
export interface FamilyWithOwner {
  family: RefreshTokenFamily;
  owner: UserRecord | undefined;
}

export interface RefreshTokenStore {
  findFamily(familyId: string): Promise<RefreshTokenFamily | undefined>;
  /** The family and its user, read together: the refresh grant needs both on every request. */
  findFamilyWithOwner(familyId: string): Promise<FamilyWithOwner | undefined>;
  createFamily(family: NewRefreshTokenFamily): Promise<void>;
  /**
   * Replaces the family's current token if it is still `expectedHash`.
   * Exactly one of any number of concurrent calls with the same
   * `expectedHash` returns `rotated`; the others get `replay` (inside the
   * reuse interval) or `reuse_detected`, which has revoked the family.
   */
  rotate(args: RotationRequest): Promise<RotationResult>;
  revokeFamily(familyId: string, now: Date): Promise<void>;
  /**
   * Revokes every family of the user not yet revoked, in one statement (a
   * password change, a block: RFC 9700 §4.14.2). Returns how many it revoked.
   */
  revokeAllForUser(tenantId: string, userId: string, now: Date): Promise<number>;
  /** Revokes every live family of one application (removed from the file); answers how many. */
  revokeClientFamilies(tenantId: string, clientId: string, now: Date): Promise<number>;
  /** How many of the user's families still work at `now`: not revoked, not expired (idle or absolute). */
  countLiveForUser(tenantId: string, userId: string, now: Date): Promise<number>;
  /** The user's families that still work at `now`, oldest first (then by id), from `offset`, at most `limit`. */
  listLiveForUser(tenantId: string, userId: string, now: Date, page: { offset: number; limit: number }): Promise<RefreshTokenFamily[]>;
}

/** The token presented is the one just replaced, within the client's reuse interval. */
export function isRetryInsideReuseInterval(
  family: RefreshTokenFamily,
  presentedHash: string,
  now: Date,
  reuseIntervalSeconds: number,
): boolean {
  return (
    family.revokedAt === null &&
    family.previousHash === presentedHash &&
    family.currentTokenSealed !== null &&
    family.rotatedAt !== null &&
    now.getTime() - family.rotatedAt.getTime() <= reuseIntervalSeconds * 1000
  );
}

export interface AccessTokenDenylist {
  add(tenantId: string, jti: string, expiresAt: Date): Promise<void>;
  isRevoked(jti: string): Promise<boolean>;
}

/**
 * Keys that may be used once until they expire: client-assertion jtis
 * (RFC 7523 §3), spent mfa_tokens, accepted TOTP steps (RFC 6238 §5.2) and
 * oob codes. The table is still called consumed_jtis, its first use.
 */
export interface SingleUseKeyStore {
  /** True the first time a key is seen (until it expires); false on every repeat. */
  consume(key: string, expiresAt: Date, now: Date): Promise<boolean>;
  /** Whether a key was consumed and has not expired: a cheap early answer; consume() stays the arbiter. */
  isConsumed(key: string, now: Date): Promise<boolean>;
}

/** What a security event records (docs/operations.md lists the types and reasons). Never a password or token. */
export interface SecurityEvent {
  at: Date;
  tenantId: string;
  type: string;
  reason?: string | undefined;
  clientId?: string | undefined;
  connection?: string | undefined;
  userId?: string | undefined;
  /** The login name as typed (or its start), for operators correlating attempts. */
  identifier?: string | undefined;
  ip?: string | undefined;
  details?: Record<string, string | number | boolean> | undefined;
}

export interface StoredSecurityEvent extends SecurityEvent {
  id: string;
}

export interface SecurityEventFilter {
  tenantId?: string | undefined;
  types?: string[] | undefined;
  userId?: string | undefined;
  identifier?: string | undefined;
  ip?: string | undefined;
  clientId?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  /** Newest first, at most this many, after skipping `offset` (default 0). */
  limit: number;
  offset?: number | undefined;
}

export interface SecurityEventStore {
  append(event: SecurityEvent): Promise<void>;
  query(filter: SecurityEventFilter): Promise<StoredSecurityEvent[]>;
  /** How many events match the filter (its limit and offset aside): a list's totals. */
  count(filter: Omit<SecurityEventFilter, 'limit' | 'offset'>): Promise<number>;
  deleteBefore(cutoff: Date): Promise<number>;
}

/** A brute-force lock in force: per end-user IP, or (ip null) the all-IP backstop. */
export interface AttackLock {
  tenantId: string;
  connectionId: string;
  identifierKey: string;
  identifier: string;
  ip: string | null;
  lockedAt: Date;
  expiresAt: Date;
}

/** Bookkeeping beside the counters, so an operator can clear an identifier's locks from every IP. */
export interface AttackLockStore {
  record(lock: AttackLock): Promise<void>;
  listForIdentifier(tenantId: string, connectionId: string, identifierKey: string, now: Date): Promise<AttackLock[]>;
  removeForIdentifier(tenantId: string, connectionId: string, identifierKey: string): Promise<void>;
}

export interface StorageHealth {
  ping(): Promise<void>;
}

export interface Stores extends BrowserSignInStores {
  catalog: CatalogStore;
  users: UserStore;
  signingKeys: SigningKeyStore;
  refreshTokens: RefreshTokenStore;
  accessTokenDenylist: AccessTokenDenylist;
  singleUseKeys: SingleUseKeyStore;
  securityEvents: SecurityEventStore;
  attackLocks: AttackLockStore;
  mfa: MfaStore;
  /** Password-reset and email-verification links (DESIGN.md §8). */
  accountTickets: AccountTicketStore;
  /** User-import jobs (issue #15 point 4). */
  importJobs: ImportJobStore;
  health: StorageHealth;
  /** Deletes rows no check can need any more (expired tokens, jtis, retired keys, pending MFA enrolments). */
  purgeExpired(now: Date): Promise<void>;
  close(): Promise<void>;
}
