/**
 * The mfa_token (Auth0's shape): what a password grant decided, held until a
 * second factor completes it. Opaque to clients: the decision sealed under a
 * key derived from the master key (AES-GCM), so every node can open it and
 * no table is needed. It lives 10 minutes, is bound to the client it was
 * issued to, and yields tokens once (its id is consumed across nodes).
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Sealer } from '../crypto/secrets.js';
import { InvalidGrantError } from '../domain/errors.js';
import type { SingleUseKeyStore } from '../storage/stores.js';

export const MFA_TOKEN_LIFETIME_SECONDS = 600;

/** The password grant's decision, as the MFA grants will carry it out. */
export interface MfaTokenClaims {
  jti: string;
  tenantId: string;
  clientId: string;
  userId: string;
  /** The password grant's wire name, for events. */
  grantType: string;
  audience: string | null;
  scopes: string[];
  requestedScopes: string[] | null;
  /** Epoch ms of the password check. */
  authTime: number;
  refresh: boolean;
  /** Epoch ms. */
  expiresAt: number;
}

const PREFIX = 'mfa.';

export class MfaTokens {
  constructor(
    private readonly sealer: Sealer,
    private readonly consumed: SingleUseKeyStore,
    private readonly clock: Clock,
  ) {}

  issue(decision: Omit<MfaTokenClaims, 'jti' | 'expiresAt'>): string {
    const claims: MfaTokenClaims = { ...decision, jti: randomUUID(), expiresAt: this.clock.now().getTime() + MFA_TOKEN_LIFETIME_SECONDS * 1000 };
    return `${PREFIX}${this.sealer.seal(JSON.stringify(claims))}`;
  }

  /** Opens a token for this tenant and client; anything else is invalid_grant, with the cause for the log only. */
  open(token: string | undefined, tenantId: string, clientId: string | undefined): MfaTokenClaims {
    if (token === undefined) throw new InvalidGrantError('The mfa_token is missing; send the mfa_token from the mfa_required answer.');
    let claims: MfaTokenClaims;
    try {
      if (!token.startsWith(PREFIX)) throw new Error('no prefix');
      claims = JSON.parse(this.sealer.unseal(token.slice(PREFIX.length))) as MfaTokenClaims;
    } catch {
      throw new InvalidGrantError('The mfa_token is malformed.', { logDetail: 'an mfa_token that does not open under this master key' });
    }
    if (claims.tenantId !== tenantId) throw new InvalidGrantError('The mfa_token is malformed.', { logDetail: 'an mfa_token of another tenant' });
    if (clientId !== undefined && claims.clientId !== clientId) {
      throw new InvalidGrantError('The mfa_token was issued to another client.', { logDetail: `mfa_token of client ${claims.clientId} presented by ${clientId}` });
    }
    if (claims.expiresAt <= this.clock.now().getTime()) throw new InvalidGrantError('The mfa_token has expired; sign in with the password again.');
    return claims;
  }

  /** Whether a bearer value is an mfa_token (rather than an access token). */
  static looksLikeMfaToken(token: string): boolean {
    return token.startsWith(PREFIX);
  }

  /** Refuses a token already spent before any code is checked, so a late request does not burn the user's current code. */
  async assertUnused(claims: MfaTokenClaims): Promise<void> {
    if (await this.consumed.isConsumed(`mfa-token:${claims.jti}`, this.clock.now())) {
      throw new InvalidGrantError('The mfa_token has already been used; sign in with the password again.');
    }
  }

  /** Spends the token: the first caller wins, every later use (on any node) is invalid_grant. */
  async consume(claims: MfaTokenClaims): Promise<void> {
    const first = await this.consumed.consume(`mfa-token:${claims.jti}`, new Date(claims.expiresAt), this.clock.now());
    if (!first) throw new InvalidGrantError('The mfa_token has already been used; sign in with the password again.');
  }
}
