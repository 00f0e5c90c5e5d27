/**
 * The mfa_token (Auth0's shape): what a password grant decided, held until a
 * second factor completes it. Opaque to clients: the decision sealed under a
 * key derived from the master key (AES-GCM), so every node can open it and
 * no table is needed. It lives 10 minutes, is bound to the client it was
 * issued to, and yields tokens once (its id is consumed across nodes).
 *
 * Both directions live here: `seal(grant)` turns the decision into a token,
 * `grantFromClaims` turns the opened token back into the same decision, with
 * the second factor added to `amr`.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { ApiConfig } from '../config/schema.js';
import type { Sealer } from '../crypto/secrets.js';
import { InvalidGrantError } from '../domain/errors.js';
import type { Grant } from '../domain/grant.js';
import type { SingleUseKeyStore, UserRecord } from '../storage/stores.js';

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

/** The factor an MFA grant used, for the id_token's `amr` (RFC 8176). */
export type UsedFactor = 'otp' | 'email' | 'recovery-code';

/** RFC 8176 method names: a recovery code is knowledge-based (`kba`), an emailed code `mail`, an app's code `otp`. */
const AMR_OF_FACTOR: Record<UsedFactor, string> = { otp: 'otp', email: 'mail', 'recovery-code': 'kba' };

export class MfaTokens {
  constructor(
    private readonly sealer: Sealer,
    private readonly consumed: SingleUseKeyStore,
    private readonly clock: Clock,
  ) {}

  /** The mfa_token of a user's sign-in that waits for a second factor: the grant's decision, for this tenant and client. */
  seal(grant: Grant, tenantId: string, clientId: string): string {
    if (grant.subject.kind !== 'user') throw new TypeError('only a user sign-in waits for a second factor');
    const claims: MfaTokenClaims = {
      jti: randomUUID(),
      tenantId,
      clientId,
      userId: grant.subject.user.id,
      grantType: grant.grantType,
      audience: grant.api?.identifier ?? null,
      scopes: grant.scopes,
      requestedScopes: grant.requestedScopes ?? null,
      authTime: grant.authTime.getTime(),
      refresh: grant.refresh.kind === 'new_family',
      expiresAt: this.clock.now().getTime() + MFA_TOKEN_LIFETIME_SECONDS * 1000,
    };
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
    if (claims.tenantId !== tenantId)
      throw new InvalidGrantError('The mfa_token is malformed.', { logDetail: 'an mfa_token of another tenant' });
    if (clientId !== undefined && claims.clientId !== clientId) {
      throw new InvalidGrantError('The mfa_token was issued to another client.', {
        logDetail: `mfa_token of client ${claims.clientId} presented by ${clientId}`,
      });
    }
    if (claims.expiresAt <= this.clock.now().getTime())
      throw new InvalidGrantError('The mfa_token has expired; sign in with the password again.');
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

/**
 * The sealed decision carried out: exactly what the password grant would
 * have given (the same API, scopes, auth_time and refresh token), its user
 * read again, and `amr` naming the second factor. The API may have left the
 * configuration since the password was checked.
 */
export function grantFromClaims(
  claims: MfaTokenClaims,
  apis: ReadonlyMap<string, ApiConfig>,
  completion: { grantType: string; user: UserRecord; factor: UsedFactor; responseExtra?: Record<string, string> | undefined },
): Grant {
  const api = claims.audience === null ? undefined : apis.get(claims.audience);
  if (claims.audience !== null && !api) throw new InvalidGrantError('The API of this sign-in no longer exists.');
  const { grantType, user, factor, responseExtra } = completion;
  return {
    grantType,
    subject: { kind: 'user', user },
    api,
    scopes: claims.scopes,
    requestedScopes: claims.requestedScopes ?? undefined,
    authTime: new Date(claims.authTime),
    refresh: claims.refresh ? { kind: 'new_family' } : { kind: 'none' },
    // RFC 8176: pwd, then the second factor; "mfa" as Auth0 writes it.
    amr: ['pwd', AMR_OF_FACTOR[factor], 'mfa'],
    ...(responseExtra ? { responseExtra } : {}),
  };
}
