/**
 * User administration shared by config apply and the CLI: one place that
 * decides how passwords and imported hashes become stored hashes.
 */
import type { PasswordPolicyConfig } from '../config/schema.js';
import { isSupportedPasswordHash, passwordPolicyRefusal, type PasswordRule } from '../domain/password-policy.js';
import { hashPassword, verifyPassword, type PasswordCheck } from './passwords.js';
import { commitBlock, commitPasswordChange, type SessionStores } from './user-sessions.js';
import type { NewUser, UserRecord, UserStore } from '../storage/stores.js';

/** A user as an operator declares it: the stored fields, with a password or an imported hash. */
export type UserInput = Omit<NewUser, 'tenantId' | 'connectionId' | 'passwordHash'> & {
  password?: string | undefined;
  passwordHash?: string | undefined;
};

export class UserAdminError extends Error {
  override name = 'UserAdminError';
}

/** A password the connection's policy refuses; `rule` names which rule (docs/errors.md). */
export class PasswordPolicyError extends UserAdminError {
  override name = 'PasswordPolicyError';
  constructor(
    readonly rule: PasswordRule,
    message: string,
  ) {
    super(`password policy (${rule}): ${message}`);
  }
}

/** A new password against the connection's policy; the message names the rule it breaks. */
export function checkNewPassword(policy: PasswordPolicyConfig, password: string): void {
  const refusal = passwordPolicyRefusal(policy, password);
  if (refusal) throw new PasswordPolicyError(refusal.rule, refusal.message);
}

/** Where a user goes: the connection and the password policy it enforces. */
export interface UserTarget {
  tenantId: string;
  connectionId: string;
  policy: PasswordPolicyConfig;
}

/** How plaintext passwords are hashed and checked: directly, or on the hash queue's background lane (an import). */
export interface PasswordHashing {
  hash(password: string): Promise<string>;
  verify(password: string, storedHash: string): Promise<PasswordCheck>;
}

const DIRECT_HASHING: PasswordHashing = { hash: hashPassword, verify: verifyPassword };

export async function storedHashFor(input: UserInput, policy: PasswordPolicyConfig, hashing = DIRECT_HASHING): Promise<string> {
  if (input.passwordHash !== undefined) {
    if (!isSupportedPasswordHash(input.passwordHash))
      throw new UserAdminError('password_hash must be an argon2 ($argon2id$…) or bcrypt ($2b$…) hash');
    // An imported hash cannot be checked against the policy; the breached-password check at login covers it.
    return input.passwordHash;
  }
  if (input.password === undefined) throw new UserAdminError('give a password or a password_hash');
  checkNewPassword(policy, input.password);
  return hashing.hash(input.password);
}

export async function createUser(users: UserStore, target: UserTarget, input: UserInput, hashing = DIRECT_HASHING): Promise<UserRecord> {
  const { password: _password, passwordHash: _imported, ...profile } = input;
  const { tenantId, connectionId } = target;
  const created = await users.create({
    ...profile,
    tenantId,
    connectionId,
    passwordHash: await storedHashFor(input, target.policy, hashing),
  });
  if (!created) throw new UserAdminError(`a user "${input.username}" already exists in that connection`);
  return created;
}

/** What config apply did to one declared user. */
export interface DeclaredUserResult {
  change: 'created' | 'updated' | 'unchanged';
  userId: string;
  /** The file changed the password: every session of the user ended, this many refresh-token families. */
  passwordChanged?: { refreshTokensRevoked: number };
  /** The file blocked the user: every session ended, this many refresh-token families. */
  blocked?: { refreshTokensRevoked: number };
}

/**
 * Config apply: creates the user, or brings a declared one up to date. The
 * password is rehashed only when it no longer verifies, so restarts are
 * idempotent and do not churn hashes. A changed password and a new block end
 * the user's sessions, as they do by every other path (user-sessions.ts).
 */
export async function upsertDeclaredUser(
  stores: SessionStores & { users: UserStore },
  target: UserTarget,
  input: UserInput,
  now: Date = new Date(),
): Promise<DeclaredUserResult> {
  const { users } = stores;
  const existing = await users.findByLogin(target.tenantId, target.connectionId, input.username);
  if (!existing || existing.username.normalize('NFKC').toLowerCase() !== input.username.normalize('NFKC').toLowerCase()) {
    const created = await createUser(users, target, input);
    return { change: 'created', userId: created.id };
  }
  return updateUser(stores, target, existing, input, now);
}

/**
 * Brings an existing user up to what `input` gives (config apply, an
 * import with upsert): absent fields stay as they are.
 */
export async function updateUser(
  stores: SessionStores & { users: UserStore },
  target: UserTarget,
  existing: UserRecord,
  input: UserInput,
  now: Date,
  hashing = DIRECT_HASHING,
): Promise<DeclaredUserResult> {
  const { users } = stores;
  const result: DeclaredUserResult = { change: 'unchanged', userId: existing.id };
  const profile = {
    email: input.email,
    emailVerified: input.emailVerified,
    name: input.name,
    givenName: input.givenName,
    familyName: input.familyName,
  };
  const differs =
    (profile.email !== undefined && profile.email !== existing.email) ||
    (profile.emailVerified !== undefined && profile.emailVerified !== existing.emailVerified) ||
    (profile.name !== undefined && profile.name !== existing.name) ||
    (profile.givenName !== undefined && profile.givenName !== existing.givenName) ||
    (profile.familyName !== undefined && profile.familyName !== existing.familyName);
  if (differs) {
    await users.updateProfile(existing.id, profile);
    result.change = 'updated';
  }
  let passwordChanged = input.passwordHash !== undefined && input.passwordHash !== existing.passwordHash;
  if (!passwordChanged && input.password !== undefined) {
    passwordChanged = existing.passwordHash === null || !(await hashing.verify(input.password, existing.passwordHash)).valid;
  }
  if (passwordChanged) {
    result.passwordChanged = {
      refreshTokensRevoked: await commitPasswordChange(stores, existing, await storedHashFor(input, target.policy, hashing), now),
    };
    result.change = 'updated';
  }
  if (input.blocked !== undefined && input.blocked !== existing.blocked) {
    if (input.blocked) result.blocked = { refreshTokensRevoked: await commitBlock(stores, existing, now) };
    // Lifting the block revives nothing: the sessions it ended stay revoked.
    else await users.setBlocked(existing.id, false);
    result.change = 'updated';
  }
  return result;
}
