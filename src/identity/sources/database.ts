/**
 * Users stored in Latchkey (`type: database` connections).
 */
import { ipCounterKey } from '../../domain/ip.js';
import { hashPassword, verifyPassword } from '../passwords.js';
import type { HashQueue } from '../hash-queue.js';
import type { UserStore } from '../../storage/stores.js';
import type { CredentialResult, CredentialSource } from '../credential-source.js';

export class DatabaseCredentialSource implements CredentialSource {
  readonly type = 'database';

  private constructor(
    private readonly users: UserStore,
    private readonly hashQueue: HashQueue,
    /** A real argon2id hash of a random password: unknown users cost one full verify. */
    private readonly dummyHash: string,
    private readonly onRehashError: (err: unknown) => void,
  ) {}

  static async create(users: UserStore, hashQueue: HashQueue, onRehashError: (err: unknown) => void): Promise<DatabaseCredentialSource> {
    const dummy = await hashPassword(`dummy-${Math.random()}-${Date.now()}`);
    return new DatabaseCredentialSource(users, hashQueue, dummy, onRehashError);
  }

  async verify(input: {
    tenantId: string;
    connectionId: string;
    username: string;
    password: string;
    ip?: string;
  }): Promise<CredentialResult> {
    const user = await this.users.findByLogin(input.tenantId, input.connectionId, input.username);
    const storedHash = user?.passwordHash ?? this.dummyHash;
    // Always one verification, whether or not the user exists, so timing tells nothing. Queued under the end-user
    // IP as its counters key it (IPv6 by /64), so one IP cannot hold more than its share of the queue.
    const check = await this.hashQueue.run(
      () => verifyPassword(input.password, storedHash),
      input.ip === undefined ? undefined : ipCounterKey(input.ip),
    );
    if (!user) return { outcome: 'rejected', reason: 'unknown_user' };
    if (user.passwordHash === null) return { outcome: 'rejected', reason: 'no_password', userId: user.id };
    if (!check.valid) return { outcome: 'rejected', reason: 'wrong_password', userId: user.id };
    if (check.needsRehash) this.rehashInBackground(user.id, user.passwordHash, input.password);
    return { outcome: 'verified', user };
  }

  /** Upgrades imported or outdated hashes; the login does not wait for it. */
  private rehashInBackground(userId: string, oldHash: string, password: string): void {
    this.hashQueue
      .run(() => hashPassword(password))
      .then((fresh) => this.users.setPasswordHash(userId, fresh, { expectedHash: oldHash }))
      .catch(this.onRehashError);
  }
}
