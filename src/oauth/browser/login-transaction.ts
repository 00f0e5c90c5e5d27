/**
 * A sign-in in progress in the browser: what the person is signing in for
 * (an authorization request, or a device waiting at the verification page),
 * carried from page to page as one opaque value, as Auth0's `state` of its
 * hosted login is. Sealed (AES-GCM under a key derived from the master key),
 * so every node can open it, nobody can alter it, and no table is needed.
 */
import type { Clock } from '../../clock.js';
import type { Sealer } from '../../crypto/secrets.js';
import { InvalidRequestError } from '../../domain/errors.js';

/** An hour to type a password and a code: longer than any sign-in, shorter than a forgotten tab. */
export const LOGIN_TRANSACTION_LIFETIME_SECONDS = 3600;

export type SignInPurpose =
  /** The authorization request's query string, validated again when the sign-in completes. */
  | { kind: 'authorize'; query: string }
  /** A device authorization (its record's id) the person is about to confirm or deny. */
  | { kind: 'device'; deviceId: string };

export interface LoginTransaction {
  tenantId: string;
  clientId: string;
  purpose: SignInPurpose;
  /** Prefills the username (OIDC `login_hint`). */
  loginHint?: string;
  /** `login`: show the sign-in form even to a signed-in browser (a device approval that needs a sign-in with a second factor). */
  prompt?: 'login';
  /** Epoch ms. A session satisfies `prompt=login` and `max_age` only if it signed in after this. */
  startedAt: number;
  /** Epoch ms. */
  expiresAt: number;
}

const PREFIX = 'tx.';

export class LoginTransactions {
  constructor(
    private readonly sealer: Sealer,
    private readonly clock: Clock,
  ) {}

  begin(fields: Omit<LoginTransaction, 'startedAt' | 'expiresAt'>): LoginTransaction {
    const now = this.clock.now().getTime();
    return { ...fields, startedAt: now, expiresAt: now + LOGIN_TRANSACTION_LIFETIME_SECONDS * 1000 };
  }

  seal(transaction: LoginTransaction): string {
    return `${PREFIX}${this.sealer.seal(JSON.stringify(transaction))}`;
  }

  /** The transaction, for this tenant and still in time; anything else is the same plain sentence for the page. */
  open(sealed: string | undefined, tenantId: string): LoginTransaction {
    const refused = (logDetail: string) =>
      new InvalidRequestError('This sign-in link is no longer valid; go back to the application and start again.', { logDetail });
    if (sealed === undefined) throw refused('a sign-in page without its transaction');
    let transaction: LoginTransaction;
    try {
      if (!sealed.startsWith(PREFIX)) throw new Error('no prefix');
      transaction = JSON.parse(this.sealer.unseal(sealed.slice(PREFIX.length))) as LoginTransaction;
    } catch {
      throw refused('a sign-in transaction that does not open under this master key');
    }
    if (transaction.tenantId !== tenantId) throw refused('a sign-in transaction of another tenant');
    if (transaction.expiresAt <= this.clock.now().getTime()) throw refused('an expired sign-in transaction');
    return transaction;
  }
}
