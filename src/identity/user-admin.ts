/**
 * User administration shared by config apply and the CLI: one place that
 * decides how passwords and imported hashes become stored hashes.
 */
import { hashPassword, isSupportedPasswordHash, verifyPassword } from './passwords.js';
import type { NewUser, UserRecord, UserStore } from '../storage/stores.js';

/** A user as an operator declares it: the stored fields, with a password or an imported hash. */
export type UserInput = Omit<NewUser, 'tenantId' | 'connectionId' | 'passwordHash'> & {
  password?: string | undefined;
  passwordHash?: string | undefined;
};

export class UserAdminError extends Error {
  override name = 'UserAdminError';
}

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

export function checkNewPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new UserAdminError(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > MAX_PASSWORD_LENGTH) throw new UserAdminError(`the password must have at most ${MAX_PASSWORD_LENGTH} characters`);
}

async function storedHashFor(input: UserInput): Promise<string> {
  if (input.passwordHash !== undefined) {
    if (!isSupportedPasswordHash(input.passwordHash)) throw new UserAdminError('password_hash must be an argon2 ($argon2id$…) or bcrypt ($2b$…) hash');
    return input.passwordHash;
  }
  if (input.password === undefined) throw new UserAdminError('give a password or a password_hash');
  checkNewPassword(input.password);
  return hashPassword(input.password);
}

export async function createUser(users: UserStore, tenantId: string, connectionId: string, input: UserInput): Promise<UserRecord> {
  const { password: _password, passwordHash: _imported, ...profile } = input;
  const created = await users.create({ ...profile, tenantId, connectionId, passwordHash: await storedHashFor(input) });
  if (!created) throw new UserAdminError(`a user "${input.username}" already exists in that connection`);
  return created;
}

/**
 * Config apply: creates the user, or brings a declared one up to date. The
 * password is rehashed only when it no longer verifies, so restarts are
 * idempotent and do not churn hashes.
 */
export async function upsertDeclaredUser(users: UserStore, tenantId: string, connectionId: string, input: UserInput): Promise<'created' | 'updated' | 'unchanged'> {
  const existing = await users.findByLogin(tenantId, connectionId, input.username);
  if (!existing || existing.username.normalize('NFKC').toLowerCase() !== input.username.normalize('NFKC').toLowerCase()) {
    await createUser(users, tenantId, connectionId, input);
    return 'created';
  }
  let changed = false;
  const profile = { email: input.email, emailVerified: input.emailVerified, name: input.name, givenName: input.givenName, familyName: input.familyName };
  const differs =
    (profile.email !== undefined && profile.email !== existing.email) ||
    (profile.emailVerified !== undefined && profile.emailVerified !== existing.emailVerified) ||
    (profile.name !== undefined && profile.name !== existing.name) ||
    (profile.givenName !== undefined && profile.givenName !== existing.givenName) ||
    (profile.familyName !== undefined && profile.familyName !== existing.familyName);
  if (differs) {
    await users.updateProfile(existing.id, profile);
    changed = true;
  }
  if (input.passwordHash !== undefined && input.passwordHash !== existing.passwordHash) {
    await users.setPasswordHash(existing.id, await storedHashFor(input), { passwordChanged: true });
    changed = true;
  } else if (input.password !== undefined) {
    const check = existing.passwordHash === null ? { valid: false } : await verifyPassword(input.password, existing.passwordHash);
    if (!check.valid) {
      await users.setPasswordHash(existing.id, await storedHashFor(input), { passwordChanged: true });
      changed = true;
    }
  }
  if (input.blocked !== undefined && input.blocked !== existing.blocked) {
    await users.setBlocked(existing.id, input.blocked);
    changed = true;
  }
  return changed ? 'updated' : 'unchanged';
}

export async function setUserPassword(users: UserStore, user: UserRecord, password: string): Promise<void> {
  checkNewPassword(password);
  await users.setPasswordHash(user.id, await hashPassword(password), { passwordChanged: true });
}
