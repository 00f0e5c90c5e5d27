/**
 * Storage contracts, one narrow interface per concern, in domain types.
 * Callers depend on these only; src/storage/sql/ implements them once with
 * Kysely for SQLite and PostgreSQL, and only the composition root picks it.
 *
 * Instants are `Date`s here; the SQL layer stores ISO-8601 text.
 */
import type { ApiConfig, ApplicationConfig, ConnectionConfig, PasswordPolicyConfig, SigningAlg, TenantConfig } from '../config/schema.js';
import type { AccountTicketStore } from './account-tickets.js';
import type { BrowserSignInStores } from './browser-stores.js';
import type { MfaStore } from './mfa-stores.js';

export type { MfaAuthenticatorType, MfaAuthenticator, MfaPendingEnrolment, EnrolmentConfirmation, MfaStore } from './mfa-stores.js';

/** Attack-protection keys are optional here: a tenant stored before they existed gets the defaults (oauth/catalog.ts). */
export type TenantSettings = Pick<TenantConfig, 'default_directory' | 'default_audience' | 'id_token_signing_alg' | 'id_token_lifetime'> &
  Partial<
    Pick<
      TenantConfig,
      | 'attack_protection'
      | 'rate_limits'
      | 'trusted_proxies'
      | 'mfa'
      | 'browser_session'
      | 'device_flow'
      | 'administrators'
      | 'management_api'
    >
  >;
export type ApplicationSettings = Omit<ApplicationConfig, 'client_secret' | 'client_id'>;

export interface TenantRecord {
  id: string;
  name: string;
  settings: TenantSettings;
}

export interface ConnectionRecord {
  id: string;
  tenantId: string;
  name: string;
  type: ConnectionConfig['type'];
  passwordPolicy: PasswordPolicyConfig;
  /** type http: where the custom credential validator listens (its secret stays in the configuration). */
  validator?: { url: string; timeoutMs: number };
  /** type database: `disable_signup` (DESIGN.md §8); sign-up is open only when this is exactly false. */
  disableSignup?: boolean;
}

export interface ApiRecord {
  id: string;
  tenantId: string;
  settings: ApiConfig;
}

export interface ApplicationRecord {
  id: string;
  tenantId: string;
  clientId: string;
  clientSecretHash: string | null;
  settings: ApplicationSettings;
}

/** Auth0's client grant: the application may call this API with client_credentials, with at most these scopes (DESIGN.md §9). */
export interface ClientGrantRecord {
  id: string;
  tenantId: string;
  clientId: string;
  audience: string;
  scope: string[];
}

/** What is served: every catalog row that is not disabled. */
export interface CatalogSnapshot {
  tenants: TenantRecord[];
  connections: ConnectionRecord[];
  apis: ApiRecord[];
  applications: ApplicationRecord[];
  clientGrants: ClientGrantRecord[];
}

/** The catalog objects the configuration file declares, and so can stop declaring (DESIGN.md §2). */
export type DeclarableKind = 'tenant' | 'connection' | 'api' | 'application' | 'client_grant';

/** A row the configuration file declared (`managed_by_config`), as the database holds it now. */
export interface DeclaredRow {
  kind: DeclarableKind;
  id: string;
  /** For a tenant, its own id. */
  tenantId: string;
  /** What the file names it by: a tenant's or connection's name, an API's identifier, a client_id; a client grant's client_id and audience. */
  key: readonly string[];
  /** Set at the start where the file stopped declaring it. */
  disabledAt: Date | null;
}

/**
 * Tenants, connections, APIs, applications and client grants: written by
 * config apply, read into memory at start. The upserts mark a row as
 * declared by the file and served; `disable` keeps a row the file no longer
 * declares but stops serving it (load() leaves it out).
 */
export interface CatalogStore {
  upsertTenant(name: string, settings: TenantSettings): Promise<string>;
  upsertConnection(tenantId: string, connection: Pick<ConnectionConfig, 'name' | 'type'> & Partial<ConnectionConfig>): Promise<string>;
  upsertApi(tenantId: string, api: ApiConfig): Promise<string>;
  upsertApplication(tenantId: string, clientId: string, clientSecretHash: string | null, settings: ApplicationSettings): Promise<string>;
  upsertClientGrant(tenantId: string, grant: Pick<ClientGrantRecord, 'clientId' | 'audience' | 'scope'>): Promise<string>;
  /** Every row the file declared at some start, disabled ones included. */
  listDeclared(): Promise<DeclaredRow[]>;
  /** Stops serving these rows from the next load(); their data stays. */
  disable(rows: ReadonlyArray<Pick<DeclaredRow, 'kind' | 'id'>>, at: Date): Promise<void>;
  load(): Promise<CatalogSnapshot>;
}

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
}

export interface NewUser {
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
  /** Removes the user row; false when no such user is in the tenant. The caller ends the user's sessions and factors first. */
  delete(tenantId: string, userId: string): Promise<boolean>;
}

export interface UserListPage {
  connectionId?: string | undefined;
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
  /** Newest first, at most this many. */
  limit: number;
}

export interface SecurityEventStore {
  append(event: SecurityEvent): Promise<void>;
  query(filter: SecurityEventFilter): Promise<StoredSecurityEvent[]>;
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
  health: StorageHealth;
  /** Deletes rows no check can need any more (expired tokens, jtis, retired keys, pending MFA enrolments). */
  purgeExpired(now: Date): Promise<void>;
  close(): Promise<void>;
}
