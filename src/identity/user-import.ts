/**
 * Importing users from Auth0's user-import file, row by row: the same code
 * behind `POST /api/v2/jobs/users-imports` (oauth/management/import-jobs.ts)
 * and `latchkey users import`.
 *
 * - Rows run `concurrency` at a time, the hash queue's: plaintext passwords
 *   are hashed on its background lane, so an import uses the cores sign-ins
 *   leave idle and never sheds or queues ahead of a sign-in.
 * - `upsert` as Auth0 has it: an existing user (same user_id, else same
 *   login name or email in the connection) is updated; without upsert the
 *   row fails with DUPLICATED_USER. Auth0: an email that is added or changed
 *   without `email_verified: true` is unverified.
 * - A changed password or a new block ends the user's sessions as every
 *   other path does (account-lifecycle.ts); a password the connection's
 *   policy refuses fails its row and is recorded, as at creation.
 * - Every refused row is reported with its errors (row and key named),
 *   without secrets; the rest of the file goes on.
 */
import type { Clock } from '../clock.js';
import type { Tenant } from '../domain/tenant.js';
import { loginKey } from '../domain/login-key.js';
import type { ImportJobCounts, ImportJobRowError } from '../storage/import-jobs.js';
import type { ConnectionRecord, UserRecord, UserStore } from '../storage/stores.js';
import type { AccountChangeSource, AccountLifecycle } from './account-lifecycle.js';
import type { HashQueue } from './hash-queue.js';
import { hashPassword, verifyPassword } from './passwords.js';
import {
  PasswordPolicyError,
  storedHashFor,
  updateUser,
  UserAdminError,
  type PasswordHashing,
  type UserInput,
  type UserTarget,
} from './user-admin.js';
import { checkImportRow, rowWithoutSecrets, type ImportRow, type ImportRowError } from './user-import-file.js';
import type { SessionStores } from './user-sessions.js';

export interface UserImportDeps extends SessionStores {
  users: UserStore & SessionStores['users'];
  accounts: Pick<AccountLifecycle, 'passwordChanged' | 'blocked' | 'recordPolicyRefusal'>;
  hashQueue: Pick<HashQueue, 'concurrency' | 'runInBackground'>;
  clock: Clock;
}

/** A refused row: Auth0's `{user, errors}` and its position in the file. */
export type ImportFailure = ImportJobRowError & { index: number };

export interface ImportProgress {
  counts: ImportJobCounts;
  /** The first refused rows so far, in file order, at most `maxReportedFailures`. */
  failures: readonly ImportFailure[];
}

export interface ImportOptions {
  upsert: boolean;
  /** Who imports: the reason of the security events a changed password or a block records. */
  source: AccountChangeSource;
  /** How many refused rows to keep with their errors (all are counted). */
  maxReportedFailures?: number;
  /** After every row; awaited, so a slow writer slows the import rather than piling up. */
  onProgress?: (progress: ImportProgress) => Promise<void> | void;
  /** Stops taking new rows (the rows already running finish). */
  signal?: AbortSignal;
}

export interface ImportOutcome extends ImportProgress {
  /** The signal stopped the import before every row ran. */
  stopped: boolean;
}

/** Where rows go: the tenant and a database connection. */
export interface ImportTarget {
  tenant: Tenant;
  connection: ConnectionRecord;
}

type RowResult = { kind: 'inserted' | 'updated' } | { kind: 'failed'; errors: ImportRowError[] };

const rowFailure = (index: number, code: string, message: string, key?: string): RowResult => ({
  kind: 'failed',
  errors: [{ code, message, path: key === undefined ? `[${index}]` : `[${index}].${key}` }],
});

export class UserImporter {
  private readonly hashing: PasswordHashing;

  constructor(private readonly deps: UserImportDeps) {
    const queue = deps.hashQueue;
    this.hashing = {
      hash: (password) => queue.runInBackground(() => hashPassword(password)),
      verify: (password, storedHash) => queue.runInBackground(() => verifyPassword(password, storedHash)),
    };
  }

  /** Imports `rows` (the file's array, each row still unchecked) into the target connection. */
  async importRows(target: ImportTarget, rows: readonly unknown[], options: ImportOptions): Promise<ImportOutcome> {
    const counts: ImportJobCounts = { total: rows.length, inserted: 0, updated: 0, failed: 0 };
    const failures: ImportFailure[] = [];
    const maxFailures = options.maxReportedFailures ?? Number.POSITIVE_INFINITY;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < rows.length && options.signal?.aborted !== true) {
        const index = next++;
        const result = await this.importRow(target, rows[index], index, options);
        if (result.kind === 'failed') {
          counts.failed++;
          keepFirst(failures, { index, user: rowWithoutSecrets(rows[index]), errors: result.errors }, maxFailures);
        } else counts[result.kind]++;
        await options.onProgress?.({ counts: { ...counts }, failures });
      }
    };
    const workers = Math.max(1, Math.min(this.deps.hashQueue.concurrency, rows.length));
    await Promise.all(Array.from({ length: workers }, worker));
    return { counts, failures, stopped: next < rows.length };
  }

  private async importRow(target: ImportTarget, raw: unknown, index: number, options: ImportOptions): Promise<RowResult> {
    const check = checkImportRow(raw, index);
    if (!check.ok) return { kind: 'failed', errors: check.errors };
    const { row } = check;
    try {
      const existing = await this.existingUser(target, row);
      if (existing === 'elsewhere')
        return rowFailure(index, 'DUPLICATED_USER', 'user_id belongs to a user of another connection', 'user_id');
      if (existing && !options.upsert) return rowFailure(index, 'DUPLICATED_USER', 'user already exists (upsert is off)');
      const result = existing ? await this.update(target, existing, row, options.source) : await this.insert(target, row);
      return result ?? rowFailure(index, 'DUPLICATED_USER', 'user already exists (imported at the same time, or its user_id is taken)');
    } catch (err) {
      if (err instanceof PasswordPolicyError) {
        await this.deps.accounts.recordPolicyRefusal(target.tenant, target.connection, row.username, err, 'import');
        return rowFailure(index, 'PASSWORD_POLICY', err.message, 'password');
      }
      if (err instanceof UserAdminError) return rowFailure(index, 'INVALID_FORMAT', err.message);
      throw err;
    }
  }

  /** The user a row names: by user_id, else by its login name or email in the connection. */
  private async existingUser({ tenant, connection }: ImportTarget, row: ImportRow): Promise<UserRecord | 'elsewhere' | undefined> {
    const { users } = this.deps;
    if (row.id !== undefined) {
      const byId = await users.findById(tenant.id, row.id);
      if (byId) return byId.connectionId === connection.id ? byId : 'elsewhere';
    }
    const byLogin = await users.findByLogin(tenant.id, connection.id, row.username);
    if (byLogin || row.email === undefined || row.email === row.username) return byLogin;
    return users.findByLogin(tenant.id, connection.id, row.email);
  }

  /** Undefined when the insert lost to a user created meanwhile (the same login name twice in a file) or a taken id. */
  private async insert({ tenant, connection }: ImportTarget, row: ImportRow): Promise<RowResult | undefined> {
    const input = userInputOf(row);
    const target = targetOf(tenant, connection);
    // Auth0 imports users without a password: they set one through a password reset.
    const passwordHash =
      input.password === undefined && input.passwordHash === undefined ? null : await storedHashFor(input, target.policy, this.hashing);
    const { password: _password, passwordHash: _imported, ...profile } = input;
    const created = await this.deps.users.create({ ...profile, tenantId: tenant.id, connectionId: connection.id, passwordHash });
    if (!created) return undefined;
    await this.storeMetadata(created, row);
    return { kind: 'inserted' };
  }

  private async update(
    { tenant, connection }: ImportTarget,
    existing: UserRecord,
    row: ImportRow,
    source: AccountChangeSource,
  ): Promise<RowResult> {
    const input = userInputOf(row);
    const emailChanges = input.email !== undefined && (existing.email === null || loginKey(existing.email) !== loginKey(input.email));
    // Auth0: an email added or changed by an import is unverified unless the row says otherwise.
    if (emailChanges && input.emailVerified === undefined) input.emailVerified = false;
    const { accounts, clock } = this.deps;
    const result = await updateUser(this.deps, targetOf(tenant, connection), existing, input, clock.now(), this.hashing);
    if (result.passwordChanged)
      await accounts.passwordChanged(tenant, connection, existing, result.passwordChanged.refreshTokensRevoked, source);
    if (result.blocked) await accounts.blocked(tenant, connection, existing, result.blocked.refreshTokensRevoked, source);
    await this.storeMetadata(existing, row);
    return { kind: 'updated' };
  }

  /** The one place metadata reaches the user: each of user_metadata and app_metadata replaced when the row gives it. */
  private async storeMetadata(user: Pick<UserRecord, 'id'>, row: ImportRow): Promise<void> {
    if (row.userMetadata === undefined && row.appMetadata === undefined) return;
    await this.deps.users.setMetadata(user.id, { userMetadata: row.userMetadata, appMetadata: row.appMetadata });
  }
}

function userInputOf(row: ImportRow): UserInput {
  const { index: _index, userMetadata: _user, appMetadata: _app, ...input } = row;
  return input;
}

function targetOf(tenant: Tenant, connection: ConnectionRecord): UserTarget {
  return { tenantId: tenant.id, connectionId: connection.id, policy: connection.passwordPolicy };
}

/** Keeps the `max` refused rows that come first in the file, whatever order the workers finish in. */
function keepFirst(failures: ImportFailure[], failure: ImportFailure, max: number): void {
  if (failures.length >= max && (failures.at(-1)?.index ?? -1) < failure.index) return;
  const at = failures.findIndex((kept) => kept.index > failure.index);
  failures.splice(at === -1 ? failures.length : at, 0, failure);
  if (failures.length > max) failures.pop();
}
