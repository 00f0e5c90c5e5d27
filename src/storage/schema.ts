/**
 * Table types for Kysely. Columns are portable between SQLite and
 * PostgreSQL: TEXT ids, ISO-8601 UTC strings for instants (they sort and
 * compare as text), 0/1 integers for booleans, JSON as TEXT.
 */
import type { Generated } from 'kysely';

/** Columns of every catalog row the configuration file can declare (DESIGN.md §2, §9). */
export interface DeclarableRow {
  /** 1: the configuration file declared this row; 0: created otherwise (the Management API of issue #15). */
  managed_by_config: number;
  /** Set at the start where the file stopped declaring it: the row is kept, but not served. */
  disabled_at: string | null;
}

export interface TenantsTable extends DeclarableRow {
  id: string;
  name: string;
  settings: string;
  created_at: string;
  updated_at: string;
}

export interface ConnectionsTable extends DeclarableRow {
  id: string;
  tenant_id: string;
  name: string;
  type: string;
  settings: string;
  created_at: string;
  updated_at: string;
}

export interface ApisTable extends DeclarableRow {
  id: string;
  tenant_id: string;
  identifier: string;
  settings: string;
  created_at: string;
  updated_at: string;
}

export interface ApplicationsTable extends DeclarableRow {
  id: string;
  tenant_id: string;
  client_id: string;
  client_secret_hash: string | null;
  settings: string;
  created_at: string;
  updated_at: string;
}

/** Auth0's client grants: an application may call this API with client_credentials, with these scopes. */
export interface ClientGrantsTable extends DeclarableRow {
  id: string;
  tenant_id: string;
  client_id: string;
  audience: string;
  /** JSON array of scope names. */
  scope: string;
  created_at: string;
  updated_at: string;
}

export interface UsersTable {
  id: string;
  tenant_id: string;
  connection_id: string;
  username: string;
  username_key: string;
  email: string | null;
  email_key: string | null;
  email_verified: number;
  name: string | null;
  given_name: string | null;
  family_name: string | null;
  password_hash: string | null;
  blocked: number;
  created_at: string;
  updated_at: string;
  password_changed_at: string | null;
  /** Migration 008: when the user was last blocked, kept after unblocking. */
  blocked_at: string | null;
  last_login_at: string | null;
  groups: string | null;
  /** Migration 011: Auth0's user_metadata and app_metadata, JSON objects as text; null when never set. */
  user_metadata: string | null;
  app_metadata: string | null;
  /** Migration 011: successful sign-ins (recordLogin). */
  logins_count: Generated<number>;
  /** Migration 011: loginKey(name), what `q` searches names by. */
  name_key: string | null;
}

export interface SigningKeysTable {
  kid: string;
  tenant_id: string;
  alg: string;
  public_jwk: string;
  private_key_sealed: string;
  created_at: string;
  /** Set when a newer key took over signing. */
  retired_at: string | null;
  /** After this instant no unexpired token can carry the key: it leaves the JWKS. */
  publish_until: string | null;
  /** The self-signed X.509 certificate (PEM) over the key, made at its first Management API read. */
  certificate: string | null;
}

/**
 * One row per refresh-token family: rotation rewrites the row in place
 * (`current_hash`), so each refresh is one conditional UPDATE by primary key.
 */
export interface RefreshTokenFamiliesTable {
  id: string;
  tenant_id: string;
  client_id: string;
  user_id: string;
  audience: string | null;
  scope: string;
  auth_time: string;
  /** SHA-256 of the secret part of the one refresh token of this family that is valid now. */
  current_hash: string;
  /** The token it replaced, for an idempotent retry inside the reuse interval. */
  previous_hash: string | null;
  rotated_at: string | null;
  /** The current token, sealed with the master key, kept only when the client has a reuse interval. */
  current_token_sealed: string | null;
  created_at: string;
  /** Idle expiry of the current token; never after family_expires_at. */
  expires_at: string;
  family_expires_at: string;
  revoked_at: string | null;
  /** JSON array of the first login's amr values; null: the password alone. */
  amr: string | null;
}

export interface RevokedAccessTokensTable {
  jti: string;
  tenant_id: string;
  expires_at: string;
}

export interface ConsumedJtisTable {
  /** `{tenant}:{client}:{jti}`: one key so the insert is the atomic check. */
  key: string;
  expires_at: string;
}

/** rate-limiter-flexible's counters; `expires_at_ms` is epoch milliseconds (bigint: PostgreSQL returns it as text). */
export interface AttackCountersTable {
  key: string;
  points: number;
  expires_at_ms: number | string | null;
}

export interface AttackLocksTable {
  tenant_id: string;
  connection_id: string;
  identifier_key: string;
  identifier: string;
  ip: string;
  locked_at: string;
  expires_at: string;
}

export interface SecurityEventsTable {
  id: string;
  at: string;
  tenant_id: string;
  type: string;
  reason: string | null;
  client_id: string | null;
  connection: string | null;
  user_id: string | null;
  identifier: string | null;
  ip: string | null;
  /** JSON object of extra, non-secret context. */
  details: string | null;
}

export interface MfaAuthenticatorsTable {
  id: string;
  tenant_id: string;
  user_id: string;
  type: string;
  secret_sealed: string | null;
  email: string | null;
  /** Always 1 since migration 005 (pending enrolments live in mfa_pending_enrolments); kept for nodes of the previous version during a rolling upgrade. */
  confirmed: number;
  created_at: string;
  /** The last TOTP time step accepted (Unix time / 30), null before the first; bigint, so PostgreSQL may return text. */
  last_used_step: number | string | null;
}

/** One enrolment in progress per user (primary key tenant_id, user_id); it expires with the mfa_token that started it. */
export interface MfaPendingEnrolmentsTable {
  tenant_id: string;
  user_id: string;
  authenticator_id: string;
  type: string;
  secret_sealed: string | null;
  email: string | null;
  recovery_code_hash: string;
  mfa_token_jti: string;
  created_at: string;
  expires_at: string;
}

export interface MfaRecoveryCodesTable {
  tenant_id: string;
  user_id: string;
  code_hash: string;
  created_at: string;
}

/**
 * Migration 009: an authorization code (RFC 6749 §4.1.2), by the SHA-256 of its value. `redeemed_at` is set once, by
 * one conditional UPDATE, together with what that redemption issued (the `issued_*` columns, for a replay to revoke).
 */
export interface AuthorizationCodesTable {
  code_hash: string;
  tenant_id: string;
  client_id: string;
  redirect_uri: string;
  code_challenge: string;
  user_id: string;
  /** JSON, serialised by the code grant. */
  grant: string;
  created_at: string;
  expires_at: string;
  redeemed_at: string | null;
  issued_family_id: string | null;
  issued_jti: string | null;
  issued_expires_at: string | null;
}

/** Migration 009: a signed-in browser, by the SHA-256 of its cookie's id. */
export interface BrowserSessionsTable {
  id_hash: string;
  tenant_id: string;
  user_id: string;
  auth_time: string;
  /** JSON array of RFC 8176 method names. */
  amr: string;
  created_at: string;
  /** Moves forward with use, never past expires_at. */
  idle_expires_at: string;
  expires_at: string;
}

/** Migration 009: a device authorization (RFC 8628), one row per (tenant_id, user_code). */
export interface DeviceCodesTable {
  id: string;
  /** SHA-256 of the device_code; unique. */
  device_code_hash: string;
  /** Normalised (8 characters, no dash). */
  user_code: string;
  tenant_id: string;
  client_id: string;
  /** JSON array of scope names. */
  scope: string;
  audience: string | null;
  request_ip: string;
  request_user_agent: string | null;
  created_at: string;
  expires_at: string;
  /** Seconds between polls (RFC 8628 §3.5). */
  interval: number;
  last_polled_at: string | null;
  /** pending | approved | denied | redeemed */
  status: string;
  user_id: string | null;
  /** JSON, set at approval by the device grant. */
  grant: string | null;
}

/** Account tickets (DESIGN.md §8): reset and verification links, stored as SHA-256. */
export interface AccountTicketsTable {
  ticket_hash: string;
  tenant_id: string;
  user_id: string;
  /** verify_email | reset_password */
  kind: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  /** Tickets made through the Management API: where the page sends the user once the ticket is spent. */
  result_url: string | null;
  /** 1: spending a reset ticket also marks the email verified (Auth0's `mark_email_as_verified`). */
  mark_email_verified: number;
  /** 1: the redirect to result_url names the email (Auth0's `includeEmailInRedirect`). */
  email_in_redirect: number;
}

/** User-import jobs (issue #15 point 4): counts and the first per-row errors. */
export interface ImportJobsTable {
  id: string;
  tenant_id: string;
  connection_id: string;
  connection_name: string;
  /** pending | processing | completed | failed */
  status: string;
  upsert: number;
  external_id: string | null;
  total: number;
  inserted: number;
  updated: number;
  failed: number;
  /** JSON array of {user, errors}. */
  errors: string;
  status_details: string | null;
  created_at: string;
  updated_at: string;
}

export interface Database {
  tenants: TenantsTable;
  connections: ConnectionsTable;
  apis: ApisTable;
  applications: ApplicationsTable;
  client_grants: ClientGrantsTable;
  users: UsersTable;
  signing_keys: SigningKeysTable;
  refresh_token_families: RefreshTokenFamiliesTable;
  revoked_access_tokens: RevokedAccessTokensTable;
  consumed_jtis: ConsumedJtisTable;
  attack_counters: AttackCountersTable;
  attack_locks: AttackLocksTable;
  security_events: SecurityEventsTable;
  mfa_authenticators: MfaAuthenticatorsTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
  mfa_pending_enrolments: MfaPendingEnrolmentsTable;
  authorization_codes: AuthorizationCodesTable;
  browser_sessions: BrowserSessionsTable;
  device_codes: DeviceCodesTable;
  account_tickets: AccountTicketsTable;
  import_jobs: ImportJobsTable;
}
